"""Cells, architectures and their canonical strings; the layer shapes a hardware model maps.

A cell is a DAG over ``nodes`` nodes whose every forward edge i->j (i < j) carries one operation.
Edges are stored source-major, the order of the paper's Algorithm 1 (c01, c02, c03, c12, c13, c23).
The string form follows NAS-Bench-201, grouped by target node:
``|conv3x3~0|+|skip~0|avgpool3x3~1|+|skip~0|conv3x3~1|skip~2|``.

A cell may also carry backward edges j->i (j > i), SNASNet's temporal feedback: what node j computed
at timestep t-1 is added to node i's input at timestep t. They are stored target-major (b10, b20, b30,
b21, b31, b32, SNASNet's order) and written after a ``<``, again grouped by target node:
``<|zero~1|zero~2|conv3x3~3|+|skip~2|zero~3|+|zero~3|``. A cell without backward edges has no ``<`` part.

An architecture string joins cells A and B and the macro parameters that change the network:
``a=<cell>;b=<cell>;width=128;timesteps=5;input=3x32x32;classes=10;hidden=1024;population=10;
stem_stride=1;bn=per-step;dropout=0.0;init=pytorch`` (one line).
The strings are canonical (one string per architecture), so they serve as cache and de-duplication keys.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Iterator
from typing import Literal

import attrs

from neuronas.errors import ArchitectureSyntaxError

#: What an operation name may contain: the characters that cannot break the string format.
OP_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")
_UNSIGNED = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?")
_EXAMPLE_CELL = "|conv3x3~0|+|skip~0|conv3x3~1|+|skip~0|avgpool3x3~1|conv3x3~2|"


@functools.cache
def edges_of(nodes: int) -> tuple[tuple[int, int], ...]:
    """Forward edges of a ``nodes``-node cell in source-major order."""
    return tuple((i, j) for i in range(nodes) for j in range(i + 1, nodes))


@functools.cache
def back_edges_of(nodes: int) -> tuple[tuple[int, int], ...]:
    """Backward edges (source, target) of a ``nodes``-node cell, source > target, target-major."""
    return tuple((j, i) for i in range(nodes - 1) for j in range(i + 1, nodes))


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
    """One operation per forward edge, in source-major edge order, and optionally one per backward
    (temporal feedback) edge, in target-major order (``back``; empty: a feed-forward cell)."""

    ops: tuple[str, ...] = attrs.field(converter=tuple)
    back: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    def __attrs_post_init__(self) -> None:
        if _nodes_for_edge_count(len(self.ops)) is None:
            raise ArchitectureSyntaxError(
                f"a cell needs n*(n-1)/2 edge operations for some n >= 2 nodes "
                f"(1, 3, 6, 10, ...), got {len(self.ops)}"
            )
        if self.back and len(self.back) != len(self.ops):
            raise ArchitectureSyntaxError(
                f"a {self.nodes}-node cell with backward edges needs {len(self.ops)} backward "
                f"operations (one per node pair), got {len(self.back)}"
            )
        for i, j, op in self.items():
            _check_op_name(op, f"cell edge {i}-{j}")
        for j, i, op in self.back_items():
            _check_op_name(op, f"cell backward edge {j}-{i}")

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
        """(source, target, op) for every forward edge, source-major."""
        for (i, j), op in zip(self.edges, self.ops, strict=True):
            yield i, j, op

    def back_items(self) -> Iterator[tuple[int, int, str]]:
        """(source, target, op) for every backward edge (source > target), target-major."""
        for (j, i), op in zip(back_edges_of(self.nodes), self.back, strict=False):
            yield j, i, op

    def inputs_of(self, target: int) -> tuple[tuple[int, str], ...]:
        """(source, op) of every forward edge into ``target``, by source."""
        return tuple((source, self.op(source, target)) for source in range(target))

    def back_inputs_of(self, target: int) -> tuple[tuple[int, str], ...]:
        """(source, op) of every backward edge into ``target`` (none without backward edges)."""
        return tuple((j, op) for j, i, op in self.back_items() if i == target)

    def to_string(self) -> str:
        text = _groups_to_string(self.inputs_of(target) for target in range(1, self.nodes))
        if self.back:
            text += "<" + _groups_to_string(
                self.back_inputs_of(target) for target in range(self.nodes - 1)
            )
        return text

    def __str__(self) -> str:
        return self.to_string()

    @classmethod
    def parse(cls, text: str) -> Cell:
        """Parse a NAS-Bench-201 style cell string; errors name the group and entry at fault."""
        text = text.strip()
        if not text:
            raise ArchitectureSyntaxError(f"empty cell string; expected e.g. {_EXAMPLE_CELL!r}")
        forward_text, sep, back_text = text.partition("<")
        groups = forward_text.split("+")
        nodes = len(groups) + 1
        forward = _parse_groups(
            text, groups, [tuple(range(target)) for target in range(1, nodes)], first_target=1
        )
        ops = tuple(forward[edge] for edge in edges_of(nodes))
        if not sep:
            return cls(ops)
        back_groups = back_text.split("+")
        if len(back_groups) != nodes - 1:
            raise ArchitectureSyntaxError(
                f"cell string {text!r}: the backward part after '<' has {len(back_groups)} "
                f"group(s); a {nodes}-node cell needs {nodes - 1} (the feedback inputs of nodes "
                f"0..{nodes - 2})"
            )
        back = _parse_groups(
            text,
            back_groups,
            [tuple(range(target + 1, nodes)) for target in range(nodes - 1)],
            first_target=0,
            backward=True,
        )
        return cls(ops, tuple(back[edge] for edge in back_edges_of(nodes)))


def _groups_to_string(groups: Iterable[Iterable[tuple[int, str]]]) -> str:
    return "+".join(
        "|" + "|".join(f"{op}~{source}" for source, op in group) + "|" for group in groups
    )


def _parse_groups(
    text: str,
    groups: list[str],
    sources: list[tuple[int, ...]],
    first_target: int,
    backward: bool = False,
) -> dict[tuple[int, int], str]:
    """{(source, target): op} of ``groups``; group k lists the inputs of node first_target + k,
    one ``op~source`` for each of ``sources[k]``, in order."""
    kind = "backward " if backward else ""
    by_edge: dict[tuple[int, int], str] = {}
    for index, (group, expected) in enumerate(zip(groups, sources, strict=True)):
        target = first_target + index
        where = (
            f"cell string {text!r}: {kind}group {index + 1} ({group!r}, the {kind}inputs of node "
            f"{target})"
        )
        if len(group) < 2 or not (group.startswith("|") and group.endswith("|")):
            raise ArchitectureSyntaxError(
                f"{where} must start and end with '|', e.g. "
                f"'|{'|'.join(f'skip~{s}' for s in expected)}|'"
            )
        entries = group[1:-1].split("|")
        if len(entries) != len(expected):
            listed = ", ".join(map(str, expected))
            raise ArchitectureSyntaxError(
                f"{where} has {len(entries)} entries, expected {len(expected)} "
                f"(one 'op~source' for each source {listed}, in order)"
            )
        for position, (source, entry) in enumerate(zip(expected, entries, strict=True), start=1):
            op, sep, given = entry.partition("~")
            if not sep or not op or given != str(source):
                raise ArchitectureSyntaxError(
                    f"{where}, entry {position} ({entry!r}): expected '<op>~{source}'"
                )
            _check_op_name(op, f"{where}, entry {position}")
            by_edge[(source, target)] = op
    return by_edge


def _positive_int(_instance: object, attribute: attrs.Attribute, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ArchitectureSyntaxError(f"{attribute.name} must be a positive integer, got {value!r}")
    limit = MACRO_LIMITS[attribute.name]
    if value > limit:
        raise ArchitectureSyntaxError(
            f"{attribute.name} must be at most {limit:,}, got {value:,}"
            if value < 10**30
            else f"{attribute.name} must be at most {limit:,}, got a {len(str(value))}-digit number"
        )


#: The largest value of each macro parameter (far beyond any network that fits a machine).
MACRO_LIMITS = {
    "width": 8192,
    "timesteps": 1000,
    "in_channels": 1024,
    "input_size": 4096,
    "num_classes": 100_000,
    "hidden": 1_000_000,
    "population": 1000,
    "stem_stride": 16,
}


BATCHNORM_MODES = ("per-step", "pooled")
WEIGHT_INITS = ("pytorch", "snasnet")


def _one_of(choices: tuple[str, ...]):
    def check(_instance: object, attribute: attrs.Attribute, value: str) -> None:
        if value not in choices:
            raise ArchitectureSyntaxError(
                f"{attribute.name} must be one of {', '.join(choices)}, got {value!r}"
            )

    return check


def _probability(_instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ArchitectureSyntaxError(f"{attribute.name} must be in [0, 1), got {value!r}")


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
    #: BatchNorm statistics in train mode: per timestep (SNASNet's network, which steps through
    #: time) or pooled over all timesteps of the batch (time folded into the batch).
    batchnorm: str = attrs.field(default="per-step", validator=_one_of(BATCHNORM_MODES))
    #: SNASNet's classifier dropout (one mask per sequence, kept over its timesteps); 0: none.
    dropout: float = attrs.field(default=0.0, converter=float, validator=_probability)
    #: initial weight distribution: PyTorch's defaults, or SNASNet's (kaiming a=2, N(0, 0.01))
    weight_init: str = attrs.field(default="pytorch", validator=_one_of(WEIGHT_INITS))


#: string key -> Macro field, in the order the canonical string writes them ("input" is special).
_MACRO_KEYS = {
    "width": "width",
    "timesteps": "timesteps",
    "input": "input",
    "classes": "num_classes",
    "hidden": "hidden",
    "population": "population",
    "stem_stride": "stem_stride",
    "bn": "batchnorm",
    "dropout": "dropout",
    "init": "weight_init",
}
_TEXT_KEYS = {"bn", "init"}
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
            f"hidden={m.hidden};population={m.population};stem_stride={m.stem_stride};"
            f"bn={m.batchnorm};dropout={m.dropout!r};init={m.weight_init}"
        )

    def __str__(self) -> str:
        return self.to_string()

    @classmethod
    def parse(cls, text: str, defaults: Macro | None = None) -> Architecture:
        """Parse an architecture string; omitted macro keys take the values of ``defaults``
        (``Macro()`` when not given)."""
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
        macro_kwargs: dict[str, int | float | str] = {}
        for key, value in fields.items():
            if key in ("a", "b"):
                continue
            if key in _TEXT_KEYS:
                macro_kwargs[_MACRO_KEYS[key]] = value
                continue
            if key == "dropout":
                if not _DECIMAL.fullmatch(value):
                    raise ArchitectureSyntaxError(
                        f"architecture string: dropout={value!r}; expected a number in [0, 1)"
                    )
                macro_kwargs["dropout"] = float(value)
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
            macro = attrs.evolve(defaults or Macro(), **macro_kwargs)
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
