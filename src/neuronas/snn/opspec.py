"""The edge operations of cell search spaces, described without torch: an `OpSpec` says how to make
the op's module for a width (imported only when a network is built) and, for the hardware model, the
kernel of its single C->C convolution (``None`` for weightless operations)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from torch import nn


@attrs.frozen
class ModuleFactory:
    """``factory(width)`` builds ``module:name(width, *args)`` (without ``width`` for an op that
    keeps any width), importing it on first use."""

    path: str
    args: tuple[Any, ...] = ()
    takes_width: bool = True

    def __call__(self, width: int) -> Any:
        module, _, name = self.path.rpartition(":")
        make = getattr(importlib.import_module(module), name)
        return make(width, *self.args) if self.takes_width else make(*self.args)


@attrs.frozen
class OpSpec:
    """An edge operation: ``make(width)`` builds it; ``kernel`` is its conv kernel, or None."""

    name: str
    make: Callable[[int], nn.Module]
    kernel: int | None = None
    is_zero: bool = False


def conv_op(kernel: int) -> OpSpec:
    """LIF -> k x k conv -> BatchNorm (`neuronas.snn.ops.SpikingConv`)."""
    factory = ModuleFactory("neuronas.snn.ops:SpikingConv", (kernel,))
    return OpSpec(f"conv{kernel}x{kernel}", factory, kernel)


#: Every built-in operation by name.
BUILTIN_OPS: Mapping[str, OpSpec] = {
    spec.name: spec
    for spec in (
        OpSpec("zero", ModuleFactory("neuronas.snn.ops:Zero", takes_width=False), is_zero=True),
        OpSpec("skip", ModuleFactory("neuronas.snn.ops:Skip", takes_width=False)),
        conv_op(1),
        conv_op(3),
        conv_op(5),
        conv_op(7),
        OpSpec("avgpool3x3", ModuleFactory("neuronas.snn.ops:AvgPool3x3", takes_width=False)),
    )
}
