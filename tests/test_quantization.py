"""The fixed-point format, its rounding schemes, model quantization, PTQ and the fake quantizer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from spikingjelly.activation_based import layer, neuron
from torch import nn

import neuronas.plugin
from neuronas.contracts import Quantizer
from neuronas.errors import UsageError
from neuronas.qat import fake_quantize, finalize_qat, prepare_qat
from neuronas.quantization import (
    FixedPointFormat,
    FixedPointQuantizer,
    post_training_quantize,
    quantize_model,
    quantize_tensor,
)

weights = arrays(
    np.float32,
    st.integers(1, 40),
    elements=st.floats(-3.0, 3.0, width=32, allow_subnormal=False),
)
bit_widths = st.integers(2, 32)
schemes = st.sampled_from(["nearest", "stochastic", "floor"])


def tiny_network(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        layer.SeqToANNContainer(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4)),
        neuron.LIFNode(tau=2.0, step_mode="m"),
        layer.SeqToANNContainer(nn.Flatten(), nn.Linear(4 * 3 * 3, 3)),
    )


def on_grid(values: torch.Tensor, fmt: FixedPointFormat) -> bool:
    codes = values.double() / fmt.step
    return bool(
        torch.equal(codes, torch.round(codes))
        and codes.min() >= fmt.min_code
        and codes.max() <= fmt.max_code
    )


# --- the format ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bits", "max_abs", "fraction_bits", "integer_bits"),
    [
        (8, 1.0, 6, 1),  # 1.0 * 2**6 = 64 <= 127 < 128
        (8, 0.3, 8, -1),  # 0.3 * 2**8 = 76.8 <= 127 < 153.6: range +-1/2, integer bits -1
        (4, 1.0, 2, 1),  # 4 <= 7 < 8
        (2, 1.0, 0, 1),  # codes -2..1
        (16, 5.0, 12, 3),  # 5 * 4096 = 20480 <= 32767 < 40960
        (8, 0.0, 7, 0),  # all zero: any format is exact
    ],
)
def test_format_chosen_from_the_tensor_range(bits, max_abs, fraction_bits, integer_bits):
    fmt = FixedPointFormat.for_range(bits, max_abs)
    assert fmt.fraction_bits == fraction_bits
    assert fmt.integer_bits == integer_bits
    assert max_abs <= fmt.max_code * fmt.step


def test_hand_computed_4_bit_example():
    # max |w| = 1 -> F = 2, step 1/4, codes -8..7.
    tensor = torch.tensor([1.0, -1.0, 0.3, 0.1, -0.62, 0.625])
    nearest, fmt = quantize_tensor(tensor, 4, "nearest")
    assert fmt.step == 0.25
    # 0.3*4 = 1.2 -> 1; 0.1*4 = 0.4 -> 0; -0.62*4 = -2.48 -> -2; 0.625*4 = 2.5 -> 2 (ties to even)
    assert nearest.tolist() == [1.0, -1.0, 0.25, 0.0, -0.5, 0.5]
    floor, _ = quantize_tensor(tensor, 4, "floor")
    assert floor.tolist() == [1.0, -1.0, 0.25, 0.0, -0.75, 0.5]


@settings(max_examples=150, deadline=None)
@given(weights, bit_widths, schemes, st.integers(0, 2**31))
def test_values_lie_on_the_grid_and_within_the_scheme_bound(array, bits, rounding, seed):
    tensor = torch.from_numpy(array)
    quantized, fmt = quantize_tensor(tensor, bits, rounding, torch.Generator().manual_seed(seed))
    assert quantized.dtype == torch.float32
    assert on_grid(quantized, fmt)
    error = quantized.double() - tensor.double()
    if rounding == "nearest":
        assert error.abs().max() <= fmt.step / 2
    elif rounding == "floor":
        # q <= w < q + step, compared exactly (w - q may round up to step in float64)
        assert torch.all(quantized.double() <= tensor.double())
        assert torch.all(quantized.double() + fmt.step > tensor.double())
    else:
        assert error.abs().max() <= fmt.step
        lower = torch.floor(tensor.double() / fmt.step) * fmt.step
        assert torch.all((quantized.double() == lower) | (quantized.double() == lower + fmt.step))


@settings(max_examples=15, deadline=None)
@given(st.floats(-0.99, 0.99), st.integers(2, 8), st.integers(0, 1000))
def test_stochastic_rounding_is_unbiased_on_average(value, bits, seed):
    count = 40_000
    tensor = torch.full((count,), value, dtype=torch.float64)
    tensor[0] = 1.0  # fixes the format: max |w| = 1
    quantized, fmt = quantize_tensor(
        tensor, bits, "stochastic", torch.Generator().manual_seed(seed)
    )
    samples = quantized[1:]
    fraction = value / fmt.step - math.floor(value / fmt.step)
    standard_error = fmt.step * math.sqrt(fraction * (1 - fraction) / (count - 1))
    assert abs(float(samples.mean()) - value) <= 6 * standard_error + 1e-12


def test_stochastic_rounding_is_seeded():
    tensor = torch.linspace(-1, 1, 101)
    first, _ = quantize_tensor(tensor, 4, "stochastic", torch.Generator().manual_seed(1))
    again, _ = quantize_tensor(tensor, 4, "stochastic", torch.Generator().manual_seed(1))
    other, _ = quantize_tensor(tensor, 4, "stochastic", torch.Generator().manual_seed(2))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


@pytest.mark.parametrize("bits", [0, 1, 33, 64, -8, 8.0, True, "8"])
def test_bit_widths_outside_2_to_32_are_refused(bits):
    with pytest.raises(UsageError, match="integer from 2 to 32"):
        FixedPointQuantizer().quantize(tiny_network(), bits)


def test_unknown_rounding_scheme_lists_the_valid_ones():
    with pytest.raises(UsageError, match="valid schemes: nearest, stochastic, floor"):
        FixedPointQuantizer().quantize(tiny_network(), 8, rounding="ceil")


# --- whole models -------------------------------------------------------------------------------


def test_32_bits_leave_a_float32_network_unchanged_within_the_format_resolution():
    network = tiny_network()
    before = {name: p.detach().clone() for name, p in network.named_parameters()}
    report = FixedPointQuantizer().quantize(network, 32)
    for name, parameter in network.named_parameters():
        original = before[name]
        if name.endswith(".weight") and name.replace(".weight", "") in report.layers:
            step = report.layers[name.replace(".weight", "")]["step"]
            assert (parameter - original).abs().max() <= step / 2
            # weights within 2**7 of the largest are already on the 32-bit grid: bit-identical
            large = original.abs() >= original.abs().max() / 128
            assert torch.equal(parameter[large], original[large])
        else:
            assert torch.equal(parameter, original)
    assert report.max_abs_error <= max(layer["step"] for layer in report.layers.values()) / 2


def test_model_quantization_covers_conv_and_linear_weights_only():
    network = tiny_network()
    bias_before = network[0][0].bias.detach().clone()
    bn_before = network[0][1].weight.detach().clone()
    report = quantize_model(network, 4)
    assert set(report.layers) == {"0.0", "2.1"}
    assert torch.equal(network[0][0].bias, bias_before)
    assert torch.equal(network[0][1].weight, bn_before)
    for name, module in [("0.0", network[0][0]), ("2.1", network[2][1])]:
        entry = report.layers[name]
        fmt = FixedPointFormat(4, entry["fraction_bits"])
        assert on_grid(module.weight, fmt)
        assert entry["max_abs_error"] <= entry["error_bound"]
    assert report.max_abs_error == max(entry["max_abs_error"] for entry in report.layers.values())


def test_ptq_returns_a_quantized_copy_unless_in_place():
    trained = tiny_network()
    original = trained[0][0].weight.detach().clone()
    quantized, report = post_training_quantize(trained, 6, rounding="floor")
    assert quantized is not trained
    assert torch.equal(trained[0][0].weight, original)
    assert not torch.equal(quantized[0][0].weight, original)
    assert report.bits == 6 and report.rounding == "floor"
    same, _ = post_training_quantize(trained, 6, inplace=True)
    assert same is trained
    assert not torch.equal(trained[0][0].weight, original)


def test_builtin_quantizer_is_registered():
    neuronas.plugin.reset()
    quantizer = neuronas.plugin.get_component("quantizer", "fixed-point")
    assert isinstance(quantizer, Quantizer)


# --- straight-through fake quantization ---------------------------------------------------------


def test_straight_through_estimator_passes_gradients_unchanged():
    tensor = torch.linspace(-1, 1, 9, requires_grad=True)
    upstream = torch.arange(9.0)
    output = fake_quantize(tensor, 3, "nearest")
    expected, _ = quantize_tensor(tensor.detach(), 3, "nearest")
    assert torch.equal(output.detach(), expected)
    (output * upstream).sum().backward()
    assert torch.equal(tensor.grad, upstream)


def test_qat_trains_float_weights_through_fixed_point_forward_and_finalizes():
    network = tiny_network()
    wrapped = prepare_qat(network, 4)
    assert wrapped == ["0.0", "2.1"]
    conv = network[0][0]
    seen, _ = quantize_tensor(conv.parametrizations.weight.original, 4)
    assert torch.equal(conv.weight, seen)
    optimizer = torch.optim.SGD(network.parameters(), lr=0.1)
    inputs = torch.randn(2, 3, 2, 5, 5)
    loss = network(inputs).square().mean()
    loss.backward()
    original = conv.parametrizations.weight.original
    assert original.grad is not None and original.grad.abs().sum() > 0
    before = original.detach().clone()
    optimizer.step()
    assert not torch.equal(original, before)
    with pytest.raises(UsageError, match="already prepared"):
        prepare_qat(network, 4)

    report = finalize_qat(network)
    assert report.bits == 4
    assert not hasattr(conv, "parametrizations")
    assert on_grid(conv.weight, FixedPointFormat(4, report.layers["0.0"]["fraction_bits"]))
    assert isinstance(conv.weight, nn.Parameter)
