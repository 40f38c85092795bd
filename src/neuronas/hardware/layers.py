"""Checks shared by both models: a layer they cannot map is a clear error, never a wrong number."""

from __future__ import annotations

from collections.abc import Sequence

from neuronas.arch import LayerShape
from neuronas.errors import HardwareModelError

MAPPABLE_KINDS = ("conv", "linear")


def check_layers(model: str, layers: Sequence[LayerShape]) -> None:
    """Raise HardwareModelError naming the first layer ``model`` cannot estimate."""
    if not layers:
        raise HardwareModelError(f"{model}: no layers to estimate")
    for index, layer in enumerate(layers):
        label = f"layer {index}" + (f" ({layer.name})" if layer.name else "")
        if layer.kind not in MAPPABLE_KINDS:
            raise HardwareModelError(
                f"{model} cannot estimate {label}: unknown layer kind {layer.kind!r}; "
                f"it maps {' and '.join(repr(kind) for kind in MAPPABLE_KINDS)} layers"
            )
        for field in ("in_channels", "out_channels", "kernel", "in_size", "out_size"):
            value = getattr(layer, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise HardwareModelError(
                    f"{model} cannot estimate {label}: {field} must be a positive integer, "
                    f"got {value!r}"
                )
