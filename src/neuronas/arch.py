"""Cells, architectures and their canonical strings; the layer shapes a hardware model maps.

A cell is a DAG over ``nodes`` nodes whose every forward edge i->j (i < j) carries one operation.
Edges are stored source-major, the order of the paper's Algorithm 1 (c01, c02, c03, c12, c13, c23).
The string form follows NAS-Bench-201, grouped by target node:
``|conv3x3~0|+|skip~0|avgpool3x3~1|+|skip~0|conv3x3~1|skip~2|``.
An architecture string joins cells A and B and the macro parameters that change the network:
``a=<cell>;b=<cell>;width=128;timesteps=5;input=3x32x32;classes=10;hidden=1024;population=10;stem_stride=1``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import attrs

from neuronas.errors import ArchitectureSyntaxError


def edges_of(nodes: int) -> tuple[tuple[int, int], ...]:
    """Forward edges of a ``nodes``-node cell in source-major order."""
    return tuple((i, j) for i in range(nodes) for j in range(i + 1, nodes))


def _nodes_for_edge_count(count: int) -> int | None:
    nodes = 2
    while nodes * (nodes - 1) // 2 < count:
        nodes += 1
    return nodes if nodes * (nodes - 1) // 2 == count else None


@attrs.frozen
class Cell:
    """One operation per forward edge, in source-major edge order."""

    ops: tuple[str, ...] = attrs.field(converter=tuple)

    def __attrs_post_init__(self) -> None:
        if _nodes_for_edge_count(len(self.ops)) is None or len(self.ops) == 0:
            raise ArchitectureSyntaxError(
                f"a cell needs n*(n-1)/2 edge operations for some n >= 2 nodes, got {len(self.ops)}"
            )

    @property
    def nodes(self) -> int:
        return _nodes_for_edge_count(len(self.ops))  # type: ignore[return-value]

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        return edges_of(self.nodes)

    def op(self, source: int, target: int) -> str:
        return self.ops[self.edges.index((source, target))]

    def items(self) -> Iterator[tuple[int, int, str]]:
        """(source, target, op) for every edge, source-major."""
        for (i, j), op in zip(self.edges, self.ops, strict=True):
            yield i, j, op

    def to_string(self) -> str:
        groups = []
        for target in range(1, self.nodes):
            groups.append(
                "|" + "|".join(f"{self.op(s, target)}~{s}" for s in range(target)) + "|"
            )
        return "+".join(groups)

    def __str__(self) -> str:
        return self.to_string()

    @classmethod
    def parse(cls, text: str) -> Cell:
        """Parse a NAS-Bench-201 style cell string; errors name the group and entry at fault."""
        text = text.strip()
        if not text:
            raise ArchitectureSyntaxError("empty cell string; expected e.g. '|skip~0|+|skip~0|skip~1|'")
        groups = text.split("+")
        by_edge: dict[tuple[int, int], str] = {}
        for target, group in enumerate(groups, start=1):
            where = f"group {target} ({group!r}, the inputs of node {target})"
            if not (group.startswith("|") and group.endswith("|")) or len(group) < 2:
                raise ArchitectureSyntaxError(
                    f"cell string {text!r}: {where} must start and end with '|'"
                )
            entries = group[1:-1].split("|")
            if len(entries) != target:
                raise ArchitectureSyntaxError(
                    f"cell string {text!r}: {where} has {len(entries)} entries, expected "
                    f"{target} (one 'op~source' for each source 0..{target - 1})"
                )
            for expected_source, entry in enumerate(entries):
                op, sep, source = entry.partition("~")
                if not sep or not op or source != str(expected_source):
                    raise ArchitectureSyntaxError(
                        f"cell string {text!r}: {where}, entry {entry!r}: expected "
                        f"'<op>~{expected_source}'"
                    )
                by_edge[(expected_source, target)] = op
        nodes = len(groups) + 1
        return cls(tuple(by_edge[edge] for edge in edges_of(nodes)))


def _positive_int(_instance: object, attribute: attrs.Attribute, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ArchitectureSyntaxError(f"{attribute.name} must be a positive integer, got {value!r}")


@attrs.frozen
class Macro:
    """The macro parameters that change the network around the two searched cells."""

    width: int = attrs.field(default=128, validator=_positive_int)
    timesteps: int = attrs.field(default=5, validator=_positive_int)
    in_channels: int = attrs.field(default=3, validator=_positive_int)
    input_size: int = attrs.field(default=32, validator=_positive_int)
    num_classes: int = attrs.field(default=10, validator=_positive_int)
    hidden: int = attrs.field(default=1024, validator=_positive_int)
    population: int = attrs.field(default=10, validator=_positive_int)
    stem_stride: int = attrs.field(default=1, validator=_positive_int)


_MACRO_KEYS = ("width", "timesteps", "input", "classes", "hidden", "population", "stem_stride")


@attrs.frozen
class Architecture:
    """Cells A and B and the macro parameters: everything needed to rebuild the network."""

    cell_a: Cell
    cell_b: Cell
    macro: Macro = Macro()

    def to_string(self) -> str:
        m = self.macro
        return (
            f"a={self.cell_a};b={self.cell_b};width={m.width};timesteps={m.timesteps};"
            f"input={m.in_channels}x{m.input_size}x{m.input_size};classes={m.num_classes};"
            f"hidden={m.hidden};population={m.population};stem_stride={m.stem_stride}"
        )

    def __str__(self) -> str:
        return self.to_string()

    @classmethod
    def parse(cls, text: str) -> Architecture:
        """Parse an architecture string; omitted macro keys take their defaults."""
        fields: dict[str, str] = {}
        for position, part in enumerate(p for p in text.strip().split(";") if p.strip()):
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep:
                raise ArchitectureSyntaxError(
                    f"architecture string part {position + 1} ({part!r}): expected 'key=value' "
                    f"with key one of a, b, {', '.join(_MACRO_KEYS)}"
                )
            if key not in ("a", "b", *_MACRO_KEYS):
                raise ArchitectureSyntaxError(
                    f"architecture string part {position + 1}: unknown key {key!r}; expected one "
                    f"of a, b, {', '.join(_MACRO_KEYS)}"
                )
            if key in fields:
                raise ArchitectureSyntaxError(f"architecture string: key {key!r} given twice")
            fields[key] = value.strip()
        for required in ("a", "b"):
            if required not in fields:
                raise ArchitectureSyntaxError(
                    f"architecture string {text!r} has no '{required}=<cell>' part; expected "
                    "'a=<cell A>;b=<cell B>[;width=..;...]'"
                )
        macro_kwargs: dict[str, int] = {}
        for key, value in fields.items():
            if key in ("a", "b"):
                continue
            if key == "input":
                dims = value.split("x")
                if len(dims) != 3 or not all(d.isdigit() for d in dims) or dims[1] != dims[2]:
                    raise ArchitectureSyntaxError(
                        f"architecture string: input={value!r}; expected CxHxW with H == W, "
                        "e.g. 3x32x32"
                    )
                macro_kwargs["in_channels"], macro_kwargs["input_size"] = int(dims[0]), int(dims[1])
                continue
            if not value.isdigit():
                raise ArchitectureSyntaxError(
                    f"architecture string: {key}={value!r}; expected a positive integer"
                )
            macro_kwargs[{"classes": "num_classes"}.get(key, key)] = int(value)
        try:
            cell_a = Cell.parse(fields["a"])
        except ArchitectureSyntaxError as error:
            raise ArchitectureSyntaxError(f"in cell A: {error}") from None
        try:
            cell_b = Cell.parse(fields["b"])
        except ArchitectureSyntaxError as error:
            raise ArchitectureSyntaxError(f"in cell B: {error}") from None
        return cls(cell_a, cell_b, Macro(**macro_kwargs))


LayerKind = Literal["conv", "linear"]


@attrs.frozen
class LayerShape:
    """One weight layer as a hardware model maps it (square kernels and feature maps)."""

    kind: LayerKind
    in_channels: int
    out_channels: int
    kernel: int
    in_size: int
    out_size: int
    stride: int = 1
    role: str = ""
    name: str = ""

    @property
    def weights(self) -> int:
        """Number of weights (no bias: neuronas' layers have none)."""
        if self.kind == "linear":
            return self.in_channels * self.out_channels
        return self.in_channels * self.out_channels * self.kernel * self.kernel
