"""Cells, architectures and their canonical strings; the layer shapes a hardware model maps.

A cell is a DAG over ``nodes`` nodes whose every forward edge i->j (i < j) carries one operation.
Edges are stored source-major, the order of the paper's Algorithm 1 (c01, c02, c03, c12, c13, c23).
The string form follows NAS-Bench-201, grouped by target node:
``|conv3x3~0|+|skip~0|avgpool3x3~1|+|skip~0|conv3x3~1|skip~2|``.
An architecture string joins cells A and B and the macro parameters that change the network:
``a=<cell>;b=<cell>;width=128;timesteps=5;input=3x32x32;classes=10;hidden=1024;population=10;stem_stride=1``.
The strings are canonical (one string per architecture), so they serve as cache and de-duplication keys.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator
from typing import Literal

import attrs

from neuronas.errors import ArchitectureSyntaxError

#: What an operation name may contain: the characters that cannot break the string format.
OP_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")
_UNSIGNED = re.compile(r"[0-9]+")
_EXAMPLE_CELL = "|conv3x3~0|+|skip~0|conv3x3~1|+|skip~0|avgpool3x3~1|conv3x3~2|"


@functools.cache
def edges_of(nodes: int) -> tuple[tuple[int, int], ...]:
    """Forward edges of a ``nodes``-node cell in source-major order."""
    return tuple((i, j) for i in range(nodes) for j in range(i + 1, nodes))


def _nodes_for_edge_count(count: int) -> int | None:
    """n such that n*(n-1)/2 == count (n >= 2), else None."""
    if count < 1:
        return None
    nodes = (1 + math.isqrt(1 + 8 * count)) // 2
    return nodes if nodes * (nodes - 1) // 2 == count else None


def _check_op_name(op: object, where: str) -> None:
    if not isinstance(op, str) or not OP_NAME_PATTERN.fullmatch(op):
        raise ArchitectureSyntaxError(
            f"{where}: operation name {op!r} is not valid; expected letters, digits, '_', '.' "
            "or '-' (e.g. 'conv3x3')"
        )


@attrs.frozen
class Cell:
    """One operation per forward edge, in source-major edge order."""

    ops: tuple[str, ...] = attrs.field(converter=tuple)

    def __attrs_post_init__(self) -> None:
        if _nodes_for_edge_count(len(self.ops)) is None:
            raise ArchitectureSyntaxError(
                f"a cell needs n*(n-1)/2 edge operations for some n >= 2 nodes "
                f"(1, 3, 6, 10, ...), got {len(self.ops)}"
            )
        for (i, j), op in zip(self.edges, self.ops, strict=True):
            _check_op_name(op, f"cell edge {i}-{j}")

    @property
    def nodes(self) -> int:
        return _nodes_for_edge_count(len(self.ops))  # type: ignore[return-value]

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        return edges_of(self.nodes)

    def op(self, source: int, target: int) -> str:
        try:
            return self.ops[self.edges.index((source, target))]
        except ValueError:
            raise KeyError(
                f"no edge {source}-{target} in a {self.nodes}-node cell (edges go from a lower "
                "node to a higher one)"
            ) from None

    def items(self) -> Iterator[tuple[int, int, str]]:
        """(source, target, op) for every edge, source-major."""
        for (i, j), op in zip(self.edges, self.ops, strict=True):
            yield i, j, op

    def inputs_of(self, target: int) -> tuple[tuple[int, str], ...]:
        """(source, op) of every edge into ``target``, by source."""
        return tuple((source, self.op(source, target)) for source in range(target))

    def to_string(self) -> str:
        return "+".join(
            "|" + "|".join(f"{op}~{source}" for source, op in self.inputs_of(target)) + "|"
            for target in range(1, self.nodes)
        )

    def __str__(self) -> str:
        return self.to_string()

    @classmethod
    def parse(cls, text: str) -> Cell:
        """Parse a NAS-Bench-201 style cell string; errors name the group and entry at fault."""
        text = text.strip()
        if not text:
            raise ArchitectureSyntaxError(f"empty cell string; expected e.g. {_EXAMPLE_CELL!r}")
        groups = text.split("+")
        by_edge: dict[tuple[int, int], str] = {}
        for target, group in enumerate(groups, start=1):
            where = f"cell string {text!r}: group {target} ({group!r}, the inputs of node {target})"
            if len(group) < 2 or not (group.startswith("|") and group.endswith("|")):
                raise ArchitectureSyntaxError(
                    f"{where} must start and end with '|', e.g. "
                    f"'|{'|'.join(f'skip~{s}' for s in range(target))}|'"
                )
            entries = group[1:-1].split("|")
            if len(entries) != target:
                raise ArchitectureSyntaxError(
                    f"{where} has {len(entries)} entries, expected {target} "
                    f"(one 'op~source' for each source 0..{target - 1}, in order)"
                )
            for expected_source, entry in enumerate(entries):
                op, sep, source = entry.partition("~")
                if not sep or not op or source != str(expected_source):
                    raise ArchitectureSyntaxError(
                        f"{where}, entry {expected_source + 1} ({entry!r}): expected "
                        f"'<op>~{expected_source}'"
                    )
                _check_op_name(op, f"{where}, entry {expected_source + 1}")
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


#: string key -> Macro field, in the order the canonical string writes them ("input" is special).
_MACRO_KEYS = {
    "width": "width",
    "timesteps": "timesteps",
    "input": "input",
    "classes": "num_classes",
    "hidden": "hidden",
    "population": "population",
    "stem_stride": "stem_stride",
}
_KEYS_HELP = f"one of a, b, {', '.join(_MACRO_KEYS)}"


@attrs.frozen
class Architecture:
    """Cells A and B and the macro parameters: everything needed to rebuild the network."""

    cell_a: Cell
    cell_b: Cell
    macro: Macro = Macro()

    @property
    def cells(self) -> dict[str, Cell]:
        """{"a": cell A, "b": cell B}."""
        return {"a": self.cell_a, "b": self.cell_b}

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
        parts = [p for p in text.strip().split(";") if p.strip()]
        for position, part in enumerate(parts, start=1):
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep:
                raise ArchitectureSyntaxError(
                    f"architecture string part {position} ({part.strip()!r}): expected "
                    f"'key=value' with key {_KEYS_HELP}"
                )
            if key not in ("a", "b", *_MACRO_KEYS):
                raise ArchitectureSyntaxError(
                    f"architecture string part {position}: unknown key {key!r}; expected {_KEYS_HELP}"
                )
            if key in fields:
                raise ArchitectureSyntaxError(
                    f"architecture string part {position}: key {key!r} given twice"
                )
            fields[key] = value.strip()
        for required in ("a", "b"):
            if required not in fields:
                raise ArchitectureSyntaxError(
                    f"architecture string {text.strip()!r} has no '{required}=<cell>' part; "
                    "expected 'a=<cell A>;b=<cell B>[;width=..;...]'"
                )
        macro_kwargs: dict[str, int] = {}
        for key, value in fields.items():
            if key in ("a", "b"):
                continue
            if key == "input":
                dims = value.split("x")
                if (
                    len(dims) != 3
                    or not all(_UNSIGNED.fullmatch(d) for d in dims)
                    or int(dims[1]) != int(dims[2])
                ):
                    raise ArchitectureSyntaxError(
                        f"architecture string: input={value!r}; expected CxHxW with H == W, "
                        "e.g. 3x32x32"
                    )
                macro_kwargs["in_channels"], macro_kwargs["input_size"] = int(dims[0]), int(dims[1])
                continue
            if not _UNSIGNED.fullmatch(value):
                raise ArchitectureSyntaxError(
                    f"architecture string: {key}={value!r}; expected a positive integer"
                )
            macro_kwargs[_MACRO_KEYS[key]] = int(value)
        cells = {}
        for key, label in (("a", "A"), ("b", "B")):
            try:
                cells[key] = Cell.parse(fields[key])
            except ArchitectureSyntaxError as error:
                raise ArchitectureSyntaxError(f"in cell {label} ({key}=...): {error}") from None
        try:
            macro = Macro(**macro_kwargs)
        except ArchitectureSyntaxError as error:
            raise ArchitectureSyntaxError(f"architecture string: {error}") from None
        return cls(cells["a"], cells["b"], macro)


LayerKind = Literal["conv", "linear"]


@attrs.frozen
class LayerShape:
    """One weight layer as a hardware model maps it (square kernels and feature maps).

    ``role`` is one of stem, cell_a, downsample, cell_b, classifier for the built-in spaces;
    ``name`` is the layer's module path in the built network (e.g. ``cell_a.edges.e0_1.conv``).
    """

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
        """Number of weights (biases are not mapped to the crossbars)."""
        if self.kind == "linear":
            return self.in_channels * self.out_channels
        return self.in_channels * self.out_channels * self.kernel * self.kernel
