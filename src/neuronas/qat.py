"""Quantization-aware training: conv and linear weights train through a fixed-point fake quantizer.

The forward pass sees each weight on its per-tensor fixed-point grid (`neuronas.quantization`), the
backward pass passes the gradient straight through; `finalize_qat` quantizes the trained weights for
good with the same settings.
"""

from __future__ import annotations

import torch
from spikingjelly.activation_based import functional
from torch import nn
from torch.nn.utils import parametrize

from neuronas.contracts import QuantizationReport
from neuronas.errors import UsageError
from neuronas.quantization import (
    check_bits,
    check_rounding,
    quantize_model,
    quantize_tensor,
    weight_layers,
)


class _StraightThroughFixedPoint(torch.autograd.Function):
    """Forward: the fixed-point value; backward: the gradient unchanged (no clipping ever occurs)."""

    @staticmethod
    def forward(ctx, tensor, bits, rounding, generator):  # type: ignore[override]
        quantized, _fmt = quantize_tensor(tensor, bits, rounding, generator)
        return quantized

    @staticmethod
    def backward(ctx, grad_output):  # type: ignore[override]
        return grad_output, None, None, None


def fake_quantize(
    tensor: torch.Tensor,
    bits: int,
    rounding: str = "nearest",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``tensor`` on its fixed-point grid, with a straight-through (identity) gradient."""
    check_bits(bits)
    check_rounding(rounding)
    return _StraightThroughFixedPoint.apply(tensor, bits, rounding, generator)


class FixedPointFakeQuant(nn.Module):
    """A weight parametrization for quantization-aware training: float weights are trained, the
    forward pass sees their fixed-point values."""

    def __init__(self, bits: int, rounding: str = "nearest", seed: int = 0) -> None:
        super().__init__()
        self.bits = check_bits(bits)
        self.rounding = check_rounding(rounding)
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return fake_quantize(weight, self.bits, self.rounding, self.generator)

    def extra_repr(self) -> str:
        return f"bits={self.bits}, rounding={self.rounding!r}, seed={self.seed}"


def prepare_qat(model: nn.Module, bits: int, rounding: str = "nearest", seed: int = 0) -> list[str]:
    """Make every conv and linear layer of ``model`` train through a fixed-point fake quantizer.

    Returns the names of the wrapped layers. Their float weights move to
    ``module.parametrizations.weight.original`` (state-dict keys change accordingly).
    """
    check_bits(bits)
    check_rounding(rounding)
    names = []
    for index, (name, module) in enumerate(weight_layers(model)):
        if parametrize.is_parametrized(module, "weight"):
            raise UsageError(f"layer {name!r} is already prepared for quantization-aware training")
        parametrize.register_parametrization(
            module, "weight", FixedPointFakeQuant(bits, rounding, seed + index)
        )
        names.append(name)
    functional.invalidate_reset_cache(model)
    return names


def finalize_qat(model: nn.Module) -> QuantizationReport:
    """Remove the fake quantizers of ``prepare_qat`` and quantize the trained float weights for
    good, with the same bits, rounding and seed."""
    settings: tuple[int, str, int] | None = None
    for _name, module in weight_layers(model):
        if parametrize.is_parametrized(module, "weight"):
            fake = module.parametrizations.weight[0]
            settings = settings or (fake.bits, fake.rounding, fake.seed)
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=False)
    if settings is None:
        raise UsageError("the model has no layers prepared for quantization-aware training")
    functional.invalidate_reset_cache(model)
    bits, rounding, seed = settings
    return quantize_model(model, bits, rounding, seed)
