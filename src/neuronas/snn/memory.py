"""Memory cost and parameter counts, the way the paper counts SNASNet's "weight parameters"."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from neuronas.arch import LayerShape

if TYPE_CHECKING:
    from torch import nn


def memory_cost(layers: Iterable[LayerShape], include_classifier: bool = False) -> int:
    """Weights of the conv layers (stem, cell edges, downsample); linear ones only if asked."""
    return sum(
        layer.weights
        for layer in layers
        if layer.kind == "conv" or (include_classifier and layer.kind == "linear")
    )


@attrs.frozen
class ParamSummary:
    """Parameters of a built network by where they live; ``memory`` is the paper's memory cost."""

    memory: int  # conv weights
    classifier: int  # linear weights and biases
    batchnorm: int  # BatchNorm scales and shifts (running statistics are buffers, not counted)
    other: int = 0  # anything else (e.g. conv biases of a third-party op)

    @property
    def total(self) -> int:
        return self.memory + self.classifier + self.batchnorm + self.other

    def as_dict(self) -> dict[str, int]:
        return {**attrs.asdict(self), "total": self.total}


def count_parameters(model: nn.Module) -> ParamSummary:
    """Count a built network's parameters by kind of layer."""
    from torch import nn

    counts = {"memory": 0, "classifier": 0, "batchnorm": 0, "other": 0}
    for module in model.modules():
        for name, parameter in module.named_parameters(recurse=False):
            if isinstance(module, nn.Conv2d) and name == "weight":
                bucket = "memory"
            elif isinstance(module, nn.Linear):
                bucket = "classifier"
            elif isinstance(module, nn.modules.batchnorm._BatchNorm):
                bucket = "batchnorm"
            else:
                bucket = "other"
            counts[bucket] += parameter.numel()
    return ParamSummary(**counts)
