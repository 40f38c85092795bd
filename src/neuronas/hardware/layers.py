"""Checks shared by both models: a layer they cannot map is a clear error, never a wrong number."""

from __future__ import annotations

from collections.abc import Sequence

from neuronas.arch import LayerShape
from neuronas.errors import HardwareModelError

MAPPABLE_KINDS = frozenset(("conv", "linear"))
SIZE_FIELDS = ("in_channels", "out_channels", "kernel", "in_size", "out_size")


def check_layers(model: str, layers: Sequence[LayerShape]) -> None:
    """Raise HardwareModelError naming the first layer ``model`` cannot estimate (cheap when fine)."""
    if not layers:
        raise HardwareModelError(f"{model}: no layers to estimate")
    for index, layer in enumerate(layers):
        try:
            sizes_ok = (
                min(
                    layer.in_channels,
                    layer.out_channels,
                    layer.kernel,
                    layer.in_size,
                    layer.out_size,
                )
                >= 1
            )
        except TypeError:
            sizes_ok = False
        if layer.kind in MAPPABLE_KINDS and sizes_ok:
            continue
        label = f"layer {index}" + (f" ({layer.name})" if layer.name else "")
        if layer.kind not in MAPPABLE_KINDS:
            raise HardwareModelError(
                f"{model} cannot estimate {label}: unknown layer kind {layer.kind!r}; "
                "it maps 'conv' and 'linear' layers"
            )
        for field in SIZE_FIELDS:
            value = getattr(layer, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise HardwareModelError(
                    f"{model} cannot estimate {label}: {field} must be a positive integer, "
                    f"got {value!r}"
                )
