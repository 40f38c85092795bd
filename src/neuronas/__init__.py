"""neuronas: hardware-aware, training-free spiking neural architecture search (NeuroNAS).

The public Python API. Plugins use ``neuronas.hookimpl`` and the protocols in ``neuronas.contracts``.
"""

from importlib.metadata import PackageNotFoundError, version

from neuronas.api import build_model, estimate_cost, layer_shapes, parse_architecture, search
from neuronas.arch import Architecture, Cell, LayerShape, Macro
from neuronas.budgets import Budgets
from neuronas.errors import NeuronasError, NoFeasibleArchitecture
from neuronas.plugin import (
    block_plugin,
    component_names,
    get_component,
    hookimpl,
    register_plugin,
)
from neuronas.search.config import SearchConfig
from neuronas.search.result import SearchResult


def __getattr__(name: str):
    """``neuronas.export`` is imported on first use: it needs torch, the rest of the API does not."""
    if name == "export":
        from neuronas.exporting import export

        return export
    raise AttributeError(f"module 'neuronas' has no attribute {name!r}")


try:
    __version__ = version("neuronas")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "Architecture",
    "Budgets",
    "Cell",
    "LayerShape",
    "Macro",
    "NeuronasError",
    "NoFeasibleArchitecture",
    "SearchConfig",
    "SearchResult",
    "__version__",
    "block_plugin",
    "build_model",
    "component_names",
    "estimate_cost",
    "export",
    "get_component",
    "hookimpl",
    "layer_shapes",
    "parse_architecture",
    "register_plugin",
    "search",
]
