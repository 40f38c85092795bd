"""SNASNet's macro-architecture around two searched cells, and its layer shapes without a forward pass.

stem Conv3x3 (in -> C, stride s) + BN -> repeat T times (direct encoding) -> cell A (C)
-> BN -> LIF -> Conv3x3 C -> 2C -> BN -> AvgPool 2x2 -> cell B (2C) -> BN -> LIF -> AvgPool 2x2
-> flatten -> Linear -> hidden LIF -> Linear -> k outputs per class -> mean over each class's
population -> mean over timesteps = logits [N, classes].

A time-resolved input (event-camera frames, [N, T, C, H, W]) is not repeated: the stem runs on each
frame and frame t drives timestep t.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping

import torch
from spikingjelly.activation_based import layer
from torch import nn

from neuronas.arch import Architecture, Macro
from neuronas.errors import UsageError
from neuronas.snn.cell import CellModule
from neuronas.snn.neuron import make_lif
from neuronas.snn.ops import TimeBatchNorm2d, per_step, set_batchnorm_mode
from neuronas.snn.opspec import OpSpec
from neuronas.snn.shapes import back_edge_key, edge_key, feature_sizes, network_layer_shapes


class Stem(nn.Module):
    """Conv3x3 -> BN on an image [N, C, H, W] or on frames [T, N, C, H, W] (BN then as the macro's
    BatchNorm mode says, like every multi-step BN of the network)."""

    def __init__(self, macro: Macro) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            macro.in_channels, macro.width, 3, stride=macro.stem_stride, padding=1, bias=False
        )
        self.bn = TimeBatchNorm2d(macro.width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(per_step(self.conv, x) if x.dim() == 5 else self.conv(x))

    def steps(self, x: torch.Tensor) -> torch.Tensor:
        """[T, N, C', H', W'] for frames [N, T, C, H, W]; [1, N, C', H', W'] for an image [N, C, H, W],
        which every timestep sees."""
        return self(x.transpose(0, 1)) if x.dim() == 5 else self(x).unsqueeze(0)

    def sequence(self, x: torch.Tensor, timesteps: int) -> torch.Tensor:
        """`steps`, an image's repeated to ``timesteps``."""
        steps = self.steps(x)
        return steps if len(steps) == timesteps else steps.repeat(timesteps, 1, 1, 1, 1)


class Downsample(nn.Module):
    """BN -> LIF -> Conv3x3 C -> 2C -> BN -> AvgPool 2x2."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.bn_in = TimeBatchNorm2d(width)
        self.lif = make_lif()
        self.conv = nn.Conv2d(width, 2 * width, 3, padding=1, bias=False)
        self.bn = TimeBatchNorm2d(2 * width)
        self.pool = nn.AvgPool2d(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.after_spikes(self.lif(self.bn_in(x)))

    def after_spikes(self, spikes: torch.Tensor) -> torch.Tensor:
        return per_step(self.pool, self.bn(per_step(self.conv, spikes)))


class Head(nn.Module):
    """BN -> LIF -> AvgPool 2x2 after cell B."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bn = TimeBatchNorm2d(channels)
        self.lif = make_lif()
        self.pool = nn.AvgPool2d(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return per_step(self.pool, self.lif(self.bn(x)))


class SequenceDropout(layer.Dropout):
    """SNASNet's classifier dropout (SpikingJelly's: one mask per sequence, kept over its timesteps
    until the network is reset), multi-step.

    With ``seed`` set (a seeded build, as scoring uses), the mask is drawn on the CPU from that seed
    alone, so a score stays a function of the architecture and the run seed on any device; with
    ``seed = None`` (training) each sequence draws a fresh mask from the global RNG.
    """

    def __init__(self, p: float) -> None:
        super().__init__(p, step_mode="m")
        self.seed: int | None = None

    def create_mask(self, x: torch.Tensor) -> torch.Tensor:
        if self.seed is None:
            return super().create_mask(x)
        generator = torch.Generator().manual_seed(self.seed)
        keep = torch.rand(x.shape, generator=generator) >= self.p
        return keep.to(x.dtype).div_(1.0 - self.p).to(x.device)


def free_dropout(model: nn.Module) -> nn.Module:
    """Let every `SequenceDropout` draw a fresh mask per sequence from the global RNG (training)."""
    for module in model.modules():
        if isinstance(module, SequenceDropout):
            module.seed = None
    return model


class Classifier(nn.Module):
    """[Dropout ->] Linear (no bias) -> LIF -> Linear to ``population`` outputs per class."""

    def __init__(self, in_features: int, macro: Macro) -> None:
        super().__init__()
        self.dropout = SequenceDropout(macro.dropout) if macro.dropout > 0 else nn.Identity()
        self.hidden = nn.Linear(in_features, macro.hidden, bias=False)
        self.lif = make_lif()
        self.out = nn.Linear(macro.hidden, macro.num_classes * macro.population)

    def hidden_current(self, x: torch.Tensor) -> torch.Tensor:
        """The hidden LIF's input for features [T, N, F]."""
        return self.hidden(self.dropout(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.lif(self.hidden_current(x)))


#: Values per timestep (N x C x H x W after the stem) from which scoring steps through time.
STEP_THROUGH_TIME_FROM = 2**20


class SpikingNetwork(nn.Module):
    """The macro network; forward takes images [N, C, H, W] (each repeated over the T timesteps) or
    frames [N, T, C, H, W] (frame t at timestep t, the layout a data loader yields) and returns
    logits [N, classes].

    Reset the neurons between sequences with ``spikingjelly.activation_based.functional.reset_net``.
    ``step_through_time``: run the network one timestep at a time, as SNASNet's does (every layer
    holds one timestep's activations instead of all T; the same spikes), rather than all timesteps
    at once. ``None`` (the default) steps where it pays: without gradients and with large
    activations (at least `STEP_THROUGH_TIME_FROM` values per timestep after the stem). Measured on
    a CPU: at width 128, 3x32x32, S = 64 stepping scored a candidate 11% faster in 39% less peak
    memory; at width 8 on 8x8 digits it was 1.3-1.8x slower (per-call overhead).
    """

    step_through_time: bool | None = None

    def __init__(self, arch: Architecture, ops: Mapping[str, OpSpec]) -> None:
        super().__init__()
        macro = arch.macro
        self.arch = arch
        self.sizes = feature_sizes(macro)
        self.stem = Stem(macro)
        self.cell_a = CellModule(arch.cell_a, macro.width, ops)
        self.downsample = Downsample(macro.width)
        self.cell_b = CellModule(arch.cell_b, 2 * macro.width, ops)
        self.head = Head(2 * macro.width)
        self.classifier = Classifier(2 * macro.width * self.sizes.classifier**2, macro)
        set_batchnorm_mode(self, macro.batchnorm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        macro = self.arch.macro
        self.check_input(x)
        self.cell_a.feedback = self.cell_b.feedback = None  # every sequence starts without any
        step = self.step_through_time
        if step is None:
            per_step_values = x.shape[0] * macro.width * self.sizes.stem**2
            step = not torch.is_grad_enabled() and per_step_values >= STEP_THROUGH_TIME_FROM
        if step:
            stem = self.stem.steps(x)
            outputs = torch.cat(
                [self.after_stem(stem[t % len(stem)].unsqueeze(0)) for t in range(macro.timesteps)]
            )
        else:
            outputs = self.after_stem(self.stem.sequence(x, macro.timesteps))
        steps, batch = outputs.shape[:2]
        per_class = outputs.view(steps, batch, macro.num_classes, macro.population).mean(-1)
        return per_class.mean(0)

    def check_input(self, x: torch.Tensor) -> None:
        """A UsageError unless ``x`` is images [N, C, H, W] or frames [N, T, C, H, W] of this network."""
        macro = self.arch.macro
        image = (macro.in_channels, macro.input_size, macro.input_size)
        if (x.dim() == 4 and tuple(x.shape[1:]) == image) or (
            x.dim() == 5 and tuple(x.shape[1:]) == (macro.timesteps, *image)
        ):
            return
        dims = ", ".join(map(str, image))
        raise UsageError(
            f"network input has shape {tuple(x.shape)}; expected [N, {dims}] (images) or "
            f"[N, {macro.timesteps}, {dims}] (frames, one per timestep)"
        )

    def after_stem(self, x: torch.Tensor) -> torch.Tensor:
        """The classifier's outputs [T', N, k*classes] for the stem output of T' timesteps."""
        x = self.cell_b(self.downsample(self.cell_a(x)))
        return self.classifier(self.head(x).flatten(2))

    def init_parts(self) -> Iterator[tuple[str, nn.Module]]:
        """(key, part) for every part whose place fixes its initial weights; edges name their op."""
        yield "stem", self.stem
        for label, cell_module in (("cell_a", self.cell_a), ("cell_b", self.cell_b)):
            for i, j, op in cell_module.cell.items():
                yield edge_init_key(label, i, j, op), cell_module.edges[edge_key(i, j)]
            for j, i, op in cell_module.cell.back_items():
                key = back_edge_init_key(label, j, i, op)
                yield key, cell_module.back_edges[back_edge_key(j, i)]
        yield "downsample", self.downsample
        yield "head", self.head
        yield "classifier", self.classifier

    def reset_parameters(self, seed: int) -> None:
        """Initialise every layer from a generator seeded by (seed, place, edge, op)."""
        scheme = self.arch.macro.weight_init
        for key, part in self.init_parts():
            seeded_part(part, seed, key, scheme)


def edge_init_key(label: str, source: int, target: int, op: str) -> str:
    """The `SpikingNetwork.init_parts` key of an edge, e.g. ``cell_a/0-1/conv3x3``."""
    return f"{label}/{source}-{target}/{op}"


def back_edge_init_key(label: str, source: int, target: int, op: str) -> str:
    """The `SpikingNetwork.init_parts` key of a backward edge, e.g. ``cell_a/back/3-0/conv3x3``."""
    return f"{label}/back/{source}-{target}/{op}"


def seeded_part(part: nn.Module, seed: int, key: str, scheme: str = "pytorch") -> nn.Module:
    """Initialise ``part`` exactly as `SpikingNetwork.reset_parameters` initialises the part at ``key``.

    With this, a part built on its own (``make_part``) has the weights it has inside any network
    built with the same seed, which is what lets the search reuse shared parts' activations.
    """
    for name, module in part.named_modules():
        seeded_reset(module, f"{seed}/{key}/{name}", scheme)
    return part


def make_part(factory: Callable[[], nn.Module], seed: int, key: str, macro: Macro) -> nn.Module:
    """``factory()`` with the seeded weights of the part at ``key`` and ``macro``'s BatchNorm mode and
    weight initialisation, skipping PyTorch's default init."""
    with torch.device("meta"):
        part = factory()
    part.to_empty(device="cpu")
    set_batchnorm_mode(part, macro.batchnorm)
    return seeded_part(part, seed, key, macro.weight_init)


def _seed_of(key: str) -> int:
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def _generator(key: str) -> torch.Generator:
    return torch.Generator().manual_seed(_seed_of(key))


#: Seeded initial weights by (key, shape), so that the layers every candidate shares (stem,
#: downsample, classifier) and repeated edges are drawn once per process; bounded in elements.
INIT_CACHE_ELEMENTS = 2**25
_init_cache: OrderedDict[tuple[str, tuple[int, ...], bool, str], tuple[torch.Tensor, ...]] = (
    OrderedDict()
)


def _draw(
    key: str, weight_shape: tuple[int, ...], has_bias: bool, scheme: str = "pytorch"
) -> tuple[torch.Tensor, ...]:
    """A conv/linear layer's initial weight (and bias) under ``scheme``, drawn from generators
    seeded by ``key``: PyTorch's defaults, or SNASNet's (convs kaiming-uniform with a = 2, linear
    weights N(0, 0.01), biases 0)."""
    cache_key = (key, weight_shape, has_bias, scheme)
    if cache_key in _init_cache:
        _init_cache.move_to_end(cache_key)
        return _init_cache[cache_key]
    weight = torch.empty(weight_shape)
    generator = _generator(key)
    if scheme == "snasnet":
        if weight.dim() > 2:
            nn.init.kaiming_uniform_(weight, a=2, generator=generator)
        else:
            nn.init.normal_(weight, 0.0, 0.01, generator=generator)
    else:
        nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    drawn: tuple[torch.Tensor, ...] = (weight,)
    if has_bias:
        bias = torch.zeros(weight_shape[0])
        if scheme != "snasnet":
            fan_in = weight[0].numel()
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            nn.init.uniform_(bias, -bound, bound, generator=_generator(key + "/bias"))
        drawn += (bias,)
    if weight.numel() <= INIT_CACHE_ELEMENTS:
        _init_cache[cache_key] = drawn
        while sum(t[0].numel() for t in _init_cache.values()) > INIT_CACHE_ELEMENTS:
            _init_cache.popitem(last=False)
    return drawn


@torch.no_grad()
def seeded_reset(module: nn.Module, key: str, scheme: str = "pytorch") -> None:
    """The initialisation of one layer under ``scheme``, drawn from a generator seeded by ``key``;
    a `SequenceDropout` gets its mask seed from ``key``."""
    if isinstance(module, nn.Conv2d | nn.Linear):
        drawn = _draw(key, tuple(module.weight.shape), module.bias is not None, scheme)
        for parameter, values in zip((module.weight, module.bias), drawn, strict=False):
            parameter.copy_(values)
    elif isinstance(module, nn.modules.batchnorm._BatchNorm):
        module.reset_parameters()
    elif isinstance(module, SequenceDropout):
        module.seed = _seed_of(key)
    elif any(True for _ in module.parameters(recurse=False)):
        raise TypeError(f"no seeded initialisation for {type(module).__name__} ({key})")


@torch.no_grad()
def snasnet_init(model: nn.Module) -> nn.Module:
    """SNASNet's initialisation from the global RNG: convs kaiming-uniform (a = 2), BatchNorm scale 1
    and shift 0, linear weights N(0, 0.01), biases 0."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_uniform_(module.weight, a=2)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, 0.01)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_parameters()
        if isinstance(module, nn.Conv2d | nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
    return model


def physical_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_fits_memory(arch: Architecture, ops: Mapping[str, OpSpec]) -> None:
    """A UsageError, before anything is allocated, when the weights alone outgrow this machine."""
    weights = sum(layer.weights for layer in network_layer_shapes(arch, ops, True))
    needed = 4 * weights  # float32
    available = physical_memory_bytes()
    if needed > available:
        raise UsageError(
            f"this network has {weights:,} weights ({needed / 2**30:,.1f} GiB as float32), more "
            f"than this machine's {available / 2**30:,.1f} GiB of memory; choose a smaller width, "
            "hidden layer or input"
        )


def build_network(
    arch: Architecture, ops: Mapping[str, OpSpec], seed: int | None = None
) -> SpikingNetwork:
    """A network initialised by the macro's scheme from the global RNG (``seed=None``) or with the
    seeded, shared initialisation; refused before allocation when it cannot fit in memory."""
    check_fits_memory(arch, ops)
    if seed is None:
        net = SpikingNetwork(arch, ops)
        return snasnet_init(net) if arch.macro.weight_init == "snasnet" else net
    with torch.device("meta"):  # skip the default init that the seeded one would overwrite
        net = SpikingNetwork(arch, ops)
    net.to_empty(device="cpu")
    net.reset_parameters(seed)
    return net
