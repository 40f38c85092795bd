"""Convenience functions for scripts and notebooks, built only on the registry (no private doors)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from neuronas.arch import Architecture, LayerShape
from neuronas.contracts import HardwareCost
from neuronas.plugin import get_component, guard


def _architecture(arch: Architecture | str) -> Architecture:
    return Architecture.parse(arch) if isinstance(arch, str) else arch


def build_model(arch: Architecture | str, space: str = "neuronas-3op", seed: int | None = None):
    """A freshly initialised network for ``arch`` (an ``Architecture`` or its string)."""
    component = get_component("space", space)
    return guard.call("space", component, "build", _architecture(arch), seed=seed)


def layer_shapes(
    arch: Architecture | str, space: str = "neuronas-3op", include_classifier: bool = False
) -> list[LayerShape]:
    """The weight layers a hardware model maps for ``arch``."""
    component = get_component("space", space)
    return guard.call(
        "space",
        component,
        "layer_shapes",
        _architecture(arch),
        include_classifier=include_classifier,
    )


def estimate_cost(
    arch: Architecture | str | Sequence[LayerShape],
    hardware: str = "spikeflow",
    params: Mapping[str, Any] | None = None,
    space: str = "neuronas-3op",
    include_classifier: bool = False,
) -> HardwareCost:
    """Area, latency and energy of an architecture (string or object) or a raw layer list.

    For an architecture, the hardware model's ``timesteps`` default to the architecture's; ``params``
    override any hardware parameter (e.g. ``{"weight_bits": 8, "crossbar_size": 128}``).
    """
    model = get_component("hardware", hardware)
    overrides: dict[str, Any] = {}
    if isinstance(arch, Architecture | str):
        architecture = _architecture(arch)
        overrides["timesteps"] = architecture.macro.timesteps
        layers = layer_shapes(architecture, space, include_classifier)
    else:
        layers = list(arch)
    overrides.update(params or {})
    config = guard.call("hardware", model, "make_config", overrides)
    return guard.call("hardware", model, "estimate", layers, config)
