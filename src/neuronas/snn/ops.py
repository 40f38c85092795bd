"""Cell operations on multi-step tensors [T, N, C, H, W]; each keeps the width and the map size.

`neuronas.snn.opspec` describes them (name, how to make one, its kernel) without torch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from neuronas.snn.neuron import make_lif


def per_step(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Apply a single-step layer to every timestep at once by folding T into the batch.

    Exact for layers that treat samples independently (convolutions, pooling; checked bit for bit
    against a loop over timesteps); BatchNorm in train mode is not one of them (`TimeBatchNorm2d`).
    """
    steps, batch = x.shape[:2]
    return fn(x.flatten(0, 1)).unflatten(0, (steps, batch))


class TimeBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d that also takes multi-step input [T, N, C, H, W].

    In train mode, ``per_step`` (the default) normalises each timestep with its own batch statistics
    and updates the running statistics once per timestep, exactly as SNASNet's network does by
    calling BatchNorm2d once per timestep (it is that call, T times). ``per_step = False`` pools the
    statistics over all T x N samples. In eval mode both use the running statistics, so T is folded
    into the batch. A plain subclass, so state dicts, quantizers and exporters see a BatchNorm2d.
    """

    per_step: bool = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normalise = super().forward
        if x.dim() != 5:
            return normalise(x)
        if not (self.per_step and (self.training or not self.track_running_stats)):
            return per_step(normalise, x)
        if torch.is_grad_enabled() or self.weight is None or x.dtype != self.weight.dtype:
            return torch.stack([normalise(step) for step in x])
        return self._normalise_steps_into(x)

    def _normalise_steps_into(self, x: torch.Tensor) -> torch.Tensor:
        """What ``torch.stack([normalise(step) for step in x])`` computes, running statistics
        included (the same kernel, T calls), written straight into one [T, ...] tensor."""
        out = torch.empty_like(x, memory_format=torch.contiguous_format)
        save_mean = x.new_empty(x.shape[2])
        save_invstd = x.new_empty(x.shape[2])
        tracking = self.training and self.track_running_stats
        for step, target in zip(x, out, strict=True):
            factor = 0.0
            if tracking:
                self.num_batches_tracked.add_(1)
                factor = (
                    1.0 / float(self.num_batches_tracked)
                    if self.momentum is None
                    else self.momentum
                )
            torch.ops.aten.native_batch_norm.out(
                step,
                self.weight,
                self.bias,
                self.running_mean if tracking else None,
                self.running_var if tracking else None,
                True,
                factor,
                self.eps,
                out=target,
                save_mean=save_mean,
                save_invstd=save_invstd,
            )
        return out

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, per_step={self.per_step}"


def set_batchnorm_mode(module: nn.Module, mode: str) -> nn.Module:
    """Make every `TimeBatchNorm2d` in ``module`` use ``mode`` ('per-step' or 'pooled')."""
    for child in module.modules():
        if isinstance(child, TimeBatchNorm2d):
            child.per_step = mode == "per-step"
    return module


class Zero(nn.Module):
    """Zeros of the input's shape: the edge carries nothing."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


class Skip(nn.Module):
    """Identity."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class SpikingConv(nn.Module):
    """LIF -> Conv2d (k x k, 'same' padding, no bias) -> BatchNorm2d, width kept."""

    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        self.lif = make_lif()
        self.conv = nn.Conv2d(channels, channels, kernel, padding=kernel // 2, bias=False)
        self.bn = TimeBatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(per_step(self.conv, self.lif(x)))


class AvgPool3x3(nn.Module):
    """3x3 average pooling, stride 1, padding 1 (padding counted, as in SNASNet)."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return per_step(self.pool, x)
