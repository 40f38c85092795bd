"""A cell search space over named operations, built into SNASNet's macro network.

The three built-in spaces are instances of `CellSearchSpace`; a third-party space can be one too
(other ops, more nodes, a different validity rule), or implement ``neuronas.contracts.SearchSpace``
from scratch.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping

import attrs
import numpy as np

from neuronas.arch import Architecture, Cell, LayerShape, edges_of
from neuronas.errors import UsageError
from neuronas.snn.network import SpikingNetwork, build_network, network_layer_shapes
from neuronas.snn.ops import BUILTIN_OPS, OpSpec


def live_nodes(cell: Cell, is_zero: Callable[[str], bool]) -> set[int]:
    """Nodes reachable from the input and reaching the output through non-zero edges."""
    last = cell.nodes - 1
    forward, backward = {0}, {last}
    for i, j, op in cell.items():  # source-major order visits every source after its inputs
        if i in forward and not is_zero(op):
            forward.add(j)
    for i, j, op in sorted(cell.items(), key=lambda edge: -edge[1]):
        if j in backward and not is_zero(op):
            backward.add(i)
    return forward & backward


def _output_reachable(cell: Cell, is_zero: Callable[[str], bool]) -> bool:
    return cell.nodes - 1 in live_nodes(cell, is_zero)


@attrs.frozen
class CellSearchSpace:
    """Cells of ``nodes`` nodes with one of ``ops`` on every edge.

    A cell is valid when every op belongs to the space and the output is reachable from the input
    (``require_direct_edge``: the edge 0 -> output is not a zero op). Cells are built after
    `prune_cell`, as SNASNet builds them: edges of dead nodes carry no weights and no neurons.
    """

    name: str
    description: str
    ops: tuple[str, ...] = attrs.field(converter=tuple)
    nodes: int = 4
    require_direct_edge: bool = False
    op_specs: Mapping[str, OpSpec] = attrs.field(factory=lambda: dict(BUILTIN_OPS))

    def __attrs_post_init__(self) -> None:
        missing = [op for op in self.ops if op not in self.op_specs]
        if missing:
            raise ValueError(f"search space {self.name!r}: no OpSpec for {', '.join(missing)}")

    @property
    def _zero_ops(self) -> frozenset[str]:
        return frozenset(op for op in self.ops if self.op_specs[op].is_zero)

    def is_valid(self, cell: Cell) -> bool:
        return self.why_invalid(cell) is None

    def why_invalid(self, cell: Cell) -> str | None:
        """None for a valid cell, else a one-line reason."""
        if cell.nodes != self.nodes:
            return f"it has {cell.nodes} nodes; space {self.name!r} has {self.nodes}"
        for i, j, op in cell.items():
            if op not in self.ops:
                return (
                    f"op {op!r} on edge {i}-{j} is not in space {self.name!r} "
                    f"(ops: {', '.join(self.ops)})"
                )
        zeros = self._zero_ops
        if self.require_direct_edge and cell.op(0, self.nodes - 1) in zeros:
            return f"the direct edge 0-{self.nodes - 1} must not be a zero op"
        if not _output_reachable(cell, zeros.__contains__):
            return "no path of non-zero edges leads from the input to the output"
        return None

    def enumerate(self) -> Iterator[Cell]:
        """Every valid cell; c01 varies slowest and the last edge fastest (Algorithm 1)."""
        for ops in itertools.product(self.ops, repeat=len(edges_of(self.nodes))):
            cell = Cell(ops)
            if self.is_valid(cell):
                yield cell

    def sample(self, rng: np.random.Generator) -> Cell:
        """A uniformly drawn valid cell (rejection sampling, as SNASNet does)."""
        while True:
            picks = rng.integers(len(self.ops), size=len(edges_of(self.nodes)))
            cell = Cell(self.ops[k] for k in picks)
            if self.is_valid(cell):
                return cell

    def canonical(self, cell: Cell) -> Cell:
        """The cell as it is built: dead nodes' edges replaced by the zero op (if the space has one)."""
        zeros = self._zero_ops
        if not zeros:
            return cell
        zero = next(op for op in self.ops if op in zeros)
        live = live_nodes(cell, zeros.__contains__)
        return Cell(op if i in live and j in live else zero for i, j, op in cell.items())

    def check(self, arch: Architecture) -> Architecture:
        """``arch`` with canonical cells, or a UsageError naming the cell at fault."""
        for label, cell in (("A", arch.cell_a), ("B", arch.cell_b)):
            reason = self.why_invalid(cell)
            if reason is not None:
                raise UsageError(f"cell {label} {cell} is not valid: {reason}")
        return attrs.evolve(
            arch, cell_a=self.canonical(arch.cell_a), cell_b=self.canonical(arch.cell_b)
        )

    def build(self, arch: Architecture, seed: int | None = None) -> SpikingNetwork:
        return build_network(self.check(arch), self.op_specs, seed)

    def layer_shapes(
        self, arch: Architecture, include_classifier: bool = False
    ) -> list[LayerShape]:
        return network_layer_shapes(self.check(arch), self.op_specs, include_classifier)
