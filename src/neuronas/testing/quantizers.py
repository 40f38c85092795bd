"""`check_quantizer`: the `neuronas.contracts.Quantizer` contract, rule by rule."""

from __future__ import annotations

import itertools
import math
from typing import Any

from neuronas.contracts import QuantizationReport, Quantizer, TrainingQuantizer
from neuronas.errors import UsageError
from neuronas.testing import networks
from neuronas.testing.core import Checker, Conformance, check_members, is_cost, label

#: Every rule `check_quantizer` holds a quantizer to, in the order it checks them.
QUANTIZER_RULES: dict[str, str] = {
    "members": "name, description and quantize, as neuronas.contracts.Quantizer",
    "quantizes": "quantize(model, bits, rounding='nearest', seed=0) runs for 2 to 16 bits",
    "report": "quantize returns a QuantizationReport of the bits and rounding it was asked for, "
    "with a finite max_abs_error >= 0",
    "in-place": "quantize changes the conv and linear weights of the model it is given",
    "levels": "a bits-bit weight tensor takes at most 2**bits values per output channel",
    "more-bits-closer": "more bits never move the weights further from the float ones",
    "deterministic": "the same network, bits, rounding and seed give the same weights",
    "still-runs": "the quantized network still maps a batch to finite outputs",
    "unknown-rounding": "a rounding scheme it does not know is a UsageError",
    "qat": "an optional prepare_qat(model, bits, rounding, seed) makes the forward pass see the "
    "weights quantize gives at those bits, and the loss's gradient reaches the float weights",
}

BITS = (2, 4, 8, 16)


def check_quantizer(quantizer: Any, *, space: Any = None) -> Conformance:
    """Hold ``quantizer`` to every rule of `QUANTIZER_RULES`; a broken rule is a `ConformanceError`.

    It quantizes small candidates of ``space`` (the default search space if None). Needs torch.
    """
    import torch

    check = Checker(label("quantizer", quantizer), QUANTIZER_RULES)
    check_members(check, quantizer, Quantizer)
    space = space if space is not None else networks.default_space()

    def quantized(bits: int, where: str) -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
        model = networks.small_network(space, seed=0)
        before = {
            name: module.weight.detach().clone() for name, module in networks.weight_layers(model)
        }
        report = check.run(
            "quantizes", where, quantizer.quantize, model, bits, rounding="nearest", seed=0
        )
        check.ensure(
            "report",
            isinstance(report, QuantizationReport),
            where,
            f"returned a {type(report).__name__}, not a neuronas.contracts.QuantizationReport",
        )
        check.ensure(
            "report",
            (report.bits, report.rounding) == (bits, "nearest"),
            where,
            f"the report says bits={report.bits!r}, rounding={report.rounding!r}",
        )
        check.ensure(
            "report",
            is_cost(report.max_abs_error),
            where,
            f"max_abs_error={report.max_abs_error!r}",
        )
        return model, before

    errors = []
    for bits in BITS:
        where = f"a fresh candidate (seed 0) at {bits} bits"
        model, before = quantized(bits, where)
        error = 0.0
        for name, module in networks.weight_layers(model):
            weight = module.weight.detach()
            error = max(error, float((weight - before[name]).abs().max()))
            rows = weight.reshape(weight.shape[0], -1)
            most = max(int(torch.unique(row).numel()) for row in rows)
            check.ensure(
                "levels",
                most <= 2**bits,
                f"{where}, layer {name}",
                f"an output channel has {most} distinct weights",
            )
        if bits == BITS[0]:
            check.ensure("in-place", error > 0, where, "no conv or linear weight changed")
        errors.append((bits, error))
        output = check.run(
            "still-runs", where, networks.forward, model, networks.input_batches()[0]
        )
        check.ensure(
            "still-runs",
            bool(torch.isfinite(output).all()),
            where,
            "the outputs are not all finite",
        )
    for (low_bits, low), (high_bits, high) in itertools.pairwise(errors):
        check.ensure(
            "more-bits-closer",
            high <= low or math.isclose(high, low),
            f"a fresh candidate at {low_bits} and {high_bits} bits",
            f"the largest weight change grew from {low!r} to {high!r}",
        )

    first, _ = quantized(4, "a fresh candidate at 4 bits")
    again, _ = quantized(4, "a fresh candidate at 4 bits, again")
    changed = [
        name
        for (name, one), (_, other) in zip(
            networks.weight_layers(first), networks.weight_layers(again), strict=True
        )
        if not torch.equal(one.weight, other.weight)
    ]
    check.ensure(
        "deterministic",
        not changed,
        "the same candidate quantized twice at 4 bits, seed 0",
        f"{', '.join(changed[:3])} differ",
    )

    model = networks.small_network(space, seed=0)
    check.refuses(
        "unknown-rounding",
        "quantize(model, 4, rounding='no-such-rounding')",
        UsageError,
        lambda: quantizer.quantize(model, 4, rounding="no-such-rounding", seed=0),
    )
    _check_qat(check, quantizer, space)
    return check.report()


def _check_qat(check: Checker, quantizer: Any, space: Any) -> None:
    """The fake quantization a quantizer offers for training, if it has the optional method."""
    import torch

    check.mark("qat")
    if not isinstance(quantizer, TrainingQuantizer):
        return
    where = "a fresh candidate (seed 0) prepared for QAT at 4 bits"
    trained = networks.small_network(space, seed=0)
    check.run("qat", where, quantizer.prepare_qat, trained, 4, rounding="nearest", seed=0)
    quantized = networks.small_network(space, seed=0)
    quantizer.quantize(quantized, 4, rounding="nearest", seed=0)
    batch = networks.input_batches()[0]
    seen, expected = _first_layer_output(trained, batch), _first_layer_output(quantized, batch)
    check.ensure(
        "qat",
        torch.allclose(seen, expected, rtol=1e-5, atol=1e-6),
        where,
        f"its first weight layer's outputs differ from the quantized network's by up to "
        f"{float((seen - expected).abs().max())!r}",
    )
    networks.reset(trained)
    trained(batch).sum().backward()
    networks.reset(trained)
    reached = any(
        parameter.grad is not None and bool(parameter.grad.abs().sum() > 0)
        for parameter in trained.parameters()
    )
    check.ensure("qat", reached, f"{where}, backward", "no float weight got a gradient")


def _first_layer_output(model: Any, batch: Any) -> Any:
    """What the first conv or linear layer computes in a forward pass (so a spiking network whose
    later layers stay silent still shows which weights it used)."""
    outputs = []
    _name, layer = next(networks.weight_layers(model))
    handle = layer.register_forward_hook(lambda _module, _inputs, output: outputs.append(output))
    try:
        networks.forward(model, batch)
    finally:
        handle.remove()
    return outputs[0]
