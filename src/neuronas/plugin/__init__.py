"""The plugin kernel: hookspecs, the loading policy and the component registry."""

import pluggy

from neuronas.plugin.manager import (
    PluginHost,
    PluginLoadWarning,
    block_plugin,
    component_names,
    fire,
    get_component,
    get_host,
    register_plugin,
    reset,
)
from neuronas.plugin.registry import KINDS, Registry

hookimpl = pluggy.HookimplMarker("neuronas")

__all__ = [
    "KINDS",
    "PluginHost",
    "PluginLoadWarning",
    "Registry",
    "block_plugin",
    "component_names",
    "fire",
    "get_component",
    "get_host",
    "hookimpl",
    "register_plugin",
    "reset",
]
