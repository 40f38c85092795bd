"""Named components per kind, with their owning plugin.

Two plugins may register the same name; an unqualified lookup of that name is then an error that names
both, and ``plugin:name`` picks one deliberately.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import attrs

from neuronas import contracts
from neuronas.errors import AmbiguousComponentError, PluginError, UnknownComponentError

#: kind -> (registration hook, protocol, what users call one)
KINDS: dict[str, tuple[str, type, str]] = {
    "space": ("neuronas_register_search_spaces", contracts.SearchSpace, "search space"),
    "fitness": ("neuronas_register_fitness_metrics", contracts.FitnessMetric, "fitness metric"),
    "quantizer": ("neuronas_register_quantizers", contracts.Quantizer, "quantizer"),
    "hardware": ("neuronas_register_hardware", contracts.HardwareModel, "hardware model"),
    "strategy": ("neuronas_register_strategies", contracts.SearchStrategy, "search strategy"),
    "dataset": ("neuronas_register_datasets", contracts.Dataset, "dataset"),
    "executor": ("neuronas_register_executors", contracts.Executor, "executor"),
    "exporter": ("neuronas_register_exporters", contracts.Exporter, "exporter"),
}

_ALIASES = {
    "spaces": "space",
    "search-space": "space",
    "search-spaces": "space",
    "metric": "fitness",
    "metrics": "fitness",
    "quantizers": "quantizer",
    "strategies": "strategy",
    "datasets": "dataset",
    "executors": "executor",
    "exporters": "exporter",
}


def canonical_kind(kind: str) -> str:
    """Map a kind as a user may type it ('spaces', 'strategies') to its registry key."""
    key = _ALIASES.get(kind, kind)
    if key not in KINDS:
        raise UnknownComponentError("component kind", kind, [*KINDS, "kinds"])
    return key


def protocol_members(protocol: type) -> list[str]:
    """The attributes and methods a protocol requires, for an error that names the missing ones."""
    members: set[str] = set()
    for cls in protocol.__mro__:
        if cls.__module__ != contracts.__name__:
            continue
        members.update(inspect.get_annotations(cls))
        members.update(name for name, value in cls.__dict__.items() if callable(value))
    return sorted(m for m in members if not m.startswith("_"))


@attrs.frozen
class Entry:
    kind: str
    name: str
    plugin: str
    component: Any

    @property
    def qualified_name(self) -> str:
        return f"{self.plugin}:{self.name}"

    @property
    def description(self) -> str:
        lines = str(getattr(self.component, "description", "")).strip().splitlines()
        return lines[0] if lines else ""


class Registry:
    """All registered components, by kind and name."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, list[Entry]]] = {kind: {} for kind in KINDS}

    def add(self, kind: str, component: Any, plugin: str) -> Entry:
        _hook, protocol, label = KINDS[kind]
        name = getattr(component, "name", None)
        if not isinstance(name, str) or not name or ":" in name:
            raise PluginError(
                f"plugin {plugin!r} registered a {label} without a valid 'name' attribute "
                f"(a non-empty string without ':'), got {name!r}"
            )
        if not isinstance(component, protocol):
            missing = [
                member for member in protocol_members(protocol) if not hasattr(component, member)
            ]
            raise PluginError(
                f"plugin {plugin!r} registered {label} {name!r} that lacks {', '.join(missing)} "
                f"(see neuronas.contracts.{protocol.__name__})"
            )
        owners = self._entries[kind].setdefault(name, [])
        if any(entry.plugin == plugin for entry in owners):
            raise PluginError(f"plugin {plugin!r} registered {label} {name!r} twice")
        entry = Entry(kind, name, plugin, component)
        owners.append(entry)
        return entry

    def get(self, kind: str, name: str) -> Any:
        return self.entry(kind, name).component

    def entry(self, kind: str, name: str) -> Entry:
        kind = canonical_kind(kind)
        label = KINDS[kind][2]
        plugin, sep, short = name.rpartition(":")
        if sep:
            for entry in self._entries[kind].get(short, []):
                if entry.plugin == plugin:
                    return entry
            raise UnknownComponentError(label, name, self.names(kind, qualified=True))
        owners = self._entries[kind].get(name, [])
        if not owners:
            raise UnknownComponentError(label, name, self.names(kind))
        if len(owners) > 1:
            plugins = " and ".join(repr(entry.plugin) for entry in owners)
            choices = ", ".join(entry.qualified_name for entry in owners)
            raise AmbiguousComponentError(
                f"{label} {name!r} is registered by plugins {plugins}; "
                f"choose one with a qualified name: {choices}"
            )
        return owners[0]

    def names(self, kind: str, qualified: bool = False) -> list[str]:
        kind = canonical_kind(kind)
        result = []
        for name, owners in self._entries[kind].items():
            if qualified or len(owners) > 1:
                result.extend(entry.qualified_name for entry in owners)
            else:
                result.append(name)
        return sorted(result)

    def entries(self, kind: str | None = None) -> Iterator[Entry]:
        kinds = [canonical_kind(kind)] if kind else list(KINDS)
        for each in kinds:
            for name in sorted(self._entries[each]):
                yield from self._entries[each][name]

    def clashes(self) -> list[tuple[str, str, list[str]]]:
        """(kind, name, owning plugins) for every name registered by more than one plugin."""
        return [
            (kind, name, [entry.plugin for entry in owners])
            for kind, by_name in self._entries.items()
            for name, owners in sorted(by_name.items())
            if len(owners) > 1
        ]
