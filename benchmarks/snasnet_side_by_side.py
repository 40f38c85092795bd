"""neuronas's scoring network next to SNASNet's own code, on identical weights and batches.

SNASNet's code is not a dependency and none of it is part of neuronas: point this script at your own
checkout of https://github.com/Intelligent-Computing-Lab-Yale/Neural-Architecture-Search-for-Spiking-Neural-Networks
(kept outside this repository). It imports that checkout's ``model_snn.SNASNet`` unmodified; the
script only makes it run here: ``spikingjelly.clock_driven`` (SpikingJelly < 0.0.0.0.14) is mapped to
``spikingjelly.activation_based`` (single-step by default, the same neurons) and ``.cuda()`` to a
no-op, so everything runs on the CPU.

Usage:
    python benchmarks/snasnet_side_by_side.py fidelity --snasnet PATH [--cells forward|backward]
        [--samples 32] [--archs 3] [--seed 0] [--batchnorm per-step|pooled]
    python benchmarks/snasnet_side_by_side.py speed --snasnet PATH [--samples 64] [--candidates 3]

``fidelity``: for each architecture (SNASNet's own ``connection_matrix_gen`` draws the connection
matrix; the cell is used for A and B, as SNASNet does), neuronas builds its network (seeded, 8-bit
weights), the same weights are loaded strictly into SNASNet's module tree (every tensor has a
counterpart), SNASNet's dropout is given neuronas's mask, and both run the same R = 2 batches with
membranes carried from one batch to the next. It prints, per architecture, how many spike-code bits
differ between the two networks over every LIF layer and timestep, neuronas's score, and SNASNet's
formula evaluated on SNASNet's own codes in float64 and in float32 (as SNASNet computes it), with
the relative differences.

``speed`` (1 thread, each tool in its own process so that its peak memory is its own): SNASNet's
network scores ``--candidates`` candidates of one fixed architecture and as many of SNASNet's own
random draws (``connection_matrix_gen``), as its search loop does: R = 2 batches without a reset,
every LIF call's codes turned into the kernel with its float32 formula (``find_best_neuroncell``
itself fixes S = 256 and reads a DataLoader; the loop is restated here so that S can be chosen);
neuronas scores the same fixed architecture from scratch and, to time a whole two-phase search
with exact reuse over NeuroNAS's 3-op space on the same network, ``--candidates`` x 8 candidates of
each phase drawn at random and scored in Algorithm 1's order (consecutive candidates of the real
search share more than a random sample does, so this overestimates a phase). It prints seconds per candidate,
peak resident memory, and the whole-search ratio: SNASNet's 5000 random candidates against 729 +
728 two-phase candidates, both extrapolated from the timed ones.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import types
from pathlib import Path

import attrs
import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from torch import nn

from neuronas.arch import Architecture, Cell, Macro, back_edges_of
from neuronas.data import sample_batches, synthetic_split
from neuronas.fitness import HammingLogDet, lif_layers
from neuronas.plugin import get_component
from neuronas.snn.network import SequenceDropout

#: SNASNet's operation numbers in its connection matrix.
OPS = ("zero", "skip", "conv1x1", "conv3x3", "avgpool3x3")
#: SNASNet's edge order inside a cell: forward edges by target, then by source.
FORWARD_ORDER = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
#: SNASNet's ``--dataset cifar100`` network: width 128, 100 classes, 5 output neurons per class.
SNASNET_CIFAR100 = {"width": 128, "classes": 100, "population": 5, "hidden": 1024}


def import_snasnet(checkout: Path) -> types.ModuleType:
    """``model_snn`` from a SNASNet checkout, on the CPU and on SpikingJelly 2's neurons."""
    from spikingjelly import activation_based

    if not (checkout / "model_snn.py").is_file():
        raise SystemExit(f"{checkout} has no model_snn.py; pass your SNASNet checkout")
    sys.modules.setdefault("spikingjelly.clock_driven", activation_based)
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    nn.Module.cuda = lambda self, *args, **kwargs: self
    sys.path.insert(0, str(checkout))
    return importlib.import_module("model_snn")


def snasnet_args(celltype: str) -> argparse.Namespace:
    return argparse.Namespace(
        dataset="cifar100", timestep=5, tau=4.0 / 3.0, threshold=1.0, celltype=celltype,
        second_avgpooling=2,
    )  # fmt: skip


def cell_from_matrix(matrix: torch.Tensor) -> Cell:
    """A neuronas cell from a SNASNet connection matrix ([i, j] for i < j forward, i > j backward)."""
    forward = [OPS[int(matrix[i, j])] for i in range(4) for j in range(i + 1, 4)]
    back = [OPS[int(matrix[j, i])] for j, i in back_edges_of(4)]
    return Cell(forward, back if any(op != "zero" for op in back) else ())


def matrix_from_cell(cell: Cell) -> torch.Tensor:
    matrix = torch.zeros(4, 4, dtype=torch.long)
    for i, j, op in cell.items():
        matrix[i, j] = OPS.index(op)
    for j, i, op in cell.back_items():
        matrix[j, i] = OPS.index(op)
    return matrix


def pruned_matrix(matrix: torch.Tensor) -> torch.Tensor | None:
    """SNASNet's pruning rule restated: a node that cannot reach node 3, or that node 0 cannot
    reach, loses its edges (either direction); None when the direct edge 0 -> 3 is then zero."""
    links = (matrix > 0).to(torch.long)
    paths = sum(torch.linalg.matrix_power(links, power) for power in range(1, 5))
    pruned = matrix.clone()
    dead = [n for n in range(3) if paths[n, 3] == 0] + [n for n in range(1, 4) if paths[0, n] == 0]
    for node in dead:
        pruned[node, :] = 0
        pruned[:, node] = 0
    return pruned if pruned[0, 3] != 0 else None


def state_dict_for_snasnet(ours: dict[str, torch.Tensor], cell: Cell) -> dict[str, torch.Tensor]:
    """neuronas's tensors under SNASNet's module names (their cells share one matrix)."""
    rename = {
        "stem.conv": "stem.0",
        "stem.bn": "stem.1",
        "downsample.bn_in": "downconv1.0",
        "downsample.conv": "downconv1.2",
        "downsample.bn": "downconv1.3",
        "head.bn": "last_act.0",
        "classifier.hidden": "classifier.1",
        "classifier.out": "classifier.3",
    }
    for ours_cell, theirs_cell in (("cell_a", "cell1"), ("cell_b", "cell2")):
        for index, (i, j) in enumerate(FORWARD_ORDER):
            for part, slot in (("conv", 1), ("bn", 2)):
                rename[f"{ours_cell}.edges.e{i}_{j}.{part}"] = (
                    f"{theirs_cell}.cell_architecture.{index}.{slot}"
                )
        for index, (j, i) in enumerate(back_edges_of(cell.nodes)):
            for part, slot in (("conv", 1), ("bn", 2)):
                rename[f"{ours_cell}.back_edges.b{j}_{i}.{part}"] = (
                    f"{theirs_cell}.cell_architecture_back.{index}.{slot}"
                )
    converted = {}
    for key, value in ours.items():
        module, _, tensor = key.rpartition(".")
        converted[f"{rename[module]}.{tensor}"] = value
    return converted


def lif_names_for_snasnet(cell: Cell) -> dict[str, str]:
    """neuronas LIF module name -> SNASNet's."""
    names = {
        "downsample.lif": "downconv1.1",
        "head.lif": "last_act.1",
        "classifier.lif": "classifier.2",
    }
    for ours_cell, theirs_cell in (("cell_a", "cell1"), ("cell_b", "cell2")):
        for index, (i, j) in enumerate(FORWARD_ORDER):
            names[f"{ours_cell}.edges.e{i}_{j}.lif"] = f"{theirs_cell}.cell_architecture.{index}.0"
        for index, (j, i) in enumerate(back_edges_of(cell.nodes)):
            names[f"{ours_cell}.back_edges.b{j}_{i}.lif"] = (
                f"{theirs_cell}.cell_architecture_back.{index}.0"
            )
    return names


class CodeRecorder:
    """Every LIF output of a model as 0/1 codes per timestep, by layer name, in call order."""

    def __init__(self, model: nn.Module, multi_step: bool) -> None:
        self.codes: dict[str, list[torch.Tensor]] = {}
        self.handles = []
        for name, module in model.named_modules():
            if type(module).__name__ == "LIFNode":
                self.handles.append(module.register_forward_hook(self._hook(name, multi_step)))

    def _hook(self, name: str, multi_step: bool):
        def record(_module, _inputs, output):
            steps = output if multi_step else output.unsqueeze(0)
            self.codes.setdefault(name, []).extend(
                step.reshape(step.shape[0], -1) > 0 for step in steps
            )

        return record

    def take(self) -> dict[str, list[torch.Tensor]]:
        codes, self.codes = self.codes, {}
        return codes

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()


def snasnet_formula(codes: list[torch.Tensor], dtype: torch.dtype) -> float:
    """SNASNet's kernel (sum over LIF calls of N - 0.5 / (E + 1e-3) * Hamming), averaged, log|det|."""
    kernel = None
    for code in codes:
        x = code.to(dtype)
        neurons = x.shape[1]
        rate = (x.sum(1) / neurons).unsqueeze(1)
        expected = (rate @ (1 - rate.T) + (1 - rate) @ rate.T) * neurons
        distance = x @ (1 - x.T) + (1 - x) @ x.T
        term = neurons - 0.5 / (expected + 1e-3) * distance
        kernel = term.double() if kernel is None else kernel + term.double()
    return float(np.linalg.slogdet((kernel / len(codes)).numpy())[1])


def fidelity(args: argparse.Namespace) -> None:
    model_snn = import_snasnet(args.snasnet)
    celltype = args.cells
    space = get_component("space", "snasnet" if celltype == "forward" else "snasnet-backward")
    torch.manual_seed(args.seed)
    split = synthetic_split("train", (3, 32, 32), 10, max(2 * args.samples, 64), args.seed)
    batches = sample_batches(split, args.samples, 2, args.seed)
    macro = Macro(
        width=SNASNET_CIFAR100["width"],
        num_classes=SNASNET_CIFAR100["classes"],
        population=SNASNET_CIFAR100["population"],
        hidden=SNASNET_CIFAR100["hidden"],
        dropout=0.5,
        weight_init="snasnet",
        batchnorm=args.batchnorm,
    )
    title = f"{celltype} cells, S = {args.samples}, R = 2, T = 5, FxP8 weights, BN {args.batchnorm}"
    table = Table(title=title)
    for column in (
        "cell", "code bits", "bits differing", "neuronas score", "SNASNet formula f64",
        "rel. diff", "SNASNet f32 (as run)", "f32 rel. diff",
    ):  # fmt: skip
        table.add_column(column, justify="right" if column != "cell" else "left")
    drawn = 0
    while drawn < args.archs:
        matrix = pruned_matrix(model_snn.connection_matrix_gen(snasnet_args(celltype)))
        if matrix is None:
            continue
        cell = cell_from_matrix(matrix)
        arch = space.check(Architecture(cell, cell, macro))
        if celltype == "backward" and not arch.cell_a.back and args.archs > 1 and drawn == 0:
            continue  # make the first backward example one with feedback edges
        if not torch.equal(matrix_from_cell(arch.cell_a), matrix):
            raise SystemExit(f"pruning differs: SNASNet {matrix.tolist()}, neuronas {arch.cell_a}")
        drawn += 1
        table.add_row(*compare(model_snn, space, arch, celltype, batches))
    Console(width=250).print(table)


def compare(model_snn, space, arch: Architecture, celltype: str, batches) -> list[str]:
    ours = space.build(arch, seed=0)
    get_component("quantizer", "fixed-point").quantize(ours, 8)
    theirs = model_snn.SNASNet(snasnet_args(celltype), matrix_from_cell(arch.cell_a))
    theirs.load_state_dict(state_dict_for_snasnet(ours.state_dict(), arch.cell_a), strict=True)
    ours_codes = CodeRecorder(ours, multi_step=True)
    theirs_codes = CodeRecorder(theirs, multi_step=False)
    score = HammingLogDet().score(ours, batches, carry_state=True)
    ours_recorded = ours_codes.take()
    mask = next(m for m in ours.modules() if isinstance(m, SequenceDropout))
    snasnet_dropout = theirs.classifier[0]
    features = ours.classifier.hidden.in_features
    snasnet_dropout.mask = mask.create_mask(torch.zeros(batches[0].shape[0], features))
    theirs.train()
    f64, f32, per_batch_codes = [], [], []
    with torch.no_grad():
        for batch in batches:
            theirs(batch)
            codes = theirs_codes.take()
            per_batch_codes.append(codes)
            ordered = [c for name in codes for c in codes[name]]
            f64.append(snasnet_formula(ordered, torch.float64))
            f32.append(snasnet_formula(ordered, torch.float32))
    names = lif_names_for_snasnet(arch.cell_a)
    bits = differing = 0
    for our_name, our_codes in ours_recorded.items():
        their_name = names[our_name]
        their_codes = [c for codes in per_batch_codes for c in codes[their_name]]
        for mine, other in zip(our_codes, their_codes, strict=True):
            bits += mine.numel()
            differing += int((mine != other).sum())
    assert len(lif_layers(ours)) == len(ours_recorded)
    theirs_f64, theirs_f32 = float(np.mean(f64)), float(np.mean(f32))
    return [
        str(arch.cell_a),
        f"{bits:,}",
        f"{differing:,}",
        f"{score.value:.10f}",
        f"{theirs_f64:.10f}",
        f"{abs(score.value - theirs_f64) / abs(theirs_f64):.1e}",
        f"{theirs_f32:.6f}",
        f"{abs(theirs_f32 - theirs_f64) / abs(theirs_f64):.1e}",
    ]


def _speed_part(args: argparse.Namespace) -> dict[str, float]:
    """One tool's timings in this process (``--part``), as JSON-ready numbers."""
    import resource
    import time

    from neuronas.contracts import ScoringSettings
    from neuronas.reuse import ReuseScorer
    from neuronas.search.evaluator import CandidateScorer

    space = get_component("space", "snasnet")
    matrix = torch.tensor([[0, 3, 1, 3], [0, 0, 4, 1], [0, 0, 0, 3], [0, 0, 0, 0]])
    cell = cell_from_matrix(matrix)
    split = synthetic_split("train", (3, 32, 32), 10, max(4 * args.samples, 256), args.seed)
    timings: dict[str, float] = {}
    if args.part == "snasnet":
        model_snn = import_snasnet(args.snasnet)
        batches = sample_batches(split, args.samples, 2, args.seed)

        def score(candidate: torch.Tensor) -> None:
            net = model_snn.SNASNet(snasnet_args("forward"), candidate)
            recorder = CodeRecorder(net, multi_step=False)
            with torch.no_grad():
                for batch in batches:  # no reset between the batches, as in SNASNet's loop
                    net(batch)
                    snasnet_formula([c for codes in recorder.take().values() for c in codes],
                                    torch.float32)  # fmt: skip
            recorder.close()

        started = time.perf_counter()
        for _ in range(args.candidates):
            score(matrix)
        timings["fixed"] = (time.perf_counter() - started) / args.candidates
        drawn = []
        while len(drawn) < args.candidates:
            candidate = pruned_matrix(model_snn.connection_matrix_gen(snasnet_args("forward")))
            if candidate is not None:
                drawn.append(candidate)
        started = time.perf_counter()
        for candidate in drawn:
            score(candidate)
        timings["random"] = (time.perf_counter() - started) / args.candidates
        timings["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    else:
        macro = Macro(width=128, num_classes=100, population=5, hidden=1024, dropout=0.5,
                      weight_init="snasnet")  # fmt: skip
        batches = tuple(sample_batches(split, args.samples, 2, args.seed))
        settings = ScoringSettings(
            space="snasnet", fitness="hamming-logdet", quantizer="fixed-point", weight_bits=32,
            rounding="nearest", seed=0, init="shared", carry_state=True, batches=batches,
        )  # fmt: skip
        arch = space.check(Architecture(cell, cell, macro)).to_string()
        scratch = CandidateScorer(settings)
        started = time.perf_counter()
        for _ in range(args.candidates):
            scratch(arch)
        timings["fixed"] = (time.perf_counter() - started) / args.candidates
        timings["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        three_op = get_component("space", "neuronas-3op")
        reuse = ReuseScorer(attrs.evolve(settings, space="neuronas-3op"))
        cells = list(three_op.enumerate())
        count = 8 * args.candidates
        rng = np.random.default_rng(args.seed)
        sample = sorted(rng.choice(len(cells), count, replace=False))  # in Algorithm 1's order
        chosen = cells[int(rng.integers(len(cells)))]  # a phase-1 winner stands in for A*
        for phase, pairs in (
            ("phase1", [(cells[i], cells[i]) for i in sample]),
            ("phase2", [(chosen, cells[i]) for i in sample]),
        ):
            keys = [Architecture(a, b, macro).to_string() for a, b in pairs]
            started = time.perf_counter()
            for group in reuse.groups(keys):
                list(reuse.iter_group(group))
            timings[phase] = (time.perf_counter() - started) / count
        timings["reuse_peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return timings


def speed(args: argparse.Namespace) -> None:
    import json
    import subprocess

    results = {}
    for part in ("snasnet", "neuronas"):
        command = [sys.executable, __file__, "speed", "--part", part, "--snasnet", str(args.snasnet),
                   "--samples", str(args.samples), "--candidates", str(args.candidates)]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"{part} failed:\n{done.stderr}")
        results[part] = json.loads(done.stdout.strip().splitlines()[-1])
    theirs, ours = results["snasnet"], results["neuronas"]
    table = Table(
        title=f"S = {args.samples}, R = 2, T = 5, width 128, 1 thread, SNASNet's CIFAR-100 network"
    )
    for column in ("", "SNASNet", "neuronas", "ratio"):
        table.add_column(column, justify="right" if column else "left")
    table.add_row("s per candidate, identical architecture", f"{theirs['fixed']:.2f}",
                  f"{ours['fixed']:.2f}", f"{theirs['fixed'] / ours['fixed']:.2f}x")  # fmt: skip
    table.add_row("peak resident memory, GB (neuronas from scratch)", f"{theirs['peak_rss_gb']:.2f}",
                  f"{ours['peak_rss_gb']:.2f}", f"{ours['peak_rss_gb'] / theirs['peak_rss_gb']:.2f}")  # fmt: skip
    table.add_row("peak resident memory, GB (neuronas with reuse)", "",
                  f"{ours['reuse_peak_rss_gb']:.2f}", "")  # fmt: skip
    whole_theirs = 5000 * theirs["random"]
    whole_ours = 729 * ours["phase1"] + 728 * ours["phase2"]
    table.add_row("s per candidate: SNASNet random / neuronas reuse phase 1, phase 2",
                  f"{theirs['random']:.2f}", f"{ours['phase1']:.2f}, {ours['phase2']:.2f}", "")  # fmt: skip
    table.add_row("whole search, h (extrapolated)", f"{whole_theirs / 3600:.2f}",
                  f"{whole_ours / 3600:.2f}", f"{whole_theirs / whole_ours:.1f}x")  # fmt: skip
    Console(width=200).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("fidelity", help="spike codes and scores on identical weights")
    check.add_argument("--snasnet", type=Path, required=True, help="your SNASNet checkout")
    check.add_argument("--cells", choices=("forward", "backward"), default="forward")
    check.add_argument("--samples", type=int, default=32, help="S, images per batch")
    check.add_argument("--archs", type=int, default=3, help="architectures to compare")
    check.add_argument("--seed", type=int, default=0)
    check.add_argument(
        "--batchnorm", choices=("per-step", "pooled"), default="per-step",
        help="neuronas's BatchNorm statistics (pooled shows what pooling changes)",
    )  # fmt: skip
    timing = sub.add_parser("speed", help="time per candidate and peak memory in both tools")
    timing.add_argument("--snasnet", type=Path, required=True, help="your SNASNet checkout")
    timing.add_argument("--samples", type=int, default=64, help="S, images per batch")
    timing.add_argument("--candidates", type=int, default=3, help="candidates timed per tool")
    timing.add_argument("--seed", type=int, default=0)
    timing.add_argument("--part", choices=("snasnet", "neuronas"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.command == "fidelity":
        fidelity(args)
    elif args.part is None:
        speed(args)
    else:
        import json

        print(json.dumps(_speed_part(args)))


if __name__ == "__main__":
    main()
