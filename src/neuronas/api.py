"""Convenience functions for scripts and notebooks, built only on the registry (no private doors)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from neuronas.arch import Architecture, Cell, LayerShape
from neuronas.contracts import HardwareCost, input_shape_of, run_parameters
from neuronas.plugin import get_component, guard
from neuronas.search.config import SearchConfig, macro_for

#: What a search uses when not told otherwise, which every command and function here shares.
DEFAULTS = SearchConfig()


def search(out: str | Path | None = None, resume: str | Path | None = None, **options: Any):
    """Run a search from Python: ``neuronas.search(hardware="spikeflow", dataset="digits", ...)``.

    Options are the fields of ``SearchConfig`` (and ``overwrite=True`` to replace a run that
    ``out`` already holds); ``budgets`` may be a ``Budgets`` or a dict. Returns the
    ``SearchResult``; raises ``NoFeasibleArchitecture`` (with the result written) when nothing
    meets the budgets.
    """
    from neuronas.search.run import run_search

    if resume is not None:
        return run_search(SearchConfig(), Path(resume), resume=True)
    overwrite = bool(options.pop("overwrite", False))
    config = SearchConfig.from_dict(options)
    return run_search(config, Path(out) if out is not None else None, overwrite=overwrite)


def parse_architecture(
    text: str,
    space: str = DEFAULTS.space,
    dataset: str = DEFAULTS.dataset,
    event_size: int | None = None,
) -> Architecture:
    """What every command makes of an architecture given on the command line or to the API.

    ``text`` is an architecture string (``a=<cell>;b=<cell>[;key=value...]``) or one cell string,
    then used as both A and B. Macro keys the text leaves out take the values a search would use:
    `SearchConfig`'s sizes, ``dataset``'s input (an event dataset's frames at side ``event_size``
    when given) and classes, ``space``'s dropout and initialisation. So ``neuronas show``,
    ``cost``, ``train --arch`` and the functions here agree.
    """
    component = get_component("space", space)
    data = get_component("dataset", dataset)
    input_shape = input_shape_of(data, event_size)
    defaults = macro_for(DEFAULTS, component, input_shape, data.num_classes)
    if "=" in text:
        return Architecture.parse(text, defaults)
    cell = Cell.parse(text)
    return Architecture(cell, cell, defaults)


def _architecture(arch: Architecture | str, space: str, dataset: str) -> Architecture:
    return parse_architecture(arch, space, dataset) if isinstance(arch, str) else arch


def build_model(
    arch: Architecture | str,
    space: str = DEFAULTS.space,
    seed: int | None = None,
    dataset: str = DEFAULTS.dataset,
):
    """A freshly initialised network for ``arch`` (an ``Architecture`` or a string)."""
    component = get_component("space", space)
    architecture = _architecture(arch, space, dataset)
    return guard.call("space", component, "build", architecture, seed=seed)


def layer_shapes(
    arch: Architecture | str,
    space: str = DEFAULTS.space,
    include_classifier: bool = False,
    dataset: str = DEFAULTS.dataset,
) -> list[LayerShape]:
    """The weight layers a hardware model maps for ``arch``."""
    component = get_component("space", space)
    architecture = _architecture(arch, space, dataset)
    return guard.call(
        "space", component, "layer_shapes", architecture, include_classifier=include_classifier
    )


def estimate_cost(
    arch: Architecture | str | Sequence[LayerShape],
    hardware: str = DEFAULTS.hardware,
    params: Mapping[str, Any] | None = None,
    space: str = DEFAULTS.space,
    include_classifier: bool = False,
    dataset: str = DEFAULTS.dataset,
) -> HardwareCost:
    """Area, latency and energy of an architecture (string or object) or a raw layer list.

    For an architecture the hardware model gets its ``timesteps`` and a search's default weight
    precision (``weight_bits`` 8), as a search passes them; ``params`` override any hardware
    parameter (e.g. ``{"weight_bits": 4, "crossbar_size": 128}``).
    """
    model = get_component("hardware", hardware)
    overrides: dict[str, Any] = {}
    if isinstance(arch, Architecture | str):
        architecture = _architecture(arch, space, dataset)
        overrides.update(run_parameters(architecture.macro.timesteps, DEFAULTS.weight_bits))
        layers = layer_shapes(architecture, space, include_classifier)
    else:
        layers = list(arch)
    overrides.update(params or {})
    config = guard.call("hardware", model, "make_config", overrides)
    return guard.call("hardware", model, "estimate", layers, config)
