"""The LIF neuron every built-in network uses (SNASNet's settings, multi-step mode)."""

from __future__ import annotations

from typing import Any

import torch
from spikingjelly.activation_based import neuron, surrogate

#: SNASNet's LIF: tau 4/3, threshold 1, hard reset to 0, reset detached from the graph.
LIF_DEFAULTS: dict[str, Any] = {
    "tau": 4.0 / 3.0,
    "v_threshold": 1.0,
    "v_reset": 0.0,
    "detach_reset": True,
}


def lif_steps(
    x_seq: torch.Tensor, potential: torch.Tensor, tau: float, threshold: float, reset: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """SpikingJelly's hard-reset LIF over [T, ...] with the same float operations, without its
    autograd wrapper and the arithmetic reset: h = v + (x - (v - reset)) / tau; spike = h >= threshold
    (the same test as h - threshold >= 0 in IEEE arithmetic); v = reset where it spiked, else h.
    Spikes are written into one preallocated [T, ...] tensor."""
    spikes = torch.empty_like(x_seq)
    for step, x in enumerate(x_seq):
        # v - 0.0 is v exactly and a + b is b + a in IEEE arithmetic, so with a reset to 0 this is
        # the same h in one temporary
        leak = potential if reset == 0.0 else potential - reset
        charged = torch.sub(x, leak).div_(tau).add_(potential)
        fired = charged >= threshold
        spikes[step] = fired
        potential = charged.masked_fill_(fired, reset)
    return spikes, potential


class LIF(neuron.LIFNode):
    """SpikingJelly's LIFNode. Where no gradient is taken (scoring), its multi-step forward runs
    `lif_steps`: bit-identical spikes and membranes, without the autograd wrapper (faster)."""

    def multi_step_forward(self, x_seq: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if (
            args
            or kwargs
            or torch.is_grad_enabled()
            or self.store_v_seq
            or not self.decay_input
            or self.v_reset is None
            or self._neuron_precision is not None
        ):
            return super().multi_step_forward(x_seq, *args, **kwargs)
        states = self.materialize_states((x_seq,), tuple(self._memories.values()), "m")
        spikes, potential = lif_steps(x_seq, states[0], self.tau, self.v_threshold, self.v_reset)
        self._memories["v"] = potential
        return spikes


def make_lif(**overrides: Any) -> LIF:
    """A multi-step LIF neuron ([T, N, ...] in, spikes out) with an ATan(alpha=2) surrogate."""
    settings = {**LIF_DEFAULTS, **overrides}
    settings.setdefault("surrogate_function", surrogate.ATan(alpha=2.0))
    return LIF(step_mode="m", **settings)
