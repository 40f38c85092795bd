"""The kernel boundary: every call from neuronas into a plugin's component goes through `call`.

A component that raises (anything but a `NeuronasError`, which is a deliberate user-facing error)
or returns something its contract does not allow (a string for a cost, a negative or NaN cost, a
NaN fitness) becomes one `ComponentError` that names the component and the plugin that registered
it; the original exception stays attached as its cause, shown with ``--debug`` or
``NEURONAS_DEBUG=1``. Observer hooks are guarded the same way by `fire_guarded`.
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from neuronas.errors import NeuronasError
from neuronas.folders import PLAUSIBLE

COST_FIELDS = ("area_mm2", "latency_ms", "energy_uj")


class ComponentError(NeuronasError):
    """A plugin's component failed at run time or returned an invalid value (exit code 1)."""

    exit_code = 1


def owner(kind: str, component: Any) -> str:
    """The plugin that registered ``component`` (by identity), or '?' for an unregistered one."""
    from neuronas.plugin.manager import get_host

    for entry in get_host().registry.entries(kind):
        if entry.component is component:
            return entry.plugin
    return "?"


def describe(kind: str, component: Any) -> str:
    from neuronas.plugin.registry import KINDS

    label = KINDS[kind][2] if kind in KINDS else kind
    return f"{label} {getattr(component, 'name', type(component).__name__)!r} (plugin {owner(kind, component)!r})"


def _real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_cost(cost: Any) -> str | None:
    from neuronas.contracts import HardwareCost

    if not isinstance(cost, HardwareCost):
        return f"a {type(cost).__name__} instead of a neuronas.contracts.HardwareCost"
    for field in COST_FIELDS:
        value = getattr(cost, field)
        if not _real(value) or not math.isfinite(value) or not 0 <= value <= PLAUSIBLE:
            return f"{field}={value!r} (costs must be finite numbers >= 0)"
    for field in ("n_pe", "n_tiles"):
        value = getattr(cost, field)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return f"{field}={value!r} (counts must be integers >= 0)"
    per_layer = cost.energy_uj_per_layer
    if not all(_real(v) and math.isfinite(v) and v >= 0 for v in per_layer):
        return f"energy_uj_per_layer={per_layer!r} (finite numbers >= 0)"
    return None


def _check_score(score: Any) -> str | None:
    from neuronas.contracts import FitnessScore

    if not isinstance(score, FitnessScore):
        return f"a {type(score).__name__} instead of a neuronas.contracts.FitnessScore"
    value = score.value
    if not _real(value) or math.isnan(value):
        return f"score {value!r} (a score is a number, -inf or inf allowed, never NaN)"
    if math.isfinite(value) and abs(value) > PLAUSIBLE:
        return f"score {value!r} (beyond {PLAUSIBLE:g}, not plausible)"
    return None


def _instance_of(type_path: str) -> Callable[[Any], str | None]:
    def check(result: Any) -> str | None:
        module, _, name = type_path.rpartition(".")
        expected = getattr(__import__(module, fromlist=[name]), name)
        if isinstance(result, expected):
            return None
        return f"a {type(result).__name__} instead of a {type_path}"

    return check


def _check_layers(layers: Any) -> str | None:
    from neuronas.arch import LayerShape

    if not isinstance(layers, Sequence) or not all(isinstance(x, LayerShape) for x in layers):
        return "something other than a list of neuronas.arch.LayerShape"
    return None


def _check_split(split: Any) -> str | None:
    import torch

    from neuronas.contracts import DataSplit

    if not isinstance(split, DataSplit):
        return f"a {type(split).__name__} instead of a neuronas.contracts.DataSplit"
    images, labels = split.images, split.labels
    if not (
        isinstance(images, torch.Tensor) and images.dim() in (4, 5) and images.is_floating_point()
    ):
        return "images that are not a float tensor [N, C, H, W] (or frames [N, T, C, H, W])"
    if not (isinstance(labels, torch.Tensor) and labels.dim() == 1 and len(labels) == len(images)):
        return "labels that are not one integer per image"
    return None


def _check_files(files: Any) -> str | None:
    from pathlib import Path

    if not isinstance(files, Sequence) or not all(isinstance(f, Path) for f in files):
        return "something other than a list of pathlib.Path"
    missing = [str(f) for f in files if not f.is_file()]
    return f"files that do not exist: {', '.join(missing)}" if missing else None


def _check_group_scorer(result: Any) -> str | None:
    from neuronas.contracts import GroupScorer

    if isinstance(result, str):
        return None if result.strip() else "an empty reason"
    if not isinstance(result, GroupScorer) or not callable(result):
        return (
            f"a {type(result).__name__}, neither a neuronas.contracts.GroupScorer nor the reason "
            "(a str) it offers none"
        )
    return None


#: (kind, method) -> a check of the returned value: None when fine, else what is wrong.
RESULT_CHECKS: dict[tuple[str, str], Callable[[Any], str | None]] = {
    ("hardware", "estimate"): _check_cost,
    ("fitness", "score"): _check_score,
    ("fitness", "group_scorer"): _check_group_scorer,
    ("quantizer", "quantize"): _instance_of("neuronas.contracts.QuantizationReport"),
    ("space", "build"): _instance_of("torch.nn.Module"),
    ("space", "layer_shapes"): _check_layers,
    ("dataset", "load"): _check_split,
    ("strategy", "search"): _instance_of("neuronas.contracts.StrategyOutcome"),
    ("exporter", "export"): _check_files,
}


def call(kind: str, component: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """``component.method(*args, **kwargs)``, guarded (see the module docstring)."""
    try:
        result = getattr(component, method)(*args, **kwargs)
    except NeuronasError:
        raise
    except Exception as error:
        raise ComponentError(
            f"{describe(kind, component)} failed in {method}(): {type(error).__name__}: {error}"
        ) from error
    check = RESULT_CHECKS.get((kind, method))
    problem = check(result) if check is not None else None
    if problem is not None:
        raise ComponentError(f"{describe(kind, component)} {method}() returned {problem}")
    return result


def _culprit(error: BaseException, implementations: Sequence[Any]) -> str:
    """The plugin whose hook implementation the traceback of ``error`` passes through."""
    codes = {}
    for impl in implementations:
        function = getattr(impl.function, "__func__", impl.function)
        codes[function.__code__] = impl.plugin_name
    for frame, _line in traceback.walk_tb(error.__traceback__):
        if frame.f_code in codes:
            return codes[frame.f_code]
    return "?"


def fire_guarded(hook: Any, hook_name: str, **kwargs: Any) -> None:
    """Call an observer hook on every plugin; a plugin's failure is one ComponentError naming it."""
    try:
        hook(**kwargs)
    except NeuronasError:
        raise
    except Exception as error:
        plugin = _culprit(error, hook.get_hookimpls())
        raise ComponentError(
            f"plugin {plugin!r} failed in its {hook_name} hook: {type(error).__name__}: {error}"
        ) from error
