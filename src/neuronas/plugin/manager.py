"""Plugin loading policy: the ``neuronas`` entry points one at a time, neuronas's own (the built-ins)
first.

- A plugin that fails to import or register is recorded and reported in one warning line; it never
  breaks the CLI. ``NEURONAS_STRICT_PLUGINS=1`` re-raises instead.
- ``NEURONAS_LOAD_PLUGINS=a,b`` limits which entry-point plugins load (empty: none).
- ``NEURONAS_DISABLE_PLUGINS=a,b``, ``neuronas --disable-plugin NAME`` and ``block_plugin(NAME)`` block
  a plugin by name, built-in or external, except the `ESSENTIAL` built-ins.
- A hook implementation whose name matches no hookspec is an error naming the plugin (pluggy's
  ``check_pending``, with a did-you-mean).
- ``NEURONAS_TRACE_PLUGINS=1`` writes every hook call, its plugins and results to stderr (pluggy's
  tracing).
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import os
import sys
import warnings
from collections.abc import Iterable
from typing import Any

import attrs
import pluggy

from neuronas.errors import PluginError, UsageError
from neuronas.plugin import hookspecs
from neuronas.plugin.registry import KINDS, Registry

ENTRY_POINT_GROUP = "neuronas"
#: The distribution whose entry points are the built-ins.
BUILTIN_DISTRIBUTION = "neuronas"

#: Built-ins that cannot be blocked: without them there is no ``neuronas run`` (``search``) and no
#: default executor (``executors``).
ESSENTIAL = frozenset({"search", "executors"})


class PluginLoadWarning(UserWarning):
    """A plugin failed to load and was skipped."""


@attrs.frozen
class PluginInfo:
    name: str
    version: str
    source: str  # "builtin", "entrypoint" or "python"
    distribution: str | None = None


@attrs.frozen
class PluginFailure:
    name: str
    distribution: str | None
    version: str | None
    error: str


def _entry_points() -> dict[tuple[str | None, str], importlib.metadata.EntryPoint]:
    """The ``neuronas`` group's entry points by (distribution, name), each once (an editable
    install and a stale copy of the same distribution can both be on the path). Read once per
    host: the scan is most of a host's start-up."""
    seen: dict[tuple[str | None, str], importlib.metadata.EntryPoint] = {}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        seen.setdefault((_distribution(entry_point), entry_point.name), entry_point)
    return seen


def _distribution(entry_point: importlib.metadata.EntryPoint) -> str | None:
    return entry_point.dist.metadata["Name"] if entry_point.dist else None


def _neuronas_version() -> str:
    try:
        return importlib.metadata.version("neuronas")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _env_list(variable: str) -> list[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


def _switch(variable: str) -> bool:
    return os.environ.get(variable, "") not in ("", "0", "false", "no")


def _strict() -> bool:
    return _switch("NEURONAS_STRICT_PLUGINS")


def _check_blockable(names: Iterable[str]) -> None:
    essential = sorted(set(names) & ESSENTIAL)
    if essential:
        raise UsageError(
            f"plugin {essential[0]!r} is essential and cannot be disabled (essential plugins: "
            f"{', '.join(sorted(ESSENTIAL))})"
        )


class PluginHost:
    """The pluggy manager, what it loaded, what failed, and the component registry built from it."""

    def __init__(self, blocked: Iterable[str] = (), load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager("neuronas")
        self.pm.add_hookspecs(hookspecs)
        if _switch("NEURONAS_TRACE_PLUGINS"):
            self.pm.trace.root.setwriter(sys.stderr.write)
            self.pm.enable_tracing()
        self.blocked: set[str] = set(blocked) | set(_env_list("NEURONAS_DISABLE_PLUGINS") or [])
        _check_blockable(self.blocked)
        self.infos: dict[str, PluginInfo] = {}
        self.failures: list[PluginFailure] = []
        self.skipped: list[PluginInfo] = []
        self._registry: Registry | None = None
        entry_points = _entry_points()
        self._register_builtins(
            [ep for (dist, _name), ep in entry_points.items() if dist == BUILTIN_DISTRIBUTION]
        )
        if load_entry_points:
            self._load_entry_points(
                [
                    (dist, ep)
                    for (dist, _name), ep in entry_points.items()
                    if dist != BUILTIN_DISTRIBUTION
                ]
            )

    # --- loading ---------------------------------------------------------------------------------

    def _register_builtins(self, builtins: list[importlib.metadata.EntryPoint]) -> None:
        builtins = sorted(builtins, key=lambda entry_point: entry_point.name)
        if not builtins:
            raise PluginError(
                "neuronas's built-in plugins are not registered: its entry points are missing, so "
                "neuronas runs from a folder it was not installed from; install it with "
                "`pip install -e .` (or `pip install neuronas`)"
            )
        version = _neuronas_version()
        for entry_point in builtins:
            info = PluginInfo(entry_point.name, version, "builtin", BUILTIN_DISTRIBUTION)
            if entry_point.name in self.blocked:
                self.skipped.append(info)
                continue
            self._add(entry_point.load(), info)

    def _load_entry_points(
        self, entry_points: list[tuple[str | None, importlib.metadata.EntryPoint]]
    ) -> None:
        selected = _env_list("NEURONAS_LOAD_PLUGINS")
        for dist_name, entry_point in entry_points:
            version = entry_point.dist.version if entry_point.dist else None
            info = PluginInfo(entry_point.name, version or "-", "entrypoint", dist_name)
            wanted = selected is None or entry_point.name in selected or dist_name in selected
            if not wanted or entry_point.name in self.blocked or dist_name in self.blocked:
                self.skipped.append(info)
                continue
            try:
                self._add(entry_point.load(), info)
            except Exception as error:
                self._record_failure(info, error)

    def _record_failure(self, info: PluginInfo, error: Exception) -> None:
        if _strict():
            origin = f" ({info.distribution} {info.version})" if info.distribution else ""
            raise PluginError(
                f"plugin {info.name!r}{origin} failed to load (NEURONAS_STRICT_PLUGINS is set): "
                f"{type(error).__name__}: {error}"
            ) from error
        failure = PluginFailure(
            info.name, info.distribution, info.version, f"{type(error).__name__}: {error}"
        )
        self.failures.append(failure)
        origin = f" ({info.distribution} {info.version})" if info.distribution else ""
        warnings.warn(
            f"plugin {info.name!r}{origin} failed to load and was skipped: {failure.error}",
            PluginLoadWarning,
            stacklevel=2,
        )

    def _add(self, plugin: Any, info: PluginInfo) -> None:
        if info.name in self.infos or self.pm.has_plugin(info.name):
            raise PluginError(f"a plugin named {info.name!r} is already registered")
        try:
            self.pm.register(plugin, name=info.name)
        except pluggy.PluginValidationError as error:
            raise PluginError(f"plugin {info.name!r}: {error}") from None
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError:
            unknown = [c.name for c in self.pm.get_hookcallers(plugin) or [] if c.spec is None]
            self.pm.unregister(plugin)
            known = [name for name in dir(hookspecs) if name.startswith("neuronas_")]
            hints = []
            for hook in unknown:
                close = difflib.get_close_matches(hook, known, n=1)
                hints.append(f"{hook!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise PluginError(
                f"plugin {info.name!r} implements unknown hook(s) {', '.join(hints)}"
            ) from None
        self.infos[info.name] = info
        self._registry = None

    def unknown_blocked(self) -> list[str]:
        """Blocked names that match no built-in or installed plugin (typos, usually)."""
        known = {info.name for info in self.skipped} | {
            info.distribution for info in self.skipped if info.distribution
        }
        return sorted(self.blocked - known)

    def known_names(self) -> list[str]:
        """Every plugin name there is to block: loaded, skipped, failed."""
        names = set(self.infos) | {info.name for info in self.skipped}
        return sorted(names | {failure.name for failure in self.failures})

    def register(self, plugin: Any, name: str | None = None) -> str:
        """Register a plugin object at run time (scripts, notebooks), with the entry-point rules."""
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        if name in self.blocked:
            raise PluginError(f"plugin {name!r} is blocked")
        version = str(getattr(plugin, "__version__", "-"))
        self._add(plugin, PluginInfo(name, version, "python"))
        try:
            self._build_registry()
        except Exception:
            self.unregister(name)
            raise
        return name

    def unregister(self, name: str) -> None:
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)
        self.infos.pop(name, None)
        self._registry = None

    # --- the registry ----------------------------------------------------------------------------

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = self._build_registry()
        return self._registry

    def _build_registry(self) -> Registry:
        """Call every registration hook once per plugin (through pluggy, so tracing and hook
        wrappers see it), so each component knows its owner."""
        registry = Registry()
        broken: list[tuple[PluginInfo, Exception]] = []
        for kind, (hook_name, _protocol, _label) in KINDS.items():
            hook = getattr(self.pm.hook, hook_name)
            owners = [impl.plugin_name for impl in hook.get_hookimpls()]
            for owner in owners:
                if owner in {info.name for info, _ in broken}:
                    continue
                others = [self.pm.get_plugin(name) for name in owners if name != owner]
                call = self.pm.subset_hook_caller(hook_name, remove_plugins=others)

                def register(component: Any, _kind: str = kind, _owner: str = owner) -> None:
                    registry.add(_kind, component, _owner)

                try:
                    call(register=register)
                except Exception as error:
                    info = self.infos[owner]
                    if info.source != "entrypoint":
                        raise
                    broken.append((info, error))
        if broken:
            for info, error in broken:
                self.unregister(info.name)
                self._record_failure(info, error)
            return self._build_registry()
        self._registry = registry
        return registry

    def hooks_of(self, name: str) -> list[str]:
        plugin = self.pm.get_plugin(name)
        return sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def describe(self, include_skipped: bool = False) -> dict[str, Any]:
        """What ``neuronas plugins --json`` prints."""
        registry = self.registry  # first: building it may drop plugins whose hooks fail
        plugins = []
        for info in list(self.infos.values()):
            components: dict[str, list[str]] = {}
            for entry in registry.entries():
                if entry.plugin == info.name:
                    components.setdefault(entry.kind, []).append(entry.name)
            plugins.append(
                {
                    "name": info.name,
                    "version": info.version,
                    "source": info.source,
                    "distribution": info.distribution,
                    "hooks": self.hooks_of(info.name),
                    "components": components,
                }
            )
        described: dict[str, Any] = {
            "plugins": plugins,
            "failed": [attrs.asdict(failure) for failure in self.failures],
        }
        if include_skipped:
            described["skipped"] = [attrs.asdict(info) for info in self.skipped]
        return described


_host: PluginHost | None = None
_blocked: set[str] = set()


def get_host() -> PluginHost:
    """The process-wide plugin host, created on first use."""
    global _host
    if _host is None:
        _host = PluginHost(blocked=_blocked)
    return _host


def reset(blocked: Iterable[str] = ()) -> None:
    """Forget the loaded plugins; the next ``get_host()`` reloads them with ``blocked`` blocked."""
    global _host
    _check_blockable(blocked)
    _blocked.clear()
    _blocked.update(blocked)
    _host = None


def block_plugin(name: str) -> None:
    """Block a plugin by name (built-in or external) and reload the others."""
    reset(_blocked | {name})


def register_plugin(plugin: Any, name: str | None = None) -> str:
    """Register ``plugin`` (a module or object with ``@hookimpl`` functions); returns its name."""
    return get_host().register(plugin, name)


def get_component(kind: str, name: str) -> Any:
    """The component of ``kind`` registered as ``name`` (or ``plugin:name``)."""
    return get_host().registry.get(kind, name)


def component_names(kind: str) -> list[str]:
    return get_host().registry.names(kind)


def fire(hook_name: str, **kwargs: Any) -> None:
    """Call an observer hook on every plugin; a failing plugin is named (`guard.fire_guarded`)."""
    from neuronas.plugin.guard import fire_guarded

    fire_guarded(getattr(get_host().hook, hook_name), hook_name, **kwargs)
