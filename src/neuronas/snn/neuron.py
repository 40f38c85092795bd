"""The LIF neuron every built-in network uses (SNASNet's settings, multi-step mode)."""

from __future__ import annotations

from typing import Any

from spikingjelly.activation_based import neuron, surrogate

#: SNASNet's LIF: tau 4/3, threshold 1, hard reset to 0, reset detached from the graph.
LIF_DEFAULTS: dict[str, Any] = {
    "tau": 4.0 / 3.0,
    "v_threshold": 1.0,
    "v_reset": 0.0,
    "detach_reset": True,
}


def make_lif(**overrides: Any) -> neuron.LIFNode:
    """A multi-step LIF neuron ([T, N, ...] in, spikes out) with an ATan(alpha=2) surrogate."""
    settings = {**LIF_DEFAULTS, **overrides}
    settings.setdefault("surrogate_function", surrogate.ATan(alpha=2.0))
    return neuron.LIFNode(step_mode="m", **settings)
