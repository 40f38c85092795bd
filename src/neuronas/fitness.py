"""The training-free fitness metric ``hamming-logdet`` (SNASNet's, Eq. 1 of the NeuroNAS paper) and QaFE.

For S input samples, every LIF layer l at every timestep t yields a binary code per sample, a row of
the 0/1 matrix B (S x N_l). With c = B 1 (spikes per sample), r = c / N_l and G = B B^T:

    d_ij    = c_i + c_j - 2 G_ij          (= [B(1-B)^T + (1-B)B^T]_ij, the Hamming distance)
    E_ij    = N_l (r_i (1 - r_j) + (1 - r_i) r_j)
    beta_ij = 0.5 / (E_ij + 1e-3)
    K_ij   += N_l - beta_ij d_ij

K is averaged over the layer-timestep contributions and a batch scores log|det K|; the fitness is the
mean over the R batches. The Gram form needs one matmul instead of two and is exact: 0/1 inputs and
integer sums below 2**24 are exact in float32 (also under TF32, which only rounds the inputs).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from neuronas.contracts import (
    FitnessMetric,
    FitnessScore,
    GroupScorer,
    QuantizationReport,
    Quantizer,
    ScoringSettings,
    SearchSpace,
)
from neuronas.devices import exact_arithmetic
from neuronas.errors import UsageError

if TYPE_CHECKING:  # torch is imported where a score is computed, so listing metrics stays fast
    import torch
    from spikingjelly.activation_based.neuron import BaseNode
    from torch import nn

#: Added to the expected distance before dividing, as SNASNet does, so silent layers stay finite.
EPSILON = 1e-3

#: Above this many neurons per code, float32 sums of 0/1 products stop being exact.
_FLOAT32_EXACT_LIMIT = 2**24


def hamming_kernel(codes: torch.Tensor) -> torch.Tensor:
    """One layer-timestep's contribution N - beta * d (float64, S x S) for a 0/1 code matrix S x N."""
    if codes.dim() != 2:
        raise ValueError(f"codes must be a 2-D matrix (samples x neurons), got shape {codes.shape}")
    with exact_arithmetic(codes.device.type):
        return _hamming_kernel(codes)


def _hamming_kernel(codes: torch.Tensor) -> torch.Tensor:
    import torch

    neurons = codes.shape[1]
    exact_dtype = torch.float32 if neurons < _FLOAT32_EXACT_LIMIT else torch.float64
    binary = codes.to(exact_dtype)
    gram = (binary @ binary.T).double()
    counts = binary.sum(dim=1).double()
    distance = counts[:, None] + counts[None, :] - 2.0 * gram
    rate = counts / neurons
    expected = neurons * (
        rate[:, None] * (1.0 - rate[None, :]) + (1.0 - rate[:, None]) * rate[None, :]
    )
    beta = 0.5 / (expected + EPSILON)
    return neurons - beta * distance


def spike_contribution(spikes: torch.Tensor, binary: bool = False) -> torch.Tensor:
    """The summed `hamming_kernel` contributions (float64, S x S) of one LIF layer's multi-step
    spikes [T, S, ...], with one batched Gram matmul for all T steps.

    Callers that compute a layer's spikes once for many candidates (exact reuse) add this sum to
    each candidate's kernel instead of re-running the layer. It uses E_ij = c_i + c_j - 2 c_i c_j / N
    (the same expected distance, fewer operations) and sums the T steps of beta * d before
    subtracting from T N, so it agrees with summing `hamming_kernel` to float64 rounding.
    ``binary``: the caller knows every value is exactly 0 or 1 (`neuronas.snn.LIF` spikes), which
    saves converting them.
    """
    if spikes.dim() < 3:
        raise ValueError(f"spikes must be [T, S, ...], got shape {tuple(spikes.shape)}")
    with exact_arithmetic(spikes.device.type):
        return _spike_contribution(spikes, binary)


def _spike_contribution(spikes: torch.Tensor, binary: bool) -> torch.Tensor:
    import torch

    steps, samples = spikes.shape[:2]
    codes = spikes.reshape(steps, samples, -1)
    neurons = codes.shape[2]
    exact_dtype = torch.float32 if neurons < _FLOAT32_EXACT_LIMIT else torch.float64
    if binary and codes.dtype == exact_dtype:
        binary = codes  # 0/1 floats (neuronas's LIF output) are the codes already
    elif codes.dtype == torch.bool:
        binary = codes.to(exact_dtype)
    else:
        binary = (codes > 0).to(exact_dtype)
    gram = torch.bmm(binary, binary.transpose(1, 2)).double()
    counts = torch.diagonal(gram, dim1=1, dim2=2).clone()  # c_i = G_ii for 0/1 codes
    pair_sums = counts[:, :, None] + counts[:, None, :]
    distance = torch.add(pair_sums, gram, alpha=-2.0)
    expected = torch.baddbmm(
        pair_sums + EPSILON, counts[:, :, None], counts[:, None, :], alpha=-2.0 / neurons
    )
    ratio = distance.div_(expected).sum(dim=0)
    return (steps * neurons) - 0.5 * ratio


def hamming_kernel_reference(codes: np.ndarray) -> np.ndarray:
    """The same contribution by direct pairwise loops, for tests; slow by design."""
    rows = [[int(bit) for bit in row] for row in codes]
    samples, neurons = len(rows), len(rows[0])
    rates = [sum(row) / neurons for row in rows]
    kernel = np.zeros((samples, samples), dtype=np.float64)
    for i in range(samples):
        rate_i = rates[i]
        for j in range(samples):
            rate_j = rates[j]
            distance = sum(a != b for a, b in zip(rows[i], rows[j], strict=True))
            expected = neurons * (rate_i * (1 - rate_j) + (1 - rate_i) * rate_j)
            kernel[i, j] = neurons - 0.5 / (expected + EPSILON) * distance
    return kernel


def log_abs_det(kernel: torch.Tensor) -> float:
    """log|det K| in float64; ``-inf`` for a singular K (a valid score, not an error)."""
    import torch

    _sign, value = torch.linalg.slogdet(kernel.detach().to("cpu", torch.float64))
    return float(value)


class KernelAccumulator:
    """Sums the contributions of one batch as the LIF layers produce spikes; ``per_layer`` divides
    each by its layer's neuron count first (the ``hamming-logdet-per-layer`` variant)."""

    def __init__(self, samples: int, per_layer: bool = False) -> None:
        self.samples = samples
        self.per_layer = per_layer
        self.kernel: torch.Tensor | None = None
        self.contributions = 0
        self.timesteps_per_layer: dict[str, int] = {}

    def add(self, layer: str, spikes: torch.Tensor) -> None:
        codes = (spikes > 0).reshape(self.samples, -1)
        contribution = hamming_kernel(codes)
        if self.per_layer:
            contribution = contribution / codes.shape[1]
        self.kernel = contribution if self.kernel is None else self.kernel + contribution
        self.contributions += 1
        self.timesteps_per_layer[layer] = self.timesteps_per_layer.get(layer, 0) + 1

    def add_steps(self, layer: str, spikes: torch.Tensor, binary: bool = False) -> None:
        """Add the contributions of multi-step spikes [T, S, ...] at once (`spike_contribution`)."""
        contribution = spike_contribution(spikes, binary)
        if self.per_layer:
            contribution = contribution / spikes[0, 0].numel()
        self.add_contribution(layer, contribution, int(spikes.shape[0]))

    def add_contribution(self, layer: str, contribution: torch.Tensor, timesteps: int) -> None:
        """Add a precomputed sum of ``timesteps`` contributions of ``layer`` (`spike_contribution`)."""
        self.kernel = contribution if self.kernel is None else self.kernel + contribution
        self.contributions += timesteps
        self.timesteps_per_layer[layer] = self.timesteps_per_layer.get(layer, 0) + timesteps

    def mean_kernel(self) -> torch.Tensor:
        if self.kernel is None:
            raise UsageError("the model ran but none of its LIF layers produced spikes to score")
        return self.kernel / self.contributions


def lif_layers(model: nn.Module) -> list[tuple[str, BaseNode]]:
    """(name, node) for every spikingjelly spiking neuron layer in ``model``."""
    from spikingjelly.activation_based.neuron import BaseNode

    return [
        (name, module) for name, module in model.named_modules() if isinstance(module, BaseNode)
    ]


@contextmanager
def _spike_hooks(model: nn.Module, state: dict[str, KernelAccumulator]) -> Iterator[None]:
    """Feed every LIF output to ``state['batch']`` as it is produced, so no spikes are kept."""
    from neuronas.snn.neuron import LIF

    handles = []

    def make_hook(layer: str):
        def hook(module: BaseNode, _inputs: Any, output: torch.Tensor) -> None:
            accumulator = state["batch"]
            steps = output if module.step_mode == "m" else output.unsqueeze(0)
            if steps.dim() < 2 or steps.shape[1] != accumulator.samples:
                raise UsageError(
                    f"LIF layer {layer!r} (step_mode={module.step_mode!r}) produced output of shape "
                    f"{tuple(output.shape)}; expected [T, {accumulator.samples}, ...] in multi-step "
                    f"mode or [{accumulator.samples}, ...] in single-step mode"
                )
            if steps.dim() >= 3:
                accumulator.add_steps(layer, steps, binary=isinstance(module, LIF))
            else:  # one value per sample: a code of one neuron
                for step in steps:
                    accumulator.add(layer, step)

        return hook

    for name, node in lif_layers(model):
        handles.append(node.register_forward_hook(make_hook(name or type(node).__name__)))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _model_device(model: nn.Module) -> torch.device:
    import torch

    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


@attrs.frozen
class HammingLogDet:
    """SNASNet's training-free score: log|det K| of the Hamming kernel of LIF spike codes.

    ``batch_size`` and ``repeats`` are SNASNet's S and R, what a caller should draw (see
    ``draw_batches``) when the user does not choose; ``score`` uses whatever batches it is given.
    """

    name: str = "hamming-logdet"
    description: str = "SNASNet's Hamming-distance kernel log|det K| over LIF spike codes (Eq. 1); higher is better"
    higher_is_better: bool = True
    batch_size: int = 256
    repeats: int = 2
    #: divide each layer-timestep contribution by the layer's neuron count before averaging, so
    #: that every LIF layer weighs the same whatever its size (not SNASNet's score)
    per_layer: bool = False

    def score(
        self,
        model: nn.Module,
        batches: Sequence[torch.Tensor],
        *,
        carry_state: bool = True,
    ) -> FitnessScore:
        """Score ``model`` on ``batches`` (each [S, ...] as the model takes it), in train mode.

        ``carry_state=True`` keeps membrane potentials from one batch to the next, as SNASNet does;
        ``False`` resets the network between batches. The network is reset before and after.
        """
        import torch
        from spikingjelly.activation_based import functional

        layers = lif_layers(model)
        if not layers:
            raise UsageError(
                "the hamming-logdet metric needs a model with spikingjelly spiking neuron layers "
                "(spikingjelly.activation_based.neuron.BaseNode); this model has none"
            )
        if len(batches) == 0:
            raise UsageError("the hamming-logdet metric needs at least one input batch")
        sizes = {int(batch.shape[0]) for batch in batches}
        if len(sizes) != 1:
            raise UsageError(f"all batches must have the same size S, got sizes {sorted(sizes)}")
        samples = sizes.pop()
        if samples < 2:
            raise UsageError("the hamming-logdet metric needs batches of at least 2 samples")

        device = _model_device(model)
        was_training = model.training
        state: dict[str, KernelAccumulator] = {}
        per_batch: list[float] = []
        model.train()
        functional.reset_net(model)
        try:
            with torch.no_grad(), _spike_hooks(model, state):
                for index, batch in enumerate(batches):
                    if index and not carry_state:
                        functional.reset_net(model)
                    state["batch"] = KernelAccumulator(samples, self.per_layer)
                    model(batch.to(device))
                    per_batch.append(log_abs_det(state["batch"].mean_kernel()))
        finally:
            functional.reset_net(model)
            model.train(was_training)

        last = state["batch"]
        timesteps = sorted(set(last.timesteps_per_layer.values()))
        settings = {
            "metric": self.name,
            "batch_size": samples,
            "repeats": len(batches),
            "carry_state": carry_state,
            "lif_layers": len(last.timesteps_per_layer),
            "timesteps": timesteps[0] if len(timesteps) == 1 else timesteps,
            "contributions": last.contributions,
            "epsilon": EPSILON,
            "per_layer": self.per_layer,
        }
        return FitnessScore(
            value=float(np.mean(per_batch)), per_batch=tuple(per_batch), settings=settings
        )

    def group_scorer(self, settings: ScoringSettings, space: SearchSpace) -> GroupScorer | str:
        """Exact reuse (`neuronas.reuse.ReuseScorer`) where it gives this metric's scores, else why
        not: it reproduces SNASNet's kernel on the built-in cell spaces part by part."""
        if self.per_layer:
            return (
                f"fitness {self.name!r} divides each layer's kernel by its neuron count, which "
                "exact reuse does not"
            )
        from neuronas.reuse import ReuseScorer, reuse_blocker

        blocker = reuse_blocker(settings, space)
        return blocker if blocker is not None else ReuseScorer(settings)


def draw_batches(
    images: torch.Tensor, batch_size: int = 256, repeats: int = 2, seed: int = 0
) -> list[torch.Tensor]:
    """``repeats`` disjoint batches of ``batch_size`` images drawn with ``seed`` (SNASNet: 256, 2)."""
    import torch

    if batch_size < 2 or repeats < 1:
        raise UsageError(f"need batch size >= 2 and repeats >= 1, got {batch_size} and {repeats}")
    needed = batch_size * repeats
    if needed > images.shape[0]:
        raise UsageError(
            f"{repeats} batches of {batch_size} images need {needed} images; "
            f"the data has {images.shape[0]}"
        )
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(images.shape[0], generator=generator)[:needed]
    return [images[order[i * batch_size : (i + 1) * batch_size]] for i in range(repeats)]


def _resolve(kind: str, component: Any) -> Any:
    if isinstance(component, str):
        from neuronas.plugin import get_component

        return get_component(kind, component)
    return component


def score_quantized(
    model: nn.Module,
    batches: Sequence[torch.Tensor],
    *,
    metric: FitnessMetric | str = "hamming-logdet",
    quantizer: Quantizer | str = "fixed-point",
    bits: int | None = 8,
    rounding: str = "nearest",
    seed: int = 0,
    carry_state: bool | None = None,
) -> tuple[FitnessScore, QuantizationReport | None]:
    """QaFE: quantize ``model``'s weights in place to ``bits``, then score it.

    ``bits=None`` scores the float network as it is. ``metric`` and ``quantizer`` are component
    objects or registered names. ``carry_state=None`` leaves the metric's own default. The score's
    settings gain ``weight_bits``, ``quantizer`` and ``rounding``.
    """
    metric = _resolve("fitness", metric)
    report = None
    if bits is not None:
        quantizer = _resolve("quantizer", quantizer)
        report = quantizer.quantize(model, bits, rounding=rounding, seed=seed)
    options = {} if carry_state is None else {"carry_state": carry_state}
    score = metric.score(model, batches, **options)
    settings = dict(score.settings)
    settings.update(
        weight_bits=bits,
        quantizer=None if bits is None else quantizer.name,
        rounding=None if bits is None else rounding,
    )
    return attrs.evolve(score, settings=settings), report
