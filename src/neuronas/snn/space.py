"""A cell search space over named operations, built into SNASNet's macro network.

The three built-in spaces are instances of `CellSearchSpace`; a third-party space can be one too
(other ops, more nodes, a different validity rule), or implement ``neuronas.contracts.SearchSpace``
from scratch.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

import attrs
import numpy as np

from neuronas.arch import Architecture, Cell, LayerShape, back_edges_of, edges_of
from neuronas.errors import UsageError
from neuronas.snn.opspec import BUILTIN_OPS, OpSpec
from neuronas.snn.shapes import network_layer_shapes

if TYPE_CHECKING:
    from neuronas.snn.network import SpikingNetwork


def _reachable(start: int, links: set[tuple[int, int]]) -> set[int]:
    reached, frontier = {start}, [start]
    while frontier:
        node = frontier.pop()
        for source, target in links:
            if source == node and target not in reached:
                reached.add(target)
                frontier.append(target)
    return reached


def live_nodes(cell: Cell, is_zero: Callable[[str], bool]) -> set[int]:
    """Nodes reachable from the input and reaching the output through non-zero edges, forward or
    backward (SNASNet's pruning rule, which follows both kinds)."""
    links = {(i, j) for i, j, op in (*cell.items(), *cell.back_items()) if not is_zero(op)}
    reversed_links = {(j, i) for i, j in links}
    return _reachable(0, links) & _reachable(cell.nodes - 1, reversed_links)


def _back_index(nodes: int) -> list[int]:
    """For each backward edge (target-major), the index of its node pair in source-major order."""
    pairs = edges_of(nodes)
    return [pairs.index((i, j)) for j, i in back_edges_of(nodes)]


def _output_reachable(cell: Cell, is_zero: Callable[[str], bool]) -> bool:
    return cell.nodes - 1 in live_nodes(cell, is_zero)


@attrs.frozen
class CellSearchSpace:
    """Cells of ``nodes`` nodes with one of ``ops`` on every edge.

    A cell is valid when every op belongs to the space and the output is reachable from the input
    (``require_direct_edge``: the edge 0 -> output is not a zero op). Cells are built as `canonical`
    returns them, as SNASNet builds them: edges of dead nodes carry no weights and no neurons.

    ``backward``: SNASNet's backward cells, in which every node pair is joined by a forward edge or
    by a backward (temporal feedback) edge, never both (the other one is the zero op, which such a
    space must have).

    ``dropout`` and ``weight_init`` are the network a search builds for this space unless the user
    chooses otherwise (`neuronas.arch.Macro`).
    """

    name: str
    description: str
    ops: tuple[str, ...] = attrs.field(converter=tuple)
    nodes: int = 4
    require_direct_edge: bool = False
    backward: bool = False
    dropout: float = 0.0
    weight_init: str = "pytorch"
    op_specs: Mapping[str, OpSpec] = attrs.field(factory=lambda: dict(BUILTIN_OPS))

    def __attrs_post_init__(self) -> None:
        missing = [op for op in self.ops if op not in self.op_specs]
        if missing:
            raise ValueError(f"search space {self.name!r}: no OpSpec for {', '.join(missing)}")
        if self.backward and not self._zero_ops:
            raise ValueError(f"search space {self.name!r} has backward edges but no zero op")

    @property
    def _zero_ops(self) -> frozenset[str]:
        return frozenset(op for op in self.ops if self.op_specs[op].is_zero)

    def is_valid(self, cell: Cell) -> bool:
        return self.why_invalid(cell) is None

    def why_invalid(self, cell: Cell) -> str | None:
        """None for a valid cell, else a one-line reason."""
        if cell.nodes != self.nodes:
            return f"it has {cell.nodes} nodes; space {self.name!r} has {self.nodes}"
        for kind, (i, j, op) in [
            *(("edge", item) for item in cell.items()),
            *(("backward edge", item) for item in cell.back_items()),
        ]:
            if op not in self.ops:
                return (
                    f"op {op!r} on {kind} {i}-{j} is not in space {self.name!r} "
                    f"(ops: {', '.join(self.ops)})"
                )
        zeros = self._zero_ops
        if cell.back and any(op not in zeros for op in cell.back):
            if not self.backward:
                return f"space {self.name!r} has no backward edges"
            for j, i, op in cell.back_items():
                if op not in zeros and cell.op(i, j) not in zeros:
                    return (
                        f"node pair {i}-{j} has both a forward edge ({cell.op(i, j)}) and a "
                        f"backward edge ({op}); space {self.name!r} allows one of them"
                    )
        if self.require_direct_edge and cell.op(0, self.nodes - 1) in zeros:
            return f"the direct edge 0-{self.nodes - 1} must not be a zero op"
        if not _output_reachable(cell, zeros.__contains__):
            return "no path of non-zero edges leads from the input to the output"
        return None

    def enumerate(self) -> Iterator[Cell]:
        """Every valid cell; c01 varies slowest and the last edge fastest (Algorithm 1).

        In a backward space each node pair takes the zero op, a forward op or a backward op, with
        the same order over pairs (forward choices before backward ones).
        """
        pairs = len(edges_of(self.nodes))
        if not self.backward:
            for ops in itertools.product(self.ops, repeat=pairs):
                cell = Cell(ops)
                if self.is_valid(cell):
                    yield cell
            return
        zero = self._zero_op
        nonzero = [op for op in self.ops if op != zero]
        choices = [(zero, zero)] + [(op, zero) for op in nonzero] + [(zero, op) for op in nonzero]
        order = _back_index(self.nodes)
        for picks in itertools.product(choices, repeat=pairs):
            forward = tuple(pick[0] for pick in picks)
            cell = Cell(forward, tuple(picks[k][1] for k in order))
            if self.is_valid(cell):
                yield self._without_empty_back(cell)

    def sample(self, rng: np.random.Generator) -> Cell:
        """A valid cell drawn by rejection sampling, as SNASNet draws it: an op uniformly per edge;
        in a backward space, per node pair a fair coin for forward or backward, then an op."""
        pairs = len(edges_of(self.nodes))
        while True:
            forward = [self.ops[k] for k in rng.integers(len(self.ops), size=pairs)]
            back: tuple[str, ...] = ()
            if self.backward:
                backward_ops = [self.ops[k] for k in rng.integers(len(self.ops), size=pairs)]
                is_forward = rng.integers(2, size=pairs).astype(bool)
                zero = self._zero_op
                forward = [
                    op if keep else zero for op, keep in zip(forward, is_forward, strict=True)
                ]
                by_pair = [
                    zero if keep else op for op, keep in zip(backward_ops, is_forward, strict=True)
                ]
                back = tuple(by_pair[k] for k in _back_index(self.nodes))
            cell = Cell(forward, back)
            if self.is_valid(cell):
                return self._without_empty_back(cell)

    @property
    def _zero_op(self) -> str:
        return next(op for op in self.ops if op in self._zero_ops)

    def _without_empty_back(self, cell: Cell) -> Cell:
        """The cell without its backward part when every backward edge is the zero op."""
        if cell.back and all(op in self._zero_ops for op in cell.back):
            return Cell(cell.ops)
        return cell

    def canonical(self, cell: Cell) -> Cell:
        """The cell as it is built: dead nodes' edges replaced by the zero op (if the space has one)."""
        zeros = self._zero_ops
        if not zeros:
            return cell
        zero = self._zero_op
        live = live_nodes(cell, zeros.__contains__)
        forward = (op if i in live and j in live else zero for i, j, op in cell.items())
        back = (op if i in live and j in live else zero for j, i, op in cell.back_items())
        return self._without_empty_back(Cell(forward, back))

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
        from neuronas.snn.network import build_network

        return build_network(self.check(arch), self.op_specs, seed)

    def layer_shapes(
        self, arch: Architecture, include_classifier: bool = False
    ) -> list[LayerShape]:
        return network_layer_shapes(self.check(arch), self.op_specs, include_classifier)
