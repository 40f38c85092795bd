"""Exact reuse, the group scorer ``hamming-logdet`` offers (`HammingLogDet.group_scorer`): score many
candidates of a cell search space sharing the work they have in common.

With the shared (common-random-number) initialisation, a layer at the same place with the same op has
the same weights in every candidate, so within one mini-batch everything upstream of the first place
where two candidates differ is the same computation (BatchNorm in train mode normalises with the
batch's own statistics, which are then the same too). ``ReuseScorer`` runs the network part by part
instead of candidate by candidate:

- a node x_j of a cell depends only on the edges into nodes <= j (and, in cell B, on all of cell A),
  so nodes are cached under that signature, and x_j = sum of cached edge terms o_ij(x_i);
- every conv edge starts with a LIF on its source node; all conv edges leaving one node see the same
  input, so that LIF's spikes and its Hamming-kernel contribution are computed once per node;
- each part runs all R batches in order, so LIF membranes carry from batch to batch (or reset, with
  ``carry_state=False``) exactly as when the whole network runs batch after batch.

A candidate's kernel is then the sum of the cached contributions of its LIF layers. Cached entries are
dropped as soon as no later candidate of the group needs their node, and ``groups`` cuts the ordered
candidates where they share the least, so the cache stays small. Scores equal `CandidateScorer`'s up
to float64 summation order (see tests/test_reuse.py).
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs
import numpy as np
import torch
from spikingjelly.activation_based.neuron import BaseNode
from torch import nn

from neuronas.arch import Architecture, Cell
from neuronas.contracts import ScoringSettings, SearchSpace
from neuronas.devices import numerics
from neuronas.fitness import KernelAccumulator, log_abs_det, spike_contribution
from neuronas.plugin import manager
from neuronas.quantization import FixedPointQuantizer
from neuronas.snn.cell import edge_key
from neuronas.snn.network import (
    Classifier,
    Downsample,
    Head,
    Stem,
    edge_init_key,
    feature_sizes,
    make_part,
)
from neuronas.snn.neuron import LIF
from neuronas.snn.ops import SpikingConv, per_step
from neuronas.snn.space import CellSearchSpace

Batches = list[torch.Tensor]  # one tensor per fitness batch, in order


def reuse_blocker(settings: ScoringSettings, space: SearchSpace) -> str | None:
    """Why exact reuse cannot score candidates of ``space`` with ``settings`` (None when it can);
    the metric is plain Hamming log-det, which `HammingLogDet.group_scorer` has checked."""
    if settings.init != "shared":
        return "--init independent gives every candidate its own weights, so nothing is shared"
    if not isinstance(space, CellSearchSpace):
        return f"search space {getattr(space, 'name', space)!r} is not a built-in cell space"
    if space.backward:
        return (
            f"search space {space.name!r} has backward (temporal feedback) edges, whose cells run "
            "one timestep at a time as a whole"
        )
    for op in space.ops:
        module = space.op_specs[op].make(1)
        has_lif = any(isinstance(m, BaseNode) for m in module.modules())
        if has_lif and not isinstance(module, SpikingConv):
            return f"op {op!r} has spiking neurons in a form exact reuse does not know"
    # a per-tensor format depends on that tensor only, so a part quantized alone is quantized as
    # it is inside the network
    if not isinstance(manager.get_component("quantizer", settings.quantizer), FixedPointQuantizer):
        return f"quantizer {settings.quantizer!r} is not 'fixed-point' (per-tensor)"
    if settings.rounding == "stochastic":
        return "stochastic rounding draws per candidate, so quantized weights are not shared"
    return None


def _node_signatures(arch: Architecture) -> list[tuple]:
    """What each node of cells A and B depends on, in forward order (x0A ... x_last B)."""
    signatures = []
    for label, cell, upstream in (("A", arch.cell_a, ()), ("B", arch.cell_b, arch.cell_a.ops)):
        for node in range(cell.nodes):
            edges = tuple(op for (i, j), op in zip(cell.edges, cell.ops, strict=True) if j <= node)
            signatures.append((label, node, upstream, edges))
    return signatures


def shared_depth(first: Sequence[tuple], second: Sequence[tuple]) -> int:
    """How many leading nodes two candidates' signature lists have in common."""
    depth = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        depth += 1
    return depth


@attrs.frozen
class ReuseScorer:
    """Scores candidates like `CandidateScorer`, computing what consecutive candidates share once.

    A `neuronas.contracts.GroupScorer` (``iter_group`` too), picklable; only valid where
    `reuse_blocker` returns None. ``max_group`` bounds a group so executors still get several.
    """

    settings: ScoringSettings
    max_group: int = 256
    min_shared_nodes: int = 2

    def _canonical(self, key: str) -> Architecture:
        return manager.get_component("space", self.settings.space).check(Architecture.parse(key))

    def groups(self, archs: Sequence[str]) -> list[list[str]]:
        """Consecutive candidates sharing at least ``min_shared_nodes`` nodes form a group; longer
        runs than ``max_group`` are cut where neighbours share the fewest nodes."""
        if not archs:
            return []
        signatures = [_node_signatures(self._canonical(key)) for key in archs]
        depths = [shared_depth(a, b) for a, b in itertools.pairwise(signatures)]
        runs, start = [], 0
        for index, depth in enumerate(depths, start=1):
            if depth < self.min_shared_nodes:
                runs.append((start, index))
                start = index
        runs.append((start, len(archs)))
        pieces: list[tuple[int, int]] = []
        for run in runs:
            pieces.extend(self._cut(run, depths))
        return [list(archs[begin:end]) for begin, end in pieces]

    def _cut(self, run: tuple[int, int], depths: list[int]) -> list[tuple[int, int]]:
        begin, end = run
        if end - begin <= self.max_group:
            return [run]
        inner = range(begin + 1, end)  # a cut at i separates i-1 from i
        weakest = min(depths[i - 1] for i in inner)
        cuts = [i for i in inner if depths[i - 1] == weakest]
        if len(cuts) == len(inner):  # all alike: even chunks
            cuts = list(range(begin + self.max_group, end, self.max_group))
        bounds = [begin, *cuts, end]
        result = []
        for left, right in itertools.pairwise(bounds):
            result.extend(self._cut((left, right), depths))
        return result

    def score_group(self, archs: Sequence[str]) -> list[tuple[float, float]]:
        """(score, seconds) per candidate, in order; seconds include the shared work it paid for."""
        return list(self.iter_group(archs))

    def iter_group(self, archs: Sequence[str]) -> Iterator[tuple[float, float]]:
        """`score_group` one candidate at a time, each yielded as soon as it is scored."""
        run = _GroupRun(self, [self._canonical(key) for key in archs])
        for index in range(len(archs)):
            with torch.inference_mode(), numerics(self.settings.device, self.settings.precision):
                result = run.score_next(index)
            yield result

    def __call__(self, arch: str) -> tuple[float, float]:
        return self.score_group([arch])[0]


class _GroupRun:
    """One group's evaluation: the part-by-part forward pass with a node cache."""

    def __init__(self, scorer: ReuseScorer, archs: list[Architecture]) -> None:
        self.settings = settings = scorer.settings
        self.archs = archs
        macros = {arch.macro for arch in archs}
        if len(macros) != 1:
            raise ValueError(f"a reuse group shares one macro network, got {len(macros)}")
        self.macro = macros.pop()
        self.space: CellSearchSpace = manager.get_component("space", settings.space)
        self.quantizer = manager.get_component("quantizer", settings.quantizer)
        self.batches: Batches = [torch.as_tensor(b).to(settings.device) for b in settings.batches]
        self.parts: dict[str, nn.Module] = {}
        self.cache: dict[tuple, dict[str, Any]] = {}
        self.signatures = [_node_signatures(arch) for arch in archs]
        self.uses = Counter(sig for sigs in self.signatures for sig in sigs)

    def score_next(self, index: int) -> tuple[float, float]:
        """(score, seconds) of candidate ``index``; candidates must be scored in order, since
        each drops the cached nodes that no later one needs."""
        started = time.perf_counter()
        signatures = self.signatures[index]
        score = self.score(self.archs[index], signatures)
        for signature in signatures:
            self.uses[signature] -= 1
            if not self.uses[signature]:
                self.cache.pop(signature, None)
        return score, time.perf_counter() - started

    # --- parts: built once per group with the seeded weights, then quantized like the network ---

    def part(self, key: str, factory: Callable[[], nn.Module]) -> nn.Module:
        if key not in self.parts:
            module = make_part(factory, self.settings.seed, key, self.macro)
            self.quantizer.quantize(
                module, self.settings.weight_bits, rounding=self.settings.rounding, seed=0
            )
            self.parts[key] = module.to(self.settings.device)
        return self.parts[key]

    def run_lif(self, lif: BaseNode, inputs: Batches) -> Batches:
        """A LIF layer over the R batches in order, its membrane carried or reset between them."""
        lif.reset()
        outputs = []
        for index, x in enumerate(inputs):
            if index and not self.settings.carry_state:
                lif.reset()
            outputs.append(lif(x))
        lif.reset()
        return outputs

    def spiking(self, lif: BaseNode, inputs: Batches) -> tuple[Batches, list[torch.Tensor]]:
        spikes = self.run_lif(lif, inputs)
        return spikes, [spike_contribution(s, binary=isinstance(lif, LIF)) for s in spikes]

    # --- the forward pass, node by node ---

    def score(self, arch: Architecture, signatures: list[tuple]) -> float:
        macro = arch.macro
        width, nodes_a = macro.width, arch.cell_a.nodes
        samples = int(self.batches[0].shape[0])
        accumulators = [KernelAccumulator(samples) for _ in self.batches]

        def add(layer: str, contributions: list[torch.Tensor]) -> None:
            for accumulator, contribution in zip(accumulators, contributions, strict=True):
                accumulator.add_contribution(layer, contribution, macro.timesteps)

        stem_entry = self.entry(signatures[0])
        if "value" not in stem_entry:
            stem = self.part("stem", lambda: Stem(macro))
            stem_entry["value"] = [stem.sequence(batch, macro.timesteps) for batch in self.batches]
        self.cell(arch.cell_a, "cell_a", width, signatures[:nodes_a], add)

        down_entry = self.entry(signatures[nodes_a])
        if "value" not in down_entry:
            down = self.part("downsample", lambda: Downsample(width))
            spikes, contributions = self.spiking(
                down.lif, [down.bn_in(x) for x in self.node(signatures[nodes_a - 1])]
            )
            down_entry["contributions"] = contributions
            down_entry["value"] = [down.after_spikes(s) for s in spikes]
        add("downsample.lif", down_entry["contributions"])
        self.cell(arch.cell_b, "cell_b", 2 * width, signatures[nodes_a:], add)

        head = self.part("head", lambda: Head(2 * width))
        features = 2 * width * feature_sizes(macro).classifier ** 2
        classifier = self.part("classifier", lambda: Classifier(features, macro))
        spikes, contributions = self.spiking(
            head.lif, [head.bn(x) for x in self.node(signatures[-1])]
        )
        add("head.lif", contributions)
        hidden = [classifier.hidden_current(per_step(head.pool, s).flatten(2)) for s in spikes]
        add("classifier.lif", self.spiking(classifier.lif, hidden)[1])
        return float(np.mean([log_abs_det(a.mean_kernel()) for a in accumulators]))

    def entry(self, signature: tuple) -> dict[str, Any]:
        return self.cache.setdefault(signature, {})

    def node(self, signature: tuple) -> Batches:
        return self.cache[signature]["value"]

    def cell(
        self,
        cell: Cell,
        label: str,
        width: int,
        signatures: list[tuple],
        add: Callable[[str, list[torch.Tensor]], None],
    ) -> None:
        """Compute (or find) every node of ``cell``; add the LIF contributions of its conv edges."""
        specs = self.space.op_specs
        for target in range(1, cell.nodes):
            entry = self.entry(signatures[target])
            if "value" in entry:
                continue
            total: Batches | None = None
            for source, op in cell.inputs_of(target):
                if specs[op].is_zero:
                    continue
                term = self.edge_term(label, width, source, target, op, signatures[source])
                total = term if total is None else [t + u for t, u in zip(total, term, strict=True)]
            entry["value"] = total or [torch.zeros_like(x) for x in self.node(signatures[0])]
        for source, target, op in cell.items():
            if isinstance(self.edge_module(label, width, source, target, op), SpikingConv):
                spikes = self.source_spikes(label, width, source, target, op, signatures[source])
                add(f"{label}.{edge_key(source, target)}.lif", spikes[1])

    def edge_module(self, label: str, width: int, source: int, target: int, op: str) -> nn.Module:
        make = self.space.op_specs[op].make
        return self.part(edge_init_key(label, source, target, op), lambda: make(width))

    def source_spikes(
        self, label: str, width: int, source: int, target: int, op: str, signature: tuple
    ) -> tuple[Batches, list[torch.Tensor]]:
        """The spikes of the LIF every conv edge leaving this node starts with, and their kernel."""
        entry = self.entry(signature)
        if "spikes" not in entry:
            module = self.edge_module(label, width, source, target, op)
            entry["spikes"] = self.spiking(module.lif, self.node(signature))
        return entry["spikes"]

    def edge_term(
        self, label: str, width: int, source: int, target: int, op: str, signature: tuple
    ) -> Batches:
        entry = self.entry(signature)
        key = f"{edge_key(source, target)}/{op}"
        if key not in entry:
            module = self.edge_module(label, width, source, target, op)
            if isinstance(module, SpikingConv):
                spikes = self.source_spikes(label, width, source, target, op, signature)[0]
                entry[key] = [module.bn(per_step(module.conv, s)) for s in spikes]
            else:
                entry[key] = [module(x) for x in self.node(signature)]
        return entry[key]
