"""Signed fixed-point weight quantization (FxP2 ... FxP32) and PTQ; QAT lives in `neuronas.qat`.

A ``bits``-bit signed format with ``fraction_bits`` F stores integer codes k in
[-2**(bits-1), 2**(bits-1) - 1] and represents k * 2**-F. Per tensor, F is the largest integer for
which the tensor's largest magnitude fits without clipping, so no weight is ever saturated and the
error per weight is bounded by the rounding scheme alone:

- ``nearest`` (ties to even): |q - w| <= step / 2
- ``floor``: 0 <= w - q < step
- ``stochastic``: q is floor or ceil of w on the grid, up with probability equal to the fraction
  (unbiased, E[q] = w), so |q - w| < step; draws come from a generator seeded by ``seed``.

The integer-bit count ``bits - 1 - F`` is negative for tensors whose magnitudes are all below 1/2
(most freshly initialised layers): the format then spends every bit on the fraction.
Rounding happens in float64; every resulting value is exactly representable in float32.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING

import attrs

from neuronas.contracts import QuantizationReport, Quantizer
from neuronas.errors import UsageError

if TYPE_CHECKING:  # torch is imported where weights are touched, so listing quantizers stays fast
    import torch
    from torch import nn

ROUNDING_SCHEMES: tuple[str, ...] = ("nearest", "stochastic", "floor")
MIN_BITS = 2
MAX_BITS = 32


def check_bits(bits: int) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or not MIN_BITS <= bits <= MAX_BITS:
        raise UsageError(
            f"fixed-point weight bit width must be an integer from {MIN_BITS} to {MAX_BITS} "
            f"(sign bit included), got {bits!r}"
        )
    return bits


def check_rounding(rounding: str) -> str:
    if rounding not in ROUNDING_SCHEMES:
        raise UsageError(
            f"unknown rounding scheme {rounding!r}; valid schemes: {', '.join(ROUNDING_SCHEMES)}"
        )
    return rounding


@attrs.frozen
class FixedPointFormat:
    """A signed fixed-point format: ``bits`` in total, ``fraction_bits`` after the binary point."""

    bits: int
    fraction_bits: int

    @property
    def integer_bits(self) -> int:
        return self.bits - 1 - self.fraction_bits

    @property
    def step(self) -> float:
        return math.ldexp(1.0, -self.fraction_bits)

    @property
    def max_code(self) -> int:
        return 2 ** (self.bits - 1) - 1

    @property
    def min_code(self) -> int:
        return -(2 ** (self.bits - 1))

    def error_bound(self, rounding: str) -> float:
        """The largest |q - w| the rounding scheme can produce (strict for floor and stochastic)."""
        return self.step / 2 if check_rounding(rounding) == "nearest" else self.step

    @classmethod
    def for_range(cls, bits: int, max_abs: float) -> FixedPointFormat:
        """The finest format whose largest code still covers ``max_abs`` without clipping."""
        check_bits(bits)
        max_code = 2 ** (bits - 1) - 1
        if not math.isfinite(max_abs):
            raise UsageError(f"cannot choose a fixed-point format for a non-finite range {max_abs}")
        if max_abs == 0.0:
            return cls(bits, bits - 1)
        fraction = math.floor(math.log2(max_code / max_abs))
        while math.ldexp(max_abs, fraction + 1) <= max_code:
            fraction += 1
        while math.ldexp(max_abs, fraction) > max_code:
            fraction -= 1
        return cls(bits, fraction)


def quantize_tensor(
    tensor: torch.Tensor,
    bits: int,
    rounding: str = "nearest",
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, FixedPointFormat]:
    """``tensor`` rounded onto its per-tensor fixed-point grid (same dtype and device), and the format.

    ``stochastic`` draws its uniforms on the CPU from ``generator`` (a fresh one seeded 0 if None),
    so results do not depend on the device.
    """
    import torch

    check_rounding(rounding)
    values = tensor.detach().double()
    max_abs = float(values.abs().max()) if values.numel() else 0.0
    fmt = FixedPointFormat.for_range(bits, max_abs)
    scaled = values * math.ldexp(1.0, fmt.fraction_bits)
    if rounding == "nearest":
        codes = torch.round(scaled)
    elif rounding == "floor":
        codes = torch.floor(scaled)
    else:
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        noise = torch.rand(values.shape, generator=generator, dtype=torch.float64)
        codes = torch.floor(scaled + noise.to(values.device))
    codes = codes.clamp(fmt.min_code, fmt.max_code)
    quantized = codes * fmt.step
    return quantized.to(tensor.dtype), fmt


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) for every conv and linear layer, the layers whose weights are quantized."""
    from torch import nn

    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.modules.conv._ConvNd | nn.Linear)
    ]


def _stored_weight(module: nn.Module) -> torch.Tensor:
    """The weight parameter itself, also under a QAT parametrization (its float original)."""
    from torch.nn.utils import parametrize

    if parametrize.is_parametrized(module, "weight"):
        return module.parametrizations.weight.original
    return module.weight


def quantize_model(
    model: nn.Module, bits: int, rounding: str = "nearest", seed: int = 0
) -> QuantizationReport:
    """Quantize the weights of every conv and linear layer of ``model`` in place; biases stay float."""
    import torch

    check_bits(bits)
    check_rounding(rounding)
    generator = torch.Generator().manual_seed(seed)
    layers: dict[str, dict[str, float]] = {}
    worst = 0.0
    with torch.no_grad():
        for name, module in weight_layers(model):
            weight = _stored_weight(module)
            if not torch.isfinite(weight).all():
                raise UsageError(f"layer {name!r} has non-finite weights; cannot quantize it")
            quantized, fmt = quantize_tensor(weight, bits, rounding, generator)
            error = (quantized.double() - weight.double()).abs()
            weight.copy_(quantized)
            layer_max = float(error.max()) if error.numel() else 0.0
            worst = max(worst, layer_max)
            layers[name or type(module).__name__] = {
                "integer_bits": fmt.integer_bits,
                "fraction_bits": fmt.fraction_bits,
                "step": fmt.step,
                "max_abs_weight": float(weight.abs().max()) if weight.numel() else 0.0,
                "max_abs_error": layer_max,
                "mean_abs_error": float(error.mean()) if error.numel() else 0.0,
                "error_bound": fmt.error_bound(rounding),
            }
    return QuantizationReport(bits=bits, rounding=rounding, layers=layers, max_abs_error=worst)


@attrs.frozen
class FixedPointQuantizer:
    """The ``fixed-point`` quantizer: per-tensor signed FxP weights of conv and linear layers."""

    name: str = "fixed-point"
    description: str = (
        "signed fixed-point weights (FxP2-FxP32), per-tensor format from the tensor's range; "
        "rounding nearest, stochastic or floor"
    )

    def quantize(
        self, model: nn.Module, bits: int, rounding: str = "nearest", seed: int = 0
    ) -> QuantizationReport:
        return quantize_model(model, bits, rounding, seed)

    def prepare_qat(
        self, model: nn.Module, bits: int, rounding: str = "nearest", seed: int = 0
    ) -> list[str]:
        from neuronas.qat import prepare_qat

        return prepare_qat(model, bits, rounding, seed)


def post_training_quantize(
    model: nn.Module,
    bits: int,
    *,
    rounding: str = "nearest",
    seed: int = 0,
    quantizer: Quantizer | None = None,
    inplace: bool = False,
) -> tuple[nn.Module, QuantizationReport]:
    """PTQ of a trained network: a quantized copy (or ``model`` itself if ``inplace``) and the report."""
    target = model if inplace else copy.deepcopy(model)
    report = (quantizer or FixedPointQuantizer()).quantize(
        target, bits, rounding=rounding, seed=seed
    )
    return target, report
