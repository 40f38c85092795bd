"""Feature-map sizes and weight layers of the macro network, derived from the architecture alone
(no torch: hardware models, ``neuronas cost`` and ``show`` need no network)."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from neuronas.arch import Architecture, Cell, LayerShape, Macro
from neuronas.errors import UsageError
from neuronas.snn.opspec import OpSpec


def edge_key(source: int, target: int) -> str:
    """The module name of edge source->target inside a cell module, e.g. ``e0_1``."""
    return f"e{source}_{target}"


def back_edge_key(source: int, target: int) -> str:
    """The module name of backward edge source->target (source > target), e.g. ``b3_0``."""
    return f"b{source}_{target}"


@attrs.frozen
class FeatureSizes:
    """Feature-map sides through the macro network."""

    stem: int  # after the stem: cell A and the downsample conv work at this side
    cell_b: int  # after the first 2x2 pool
    classifier: int  # after the second 2x2 pool; the classifier sees 2C * side^2 inputs


def feature_sizes(macro: Macro) -> FeatureSizes:
    """The map sides, or a UsageError when the input does not fit the two 2x2 pools."""
    stem = (macro.input_size - 1) // macro.stem_stride + 1  # 3x3 conv, padding 1
    if macro.input_size % macro.stem_stride or stem % 4:
        need = 4 * macro.stem_stride
        raise UsageError(
            f"input size {macro.input_size} with stem stride {macro.stem_stride} gives "
            f"{stem}x{stem} maps after the stem; the network's two 2x2 average pools need the "
            f"input size to be a multiple of {need} (e.g. {max(need, macro.input_size // need * need)})"
        )
    return FeatureSizes(stem, stem // 2, stem // 4)


def cell_layer_shapes(
    cell: Cell, ops: Mapping[str, OpSpec], width: int, size: int, role: str
) -> list[LayerShape]:
    """The conv edges of a cell in the order a timestep runs them: the forward edges by target
    node, then the backward edges."""
    forward = [
        (f"{role}.edges.{edge_key(i, j)}.conv", op)
        for j in range(1, cell.nodes)
        for i, op in cell.inputs_of(j)
    ]
    backward = [
        (f"{role}.back_edges.{back_edge_key(j, i)}.conv", op) for j, i, op in cell.back_items()
    ]
    return [
        LayerShape("conv", width, width, kernel, size, size, 1, role, name)
        for name, op in forward + backward
        if (kernel := ops[op].kernel) is not None
    ]


def network_layer_shapes(
    arch: Architecture, ops: Mapping[str, OpSpec], include_classifier: bool = False
) -> list[LayerShape]:
    """The weight layers of `SpikingNetwork` in forward order, from the architecture alone."""
    macro, width = arch.macro, arch.macro.width
    sizes = feature_sizes(macro)
    layers = [
        LayerShape(
            "conv",
            macro.in_channels,
            width,
            3,
            macro.input_size,
            sizes.stem,
            macro.stem_stride,
            "stem",
            "stem.conv",
        ),
        *cell_layer_shapes(arch.cell_a, ops, width, sizes.stem, "cell_a"),
        LayerShape(
            "conv", width, 2 * width, 3, sizes.stem, sizes.stem, 1, "downsample", "downsample.conv"
        ),
        *cell_layer_shapes(arch.cell_b, ops, 2 * width, sizes.cell_b, "cell_b"),
    ]
    if include_classifier:
        features = 2 * width * sizes.classifier**2
        layers += [
            LayerShape(
                "linear", features, macro.hidden, 1, 1, 1, 1, "classifier", "classifier.hidden"
            ),
            LayerShape(
                "linear",
                macro.hidden,
                macro.num_classes * macro.population,
                1,
                1,
                1,
                1,
                "classifier",
                "classifier.out",
            ),
        ]
    return layers
