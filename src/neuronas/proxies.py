"""Training-free metrics from the zero-cost-proxy literature, beside SNASNet's Hamming log-det.

Each is a ``FitnessMetric`` (higher is better for all of them) that scores a freshly initialised,
possibly quantized network without training it, so the study (``neuronas study``) can ask which one
ranks architectures the way training does:

- ``params``: the number of conv and linear weights, the size baseline every metric must beat.
- ``synflow``: SynFlow (Tanaka et al., NeurIPS 2020), as a NAS proxy (Abdelfattah et al., ICLR 2021):
  with every parameter replaced by its magnitude and an all-ones input, R = sum of the outputs, and
  the score is sum over the weights of |w * dR/dw|. As in those works, BatchNorm does not normalise
  (its eval form with fresh statistics is the identity up to sqrt(1 + eps)) and the pass runs in
  float64. Gradients pass the LIF neurons through their surrogate. One deliberate difference: the
  sum runs over the convolutions only. On an all-ones input the spiking network saturates, the
  classifier's linear layers (which every candidate shares) then carry over 99% of the sum, the same
  for every candidate (measured on digits at width 8), and ln of the total hardly moves. Reported
  as ln(score).
- ``jacob-cov``: the Jacobian covariance score of Mellor et al. ("Neural Architecture Search without
  Training", 2020, v1): per sample the gradient of the summed outputs with respect to the input; with
  the eigenvalues l of the samples' correlation matrix, score = -sum(ln(l + k) + 1 / (l + k)),
  k = 1e-5. BatchNorm in train mode, as when scoring; averaged over the batches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs
import numpy as np

from neuronas.contracts import FitnessScore
from neuronas.errors import UsageError

if TYPE_CHECKING:  # torch is imported where a score is computed, so listing metrics stays fast
    import torch
    from torch import nn

JACOB_COV_K = 1e-5


def _weight_layers(model: nn.Module) -> list[nn.Module]:
    from torch import nn

    return [m for m in model.modules() if isinstance(m, nn.modules.conv._ConvNd | nn.Linear)]


def _check_batches(name: str, batches: Sequence[torch.Tensor]) -> None:
    if len(batches) == 0:
        raise UsageError(f"the {name} metric needs at least one input batch")


def _device(model: nn.Module) -> torch.device:
    import torch

    return next((p.device for p in model.parameters()), torch.device("cpu"))


@attrs.frozen
class ParameterCount:
    """The size baseline: how many conv and linear weights the network has (biases left out)."""

    name: str = "params"
    description: str = "conv and linear weight count, the size baseline; higher is better"
    higher_is_better: bool = True

    def score(
        self, model: nn.Module, batches: Sequence[torch.Tensor], *, carry_state: bool = True
    ) -> FitnessScore:
        count = sum(layer.weight.numel() for layer in _weight_layers(model))
        return FitnessScore(float(count), (float(count),), {"metric": self.name})


@attrs.frozen
class SynFlow:
    """SynFlow at initialisation (see the module docstring); ``value`` is ln of the saliency sum."""

    name: str = "synflow"
    description: str = (
        "SynFlow (Tanaka et al. 2020): sum |w * dR/dw| on |weights| and an all-ones input, through "
        "the surrogate gradient; ln of it, higher is better"
    )
    higher_is_better: bool = True

    def score(
        self, model: nn.Module, batches: Sequence[torch.Tensor], *, carry_state: bool = True
    ) -> FitnessScore:
        import torch
        from spikingjelly.activation_based import functional
        from torch import nn

        _check_batches(self.name, batches)
        layers = [m for m in _weight_layers(model) if isinstance(m, nn.modules.conv._ConvNd)]
        if not layers:
            raise UsageError("the synflow metric needs a model with convolutions")
        was_training = model.training
        dtype = next(model.parameters()).dtype
        saved = {name: value.clone() for name, value in model.state_dict().items()}
        try:
            model.double().eval()
            with torch.no_grad():
                for parameter in model.parameters():
                    parameter.abs_()
            model.zero_grad(set_to_none=True)
            functional.reset_net(model)
            ones = torch.ones(
                (1, *batches[0].shape[1:]), dtype=torch.float64, device=_device(model)
            )
            with torch.enable_grad():
                model(ones).sum().backward()
            total = sum(
                float((layer.weight * layer.weight.grad).detach().abs().sum())
                for layer in layers
                if layer.weight.grad is not None
            )
        finally:
            functional.reset_net(model)
            model.zero_grad(set_to_none=True)
            model.to(dtype)
            model.load_state_dict(saved)
            model.train(was_training)
        value = math.log(total) if total > 0 else -math.inf
        return FitnessScore(value, (value,), {"metric": self.name, "saliency_sum": total})


def jacobian_covariance_score(jacobians: torch.Tensor, k: float = JACOB_COV_K) -> float:
    """-sum(ln(l + k) + 1 / (l + k)) over the eigenvalues l of the rows' correlation matrix."""
    correlations = np.corrcoef(jacobians.detach().double().cpu().numpy())
    eigenvalues = np.linalg.eigvalsh(np.nan_to_num(correlations))
    return float(-np.sum(np.log(eigenvalues + k) + 1.0 / (eigenvalues + k)))


@attrs.frozen
class JacobianCovariance:
    """Mellor et al.'s Jacobian covariance score at initialisation (see the module docstring)."""

    name: str = "jacob-cov"
    description: str = (
        "Jacobian covariance (Mellor et al. 2020): how differently the input gradients of the "
        "samples point, through the surrogate gradient; higher is better"
    )
    higher_is_better: bool = True

    def score(
        self, model: nn.Module, batches: Sequence[torch.Tensor], *, carry_state: bool = True
    ) -> FitnessScore:
        import torch
        from spikingjelly.activation_based import functional

        _check_batches(self.name, batches)
        was_training = model.training
        per_batch = []
        model.train()
        functional.reset_net(model)
        try:
            for index, batch in enumerate(batches):
                if index and not carry_state:
                    functional.reset_net(model)
                inputs = batch.to(_device(model)).detach().requires_grad_(True)
                with torch.enable_grad():
                    model(inputs).sum().backward()
                per_batch.append(jacobian_covariance_score(inputs.grad.flatten(1)))
                model.zero_grad(set_to_none=True)
                functional.detach_net(model)  # carried membranes leave this batch's graph
        finally:
            functional.reset_net(model)
            model.train(was_training)
        value = float(np.mean(per_batch))
        settings = {"metric": self.name, "k": JACOB_COV_K, "batch_size": int(batches[0].shape[0])}
        return FitnessScore(value, tuple(per_batch), settings)
