"""A `SpikingNetwork` in its inference form: one timestep of plain layers wired as a graph of sums,
BatchNorm folded away. Exporters map this graph node by node (NIR, or a vendor format).

- A BatchNorm after a conv is folded into it. In eval mode BatchNorm is the affine map
  y = s x + t per channel (s = gamma / sqrt(running_var + eps), t = beta - running_mean s), so
  conv -> BN is one conv with weight W s and bias t: exact up to float rounding (folded in float64).
- A BatchNorm before a LIF (the downsample's and the head's) has no conv to fold into: it becomes a
  1x1 conv with the diagonal weight s and the bias t.
- A node of the graph adds up the outputs of its sources, as a cell node sums its edges. A skip edge
  adds no node: its source feeds the target's consumers directly. A source that reaches a node k > 1
  times through skip edges (x2 = skip(x0) + skip(x1) with x1 = skip(x0) is 2 x0) goes through a 1x1
  conv of weight k I, since a graph edge counts once. A zero edge adds nothing.
- The input is the static image at every timestep (direct encoding): the stem runs on it each step
  and its output is the current of cell A's node 0, exactly what the network's repeated stem output is.
- The classifier's population average (each class's mean of its k outputs) is a linear node,
  ``classifier_population``, of weight 1/k; the mean over the T timesteps is the reader's to take.
- Dropout is the identity in eval mode and is left out.

Nodes are named after the network's module paths with ``.`` as ``_`` (``cell_a.edges.e0_1.lif`` is
node ``cell_a_edges_e0_1_lif``); a conv folded with its BatchNorm keeps the conv's name.
Backward (temporal feedback) cells and operations other than the built-in ones are refused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import attrs
import torch
from spikingjelly.activation_based import functional, neuron
from torch import nn

from neuronas.errors import UsageError
from neuronas.snn.cell import CellModule, edge_key
from neuronas.snn.network import SpikingNetwork
from neuronas.snn.ops import AvgPool3x3, Skip, SpikingConv, Zero

#: What the graph calls the image every timestep.
INPUT = "input"
#: The built-in operations an inference graph maps (recognised by their modules: Zero, Skip,
#: SpikingConv, AvgPool3x3).
SUPPORTED_OPS = ("zero", "skip", "conv1x1", "conv3x3", "conv5x5", "conv7x7", "avgpool3x3")


class UnsupportedOpError(UsageError):
    """A network or an operation the inference graph cannot represent."""


@attrs.frozen
class FoldedLayer:
    """Where one weight layer of the network went: its node, and the per-output-channel BatchNorm
    scale and shift folded into its weights and bias (None when nothing was folded)."""

    node: str
    scale: torch.Tensor | None = None
    shift: torch.Tensor | None = None


class InferenceNetwork(nn.Module):
    """One timestep of the network: ``forward(image [N, C, H, W])`` returns the output node's value
    [N, classes]; the LIF neurons keep their state from call to call (``functional.reset_net``).

    ``plan`` lists (node, sources) in the order they run; each node is a submodule of that name and
    takes the sum of its sources' outputs. `logits` runs the T timesteps and averages them, as the
    network's forward does.
    """

    def __init__(
        self,
        nodes: Sequence[tuple[str, tuple[str, ...], nn.Module]],
        timesteps: int,
        layers: Mapping[str, FoldedLayer],
    ) -> None:
        super().__init__()
        self.plan = tuple((name, sources) for name, sources, _module in nodes)
        for name, _sources, module in nodes:
            self.add_module(name, module)
        self.output = self.plan[-1][0]
        self.timesteps = timesteps
        self.layers = dict(layers)

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # "input": the graph's input name
        values = {INPUT: input}
        for name, sources in self.plan:
            total = values[sources[0]]
            for source in sources[1:]:
                total = total + values[source]
            values[name] = getattr(self, name)(total)
        return values[self.output]

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """The mean output over the T timesteps for the same image each step, from rest."""
        functional.reset_net(self)
        outputs = torch.stack([self(images) for _ in range(self.timesteps)])
        functional.reset_net(self)
        return outputs.mean(0)


def batchnorm_affine(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, shift) per channel in float64: eval-mode BatchNorm is x * scale + shift."""
    scale = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
    shift = bn.bias.detach().double() - bn.running_mean.double() * scale
    return scale, shift


def fold_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """One conv computing ``bn(conv(x))`` in eval mode (folded in float64)."""
    scale, shift = batchnorm_affine(bn)
    folded = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        bias=True,
        dtype=conv.weight.dtype,
    )
    weight = conv.weight.detach().double() * scale.view(-1, 1, 1, 1)
    bias = shift if conv.bias is None else shift + conv.bias.detach().double() * scale
    with torch.no_grad():
        folded.weight.copy_(weight)
        folded.bias.copy_(bias)
    return folded


def channel_affine(bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A 1x1 conv computing eval-mode ``bn(x)``: diagonal weight (the scale), bias (the shift)."""
    scale, shift = batchnorm_affine(bn)
    return _diagonal(torch.diag(scale), shift, bn.weight.dtype)


def _diagonal(weight: torch.Tensor, bias: torch.Tensor, dtype: torch.dtype) -> nn.Conv2d:
    channels = weight.shape[0]
    conv = nn.Conv2d(channels, channels, 1, bias=True, dtype=dtype)
    with torch.no_grad():
        conv.weight.copy_(weight.view(channels, channels, 1, 1))
        conv.bias.copy_(bias)
    return conv


def _lif(module: neuron.LIFNode) -> neuron.LIFNode:
    """A plain single-step SpikingJelly LIFNode with ``module``'s dynamics (exporters map its type)."""
    return neuron.LIFNode(
        tau=module.tau,
        decay_input=module.decay_input,
        v_threshold=module.v_threshold,
        v_reset=module.v_reset,
        step_mode="s",
    )


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return tuple(value) if isinstance(value, tuple) else (value, value)


def _pool(module: nn.AvgPool2d) -> nn.AvgPool2d:
    """The same pool with every size as a (height, width) pair, as NIR stores them."""
    return nn.AvgPool2d(
        _pair(module.kernel_size),
        stride=_pair(module.stride),
        padding=_pair(module.padding),
        count_include_pad=module.count_include_pad,
    )


class _Builder:
    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype
        self.nodes: list[tuple[str, tuple[str, ...], nn.Module]] = []
        self.names: set[str] = set()
        self.layers: dict[str, FoldedLayer] = {}

    def add(self, path: str, sources: tuple[str, ...], module: nn.Module) -> str:
        name = path.replace(".", "_")
        self.nodes.append((name, sources, module))
        self.names.add(name)
        return name

    def conv_bn(
        self, path: str, sources: tuple[str, ...], conv: nn.Conv2d, bn: nn.BatchNorm2d
    ) -> str:
        name = self.add(path, sources, fold_batchnorm(conv, bn))
        self.layers[path] = FoldedLayer(name, *batchnorm_affine(bn))
        return name

    def linear(self, path: str, sources: tuple[str, ...], linear: nn.Linear) -> str:
        copy = nn.Linear(
            linear.in_features, linear.out_features, linear.bias is not None, dtype=self.dtype
        )
        copy.load_state_dict(linear.state_dict())
        name = self.add(path, sources, copy)
        self.layers[path] = FoldedLayer(name)
        return name

    def sources(self, terms: Counter[str], channels: int, where: str) -> tuple[str, ...]:
        """The sources whose sum is ``terms`` (a source k times goes through a k I conv)."""
        if not terms:
            raise UnsupportedOpError(f"{where} has no input; a graph node needs at least one")
        names = []
        for name, count in terms.items():
            if count > 1:
                scaled = f"{name}_times{count}"
                if scaled not in self.names:
                    weight = count * torch.eye(channels, dtype=torch.float64)
                    self.add(scaled, (name,), _diagonal(weight, torch.zeros(channels), self.dtype))
                name = scaled
            names.append(name)
        return tuple(names)


def _cell(builder: _Builder, label: str, module: CellModule, x0: Counter[str], width: int):
    """Add a cell's edges; returns its output node as a sum of graph nodes (name -> count)."""
    cell, letter = module.cell, label[-1].upper()
    if cell.back:
        raise UnsupportedOpError(
            f"cell {letter} has backward (temporal feedback) edges ({cell}); an inference graph "
            "maps feed-forward cells only"
        )
    nodes = [x0]
    for target in range(1, cell.nodes):
        total: Counter[str] = Counter()
        for source, op in cell.inputs_of(target):
            edge = module.edges[edge_key(source, target)]
            path = f"{label}.edges.{edge_key(source, target)}"
            where = f"cell {letter} node {source}"
            if isinstance(edge, Zero):
                continue
            if isinstance(edge, Skip):
                total.update(nodes[source])
            elif isinstance(edge, SpikingConv):
                lif = builder.add(
                    f"{path}.lif", builder.sources(nodes[source], width, where), _lif(edge.lif)
                )
                total[builder.conv_bn(f"{path}.conv", (lif,), edge.conv, edge.bn)] += 1
            elif isinstance(edge, AvgPool3x3):
                pool = builder.add(
                    f"{path}.pool", builder.sources(nodes[source], width, where), _pool(edge.pool)
                )
                total[pool] += 1
            else:
                raise UnsupportedOpError(
                    f"op {op!r} on cell {letter} edge {source}-{target} ({type(edge).__name__}) "
                    f"cannot be exported; supported ops: {', '.join(SUPPORTED_OPS)}"
                )
        nodes.append(total)
    return nodes[-1]


def inference_network(model: nn.Module) -> InferenceNetwork:
    """The inference graph of a `SpikingNetwork` (in eval mode: running statistics are folded)."""
    if not isinstance(model, SpikingNetwork):
        raise UnsupportedOpError(
            f"only neuronas's SpikingNetwork (the cell spaces' network) can be exported, not a "
            f"{type(model).__name__}"
        )
    macro, width = model.arch.macro, model.arch.macro.width
    build = _Builder(model.stem.conv.weight.dtype)
    stem = build.conv_bn("stem.conv", (INPUT,), model.stem.conv, model.stem.bn)
    x = _cell(build, "cell_a", model.cell_a, Counter({stem: 1}), width)
    down = model.downsample
    node = build.add(
        "downsample.bn_in", build.sources(x, width, "cell A's output"), channel_affine(down.bn_in)
    )
    node = build.add("downsample.lif", (node,), _lif(down.lif))
    node = build.conv_bn("downsample.conv", (node,), down.conv, down.bn)
    node = build.add("downsample.pool", (node,), _pool(down.pool))
    x = _cell(build, "cell_b", model.cell_b, Counter({node: 1}), 2 * width)
    head = model.head
    node = build.add(
        "head.bn", build.sources(x, 2 * width, "cell B's output"), channel_affine(head.bn)
    )
    node = build.add("head.lif", (node,), _lif(head.lif))
    node = build.add("head.pool", (node,), _pool(head.pool))
    node = build.add("classifier.flatten", (node,), nn.Flatten(1))
    classifier = model.classifier
    node = build.linear("classifier.hidden", (node,), classifier.hidden)
    node = build.add("classifier.lif", (node,), _lif(classifier.lif))
    node = build.linear("classifier.out", (node,), classifier.out)
    if macro.population > 1:
        average = torch.full((1, macro.population), 1.0 / macro.population)
        population = nn.Linear(
            macro.num_classes * macro.population, macro.num_classes, False, dtype=build.dtype
        )
        with torch.no_grad():
            population.weight.copy_(torch.block_diag(*[average] * macro.num_classes))
        build.add("classifier.population", (node,), population)
    return InferenceNetwork(build.nodes, macro.timesteps, build.layers)
