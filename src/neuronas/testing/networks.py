"""Small networks and inputs for the checks that run one: built in a moment on a CPU."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from neuronas.arch import Architecture, Cell, LayerShape, Macro

if TYPE_CHECKING:
    import torch

#: The network every check builds: width 8 on 1x8x8 inputs (the ``digits`` dataset's shape).
SMALL_MACRO = Macro(width=8, in_channels=1, input_size=8, num_classes=10, hidden=16, population=2)
#: Inputs per batch and batches per score.
BATCH_SIZE = 8
BATCHES = 2


def default_space() -> Any:
    """The search space a search uses unless told otherwise."""
    from neuronas.plugin import get_component
    from neuronas.search.config import DEFAULT_SPACE

    return get_component("space", DEFAULT_SPACE)


def small_architecture(space: Any, macro: Macro = SMALL_MACRO, seed: int = 0) -> Architecture:
    """A candidate of ``space`` with weights in both cells where the space allows it."""
    import numpy as np

    heavy = Cell(("conv3x3",) * 6)
    if space.is_valid(heavy):
        return Architecture(heavy, heavy, macro)
    rng = np.random.default_rng(seed)
    return Architecture(space.sample(rng), space.sample(rng), macro)


def small_network(space: Any = None, seed: int = 0) -> torch.nn.Module:
    """A freshly initialised candidate network of ``space`` (the default space if None)."""
    space = space if space is not None else default_space()
    return space.build(small_architecture(space), seed=seed)


def input_batches(macro: Macro = SMALL_MACRO, seed: int = 0) -> list[torch.Tensor]:
    """`BATCHES` batches of `BATCH_SIZE` normal images of ``macro``'s input shape."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    shape = (BATCH_SIZE, macro.in_channels, macro.input_size, macro.input_size)
    return [torch.randn(shape, generator=generator) for _ in range(BATCHES)]


def weight_layers(model: torch.nn.Module) -> Iterator[tuple[str, torch.nn.Module]]:
    """(name, module) of every conv and linear layer, the layers a quantizer and a chip map."""
    from torch import nn

    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            yield name, module


def module_shapes(model: torch.nn.Module) -> list[tuple[str, int, int, int]]:
    """(kind, in, out, kernel) of every weight layer of a built network, sorted."""
    shapes = []
    for _name, module in weight_layers(model):
        weight = module.weight
        kernel = int(weight.shape[-1]) if weight.dim() == 4 else 1
        kind = "conv" if weight.dim() == 4 else "linear"
        shapes.append((kind, int(weight.shape[1]), int(weight.shape[0]), kernel))
    return sorted(shapes)


def layer_shape_keys(layers: list[LayerShape]) -> list[tuple[str, int, int, int]]:
    return sorted(
        (layer.kind, layer.in_channels, layer.out_channels, layer.kernel) for layer in layers
    )


def reset(model: torch.nn.Module) -> None:
    """Clear a spiking network's state (membrane potentials) before and after a check runs it."""
    from spikingjelly.activation_based import functional

    functional.reset_net(model)


def forward(model: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """One inference without gradients, the network's state cleared before and after."""
    import torch

    reset(model)
    try:
        with torch.no_grad():
            return model(batch)
    finally:
        reset(model)
