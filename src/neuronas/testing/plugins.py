"""`check_plugin`: an installed package's entry point loads and registers what it should; and
`check_component`, the check of any component by its kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from neuronas.testing.core import Conformance, ConformanceError


def _checks() -> dict[str, Callable[..., Conformance]]:
    from neuronas.testing.datasets import check_dataset
    from neuronas.testing.executors import check_executor
    from neuronas.testing.fitness import check_fitness_metric
    from neuronas.testing.hardware import check_hardware_model
    from neuronas.testing.quantizers import check_quantizer
    from neuronas.testing.spaces import check_search_space
    from neuronas.testing.strategies import check_strategy

    return {
        "space": check_search_space,
        "fitness": check_fitness_metric,
        "quantizer": check_quantizer,
        "hardware": check_hardware_model,
        "strategy": check_strategy,
        "dataset": check_dataset,
        "executor": check_executor,
    }


def check_component(kind: str, component: Any, **options: Any) -> Conformance:
    """The check of ``kind`` (``neuronas list kinds``: space, fitness, ...) on ``component``,
    with ``options`` passed on to it."""
    from neuronas.plugin.registry import canonical_kind

    return _checks()[canonical_kind(kind)](component, **options)


PLUGIN_RULES: dict[str, str] = {
    "installed": "the plugin is installed under the 'neuronas' entry-point group",
    "loads": "its entry point imports and its hooks run without error",
    "registers": "it registers exactly the components it is expected to, by kind",
}


def check_plugin(name: str, components: Mapping[str, Sequence[str]]) -> Conformance:
    """The installed plugin ``name`` (its entry point's name) loads from its entry point and
    registers exactly ``components`` ({kind: [component names]}), as ``neuronas plugins`` lists
    them. It loads plugins afresh and leaves the process's own plugins alone."""
    from neuronas.plugin.manager import PluginHost

    host = PluginHost()
    described = host.describe(include_skipped=True)
    subject = f"plugin {name!r}"
    plugins = {plugin["name"]: plugin for plugin in described["plugins"]}
    failures = {failure["name"]: failure for failure in described["failed"]}
    skipped = {info["name"] for info in described.get("skipped", [])}
    if name in failures:
        raise ConformanceError(
            subject, "loads", PLUGIN_RULES["loads"], "a fresh plugin host", failures[name]["error"]
        )
    plugin = plugins.get(name)
    if plugin is None or plugin["source"] != "entrypoint":
        detail = (
            "it is blocked or not selected (NEURONAS_LOAD_PLUGINS, NEURONAS_DISABLE_PLUGINS)"
            if name in skipped
            else "no entry point of that name; install the package (pip install -e .)"
        )
        raise ConformanceError(
            subject, "installed", PLUGIN_RULES["installed"], "a fresh plugin host", detail
        )
    expected = {kind: sorted(names) for kind, names in components.items()}
    registered = {kind: sorted(names) for kind, names in plugin["components"].items()}
    if registered != expected:
        raise ConformanceError(
            subject,
            "registers",
            PLUGIN_RULES["registers"],
            "a fresh plugin host",
            f"it registered {registered}, expected {expected}",
        )
    return Conformance(subject, tuple(PLUGIN_RULES))
