"""Scoring at the paper's scale on one GPU, and what the float precision does to scores and rankings.

Usage: python benchmarks/bench_gpu.py [--device cuda] [--samples 256] [--width 128]
                                      [--precision-archs 20] [--sample 24] [--whole]

Prints, on ``--device`` (3x32x32 input, width 128, S = 256, R = 2, T = 5 by default):

1. one candidate's scoring time from scratch and through the reuse path (best of 3 after a warm-up),
   its FLOPs (as bench_reuse.py counts them) and the achieved TFLOP/s next to a measured peak: a
   float32 matmul and a 3x3 convolution of the network's own shapes, on the same device;
2. the whole two-phase search with exact reuse: run whole with ``--whole``, otherwise extrapolated
   from the first ``--sample`` candidates of each phase in Algorithm 1's order (the first candidates
   of a reuse group pay for what the group shares, so the extrapolation errs long), saying which;
3. for ``--precision-archs`` random architectures, every score under fp32, tf32 and bf16: the
   largest relative change against fp32 and the Kendall tau of each ranking against fp32's.

A person with one GPU runs it in under 10 minutes (H200-class: well under); on a CPU it runs too
(``--device cpu``, small ``--width``/``--samples``), where tf32 equals fp32.
"""

from __future__ import annotations

import argparse
import time

import torch
from rich.table import Table
from scipy.stats import kendalltau

from neuronas.arch import Architecture, Macro
from neuronas.console import console
from neuronas.contracts import ScoringSettings
from neuronas.devices import numerics, resolve_device
from neuronas.plugin import get_component
from neuronas.reuse import ReuseScorer
from neuronas.search.evaluator import CandidateScorer


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(device: str, fn, repeats: int = 3) -> float:
    """Best wall time of ``repeats`` calls of ``fn`` after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        started = time.perf_counter()
        fn()
        synchronize(device)
        best = min(best, time.perf_counter() - started)
    return best


def peaks(device: str, samples: int, width: int) -> dict[str, float]:
    """Measured TFLOP/s of a float32 matmul and of the network's widest 3x3 convolution."""
    size = 8192 if device.startswith("cuda") else 1024
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    with numerics(device, "fp32"):
        matmul = timed(device, lambda: a @ b)
        x = torch.randn(samples * 5, width, 32, 32, device=device)
        conv = torch.nn.Conv2d(width, width, 3, padding=1, bias=False).to(device)
        with torch.no_grad():
            convolution = timed(device, lambda: conv(x))
    conv_flops = 2 * samples * 5 * width * width * 9 * 32 * 32
    return {"matmul": 2 * size**3 / matmul / 1e12, "conv3x3": conv_flops / convolution / 1e12}


def scoring_settings(device: str, samples: int, precision: str = "fp32") -> ScoringSettings:
    generator = torch.Generator().manual_seed(0)
    batches = tuple(torch.randn(samples, 3, 32, 32, generator=generator) for _ in range(2))
    return ScoringSettings(
        space="neuronas-3op", fitness="hamming-logdet", quantizer="fixed-point", weight_bits=8,
        rounding="nearest", seed=0, init="shared", carry_state=True, batches=batches,
        device=device, precision=precision,
    )  # fmt: skip


def one_candidate(args, device: str) -> None:
    from bench_reuse import forward_flops

    space = get_component("space", "neuronas-3op")
    cell = next(c for c in space.enumerate() if str(c).count("conv3x3") == 2)
    arch = Architecture(cell, cell, Macro(width=args.width))
    settings = scoring_settings(device, args.samples)
    flops = forward_flops(arch, space, args.samples, 2)
    peak = peaks(device, args.samples, args.width)
    table = Table(
        title=f"one candidate on {device}: width {args.width}, S = {args.samples}, R = 2, T = 5"
    )
    for column in ("path", "ms", "GFLOP", "TFLOP/s", "of matmul peak", "of conv peak"):
        table.add_column(column, justify="right")
    for name, scorer in (("from scratch", CandidateScorer(settings)),
                         ("reuse path", ReuseScorer(settings))):  # fmt: skip
        seconds = timed(device, lambda s=scorer: s.score_group([arch.to_string()]))
        rate = flops / seconds / 1e12
        table.add_row(name, f"{seconds * 1e3:.0f}", f"{flops / 1e9:.0f}", f"{rate:.2f}",
                      f"{rate / peak['matmul']:.0%}", f"{rate / peak['conv3x3']:.0%}")  # fmt: skip
    table.add_row("fp32 matmul", "", "", f"{peak['matmul']:.1f}", "100%", "")
    table.add_row("fp32 conv3x3 (these shapes)", "", "", f"{peak['conv3x3']:.1f}", "", "100%")
    console.print(table)


def two_phase(args, device: str) -> None:
    space = get_component("space", "neuronas-3op")
    macro = Macro(width=args.width)
    cells = list(space.enumerate())
    scorer = ReuseScorer(scoring_settings(device, args.samples))
    phases = {
        "1": [Architecture(c, c, macro).to_string() for c in cells],
        "2": [Architecture(cells[0], c, macro).to_string() for c in cells[1:]],
    }
    total, how = 0.0, "run whole" if args.whole else f"extrapolated from {args.sample} per phase"
    for name, keys in phases.items():
        chosen = keys if args.whole else keys[: args.sample]
        synchronize(device)
        started = time.perf_counter()
        for group in scorer.groups(chosen):
            list(scorer.iter_group(group))
        synchronize(device)
        seconds = time.perf_counter() - started
        total += seconds * len(keys) / len(chosen)
        console.print(
            f"phase {name}: {len(chosen)} candidates in {seconds:.1f} s "
            f"({seconds / len(chosen) * 1e3:.0f} ms each)",
            highlight=False,
        )
    console.print(
        f"two-phase search with exact reuse, {len(phases['1']) + len(phases['2'])} candidates: "
        f"{total:.0f} s ({how})",
        highlight=False,
    )


def precisions(args, device: str) -> None:
    import numpy as np

    space = get_component("space", "neuronas-3op")
    rng = np.random.default_rng(0)
    macro = Macro(width=args.width)
    archs = [Architecture(space.sample(rng), space.sample(rng), macro).to_string()
             for _ in range(args.precision_archs)]  # fmt: skip
    scores = {}
    for precision in ("fp32", "tf32", "bf16"):
        scorer = CandidateScorer(scoring_settings(device, args.samples, precision))
        scores[precision] = np.array([scorer(arch)[0] for arch in archs])
    table = Table(title=f"{len(archs)} random architectures on {device}: scores against fp32")
    for column in ("precision", "largest relative change", "Kendall tau vs fp32"):
        table.add_column(column, justify="right")
    for precision in ("tf32", "bf16"):
        change = np.max(np.abs(scores[precision] - scores["fp32"]) / np.abs(scores["fp32"]))
        tau = kendalltau(scores["fp32"], scores[precision]).statistic
        table.add_row(precision, f"{change:.2e}", f"{tau:+.3f}")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--sample", type=int, default=24, help="candidates timed per phase")
    parser.add_argument("--whole", action="store_true", help="run the whole two-phase search")
    parser.add_argument("--precision-archs", type=int, default=20)
    parser.add_argument("--skip", nargs="*", default=(), choices=("one", "search", "precision"))
    args = parser.parse_args()
    device = resolve_device(args.device)
    torch.set_num_threads(1 if device == "cpu" else torch.get_num_threads())
    console.print(
        f"device {device}: {torch.cuda.get_device_name(device) if device != 'cpu' else 'CPU'}; torch {torch.__version__}"
    )
    if "one" not in args.skip:
        one_candidate(args, device)
    if "search" not in args.skip:
        two_phase(args, device)
    if "precision" not in args.skip:
        precisions(args, device)


if __name__ == "__main__":
    main()
