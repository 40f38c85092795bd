"""neuronas: hardware-aware, training-free spiking neural architecture search (NeuroNAS).

The public Python API. Plugins use ``neuronas.hookimpl`` and the protocols in ``neuronas.contracts``.
"""

from importlib.metadata import PackageNotFoundError, version

from neuronas.arch import Architecture, Cell, LayerShape, Macro
from neuronas.errors import NeuronasError
from neuronas.plugin import (
    block_plugin,
    component_names,
    get_component,
    hookimpl,
    register_plugin,
)

try:
    __version__ = version("neuronas")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "Architecture",
    "Cell",
    "LayerShape",
    "Macro",
    "NeuronasError",
    "__version__",
    "block_plugin",
    "component_names",
    "get_component",
    "hookimpl",
    "register_plugin",
]
