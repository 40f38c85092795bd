"""`check_hardware_model`: the `neuronas.contracts.HardwareModel` contract, rule by rule."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from neuronas.arch import Architecture, Cell, LayerShape
from neuronas.contracts import HardwareCost, HardwareModel, run_parameters
from neuronas.errors import NeuronasError, UsageError
from neuronas.testing.core import (
    Checker,
    Conformance,
    check_members,
    close,
    is_cost,
    is_count,
    is_real,
    label,
)
from neuronas.testing.networks import SMALL_MACRO

#: Every rule `check_hardware_model` holds a model to, in the order it checks them.
HARDWARE_RULES: dict[str, str] = {
    "members": "name, description, make_config and estimate, as neuronas.contracts.HardwareModel",
    "default-config": "make_config() and make_config({}) give the defaults",
    "frozen-config": "the config cannot be changed once made",
    "run-parameters": "make_config takes the keys neuronas run passes, timesteps and weight_bits",
    "string-values": "a value given as a string (neuronas cost --set key=value) means the number",
    "unknown-parameter": "an unknown key is a UsageError that names it, never silently ignored",
    "bad-value": "a value of the wrong type or out of range is a UsageError",
    "estimates": "estimate maps every sample network",
    "required-fields": "estimate returns a HardwareCost with every required field",
    "field-types": "each field of the HardwareCost has its type and one entry per layer",
    "finite-costs": "totals, per-layer and per-component costs are finite numbers >= 0",
    "sums": "per-layer and per-component values add up to the totals",
    "deterministic": "the same layers and parameters give the same cost",
    "inputs-untouched": "estimate leaves the layer list it is given as it was",
    "params-rebuild-config": "make_config(cost.params), read back from JSON, gives the config again",
    "weight-bits-monotone": "no total falls as weight_bits rises",
    "size-monotone": "no total falls as a layer gets more channels, a larger map or kernel",
    "unmappable-layer": "a layer it cannot map is a NeuronasError (HardwareModelError), not a cost",
}

#: Weight precisions tried for "weight-bits-monotone" (a search takes 2 to 32).
WEIGHT_BITS = (2, 4, 8, 16)
TOTALS = ("area_mm2", "latency_ms", "energy_uj")
REQUIRED_FIELDS = tuple(
    field.name for field in attrs.fields(HardwareCost) if field.default is attrs.NOTHING
)


def _search_candidate(include_classifier: bool) -> tuple[LayerShape, ...]:
    """The weight layers of a small search candidate (every edge a 3x3 convolution)."""
    from neuronas.snn.opspec import BUILTIN_OPS
    from neuronas.snn.shapes import network_layer_shapes

    cell = Cell(("conv3x3",) * 6)
    arch = Architecture(cell, cell, SMALL_MACRO)
    return tuple(network_layer_shapes(arch, BUILTIN_OPS, include_classifier))


def sample_networks() -> dict[str, tuple[LayerShape, ...]]:
    """The layer lists every model is checked on, by the name a failure gives them."""
    return {
        "one 3x3 conv": (LayerShape("conv", 3, 16, 3, 8, 8, name="conv"),),
        "convs and a classifier": (
            LayerShape("conv", 1, 8, 3, 8, 8, role="stem", name="stem"),
            LayerShape("conv", 8, 8, 3, 8, 8, name="conv1"),
            LayerShape("conv", 8, 16, 3, 8, 4, stride=2, name="conv2"),
            LayerShape("linear", 256, 10, 1, 1, 1, role="classifier", name="fc"),
        ),
        "1x1 and 5x5 kernels": (
            LayerShape("conv", 16, 32, 1, 16, 16, name="pointwise"),
            LayerShape("conv", 32, 32, 5, 16, 16, name="wide"),
        ),
        "a wide linear layer": (LayerShape("linear", 1024, 1024, 1, 1, 1, name="dense"),),
        "a search candidate (width 8)": _search_candidate(False),
        "a search candidate with its classifier": _search_candidate(True),
    }


def _grown(layer: LayerShape) -> Iterable[tuple[str, LayerShape]]:
    """``layer`` made larger one way at a time."""
    yield "in_channels x2", attrs.evolve(layer, in_channels=2 * layer.in_channels)
    yield "out_channels x2", attrs.evolve(layer, out_channels=2 * layer.out_channels)
    if layer.kind == "conv":
        yield "map x2", attrs.evolve(layer, in_size=2 * layer.in_size, out_size=2 * layer.out_size)
        yield "kernel +2", attrs.evolve(layer, kernel=layer.kernel + 2)


def _as_plain(cost: HardwareCost) -> dict[str, Any]:
    """A cost as comparable data (mapping proxies and dicts alike)."""
    return json.loads(json.dumps(attrs.asdict(cost, recurse=False), default=_jsonable))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | list):
        return list(value)
    return repr(value)


class _HardwareCheck:
    def __init__(self, model: Any, params: Mapping[str, Any], monotone: Sequence[str]) -> None:
        self.model = model
        self.checker = Checker(label("hardware model", model), HARDWARE_RULES)
        self.base = {**run_parameters(5, 8), **params}
        self.monotone = tuple(monotone)

    def make(self, overrides: Mapping[str, Any], rule: str = "run-parameters") -> Any:
        return self.checker.run(
            rule, f"make_config({dict(overrides)!r})", self.model.make_config, dict(overrides)
        )

    def where(self, network: str, overrides: Mapping[str, Any]) -> str:
        return f"{network} with parameters {dict(overrides)!r}"

    def estimate(self, network: str, layers: Sequence[LayerShape], overrides: Mapping[str, Any]):
        config = self.make(overrides)
        where = self.where(network, overrides)
        check = self.checker
        given = list(layers)
        check.mark("estimates")
        check.mark("required-fields")
        try:
            cost = self.model.estimate(given, config)
        except TypeError as error:
            if "HardwareCost" in str(error):
                check.fail("required-fields", where, f"raised TypeError: {error}")
            check.fail("estimates", where, f"raised TypeError: {error}")
        except Exception as error:
            check.fail("estimates", where, f"raised {type(error).__name__}: {error}")
        if not isinstance(cost, HardwareCost):
            missing = [name for name in REQUIRED_FIELDS if not hasattr(cost, name)]
            detail = f"returned a {type(cost).__name__}, not a neuronas.contracts.HardwareCost"
            if missing:
                detail += f"; it lacks {', '.join(missing)}"
            check.fail("required-fields", where, detail)
        check.ensure(
            "inputs-untouched",
            given == list(layers),
            where,
            "the layer list it was given changed",
        )
        self.check_cost(cost, layers, where)
        return cost

    def check_cost(self, cost: HardwareCost, layers: Sequence[LayerShape], where: str) -> None:
        check = self.checker
        for name in TOTALS:
            value = getattr(cost, name)
            check.ensure("field-types", is_real(value), where, f"{name}={value!r} is not a number")
        for name in ("n_pe", "n_tiles", "n_weights"):
            value = getattr(cost, name)
            check.ensure("field-types", is_count(value), where, f"{name}={value!r}, not a count")
        per_layer_energy = cost.energy_uj_per_layer
        check.ensure(
            "field-types",
            isinstance(per_layer_energy, tuple | list)
            and len(per_layer_energy) == len(layers)
            and all(is_real(value) for value in per_layer_energy),
            where,
            f"energy_uj_per_layer={per_layer_energy!r}: expected one number per layer "
            f"({len(layers)})",
        )
        check.ensure(
            "field-types",
            isinstance(cost.per_layer, tuple | list)
            and len(cost.per_layer) in (0, len(layers))
            and all(isinstance(entry, Mapping) for entry in cost.per_layer),
            where,
            f"per_layer has {len(cost.per_layer)} entries: expected none or one mapping per layer "
            f"({len(layers)})",
        )
        for name in ("area_mm2_by_component", "energy_uj_by_component", "params"):
            value = getattr(cost, name)
            check.ensure(
                "field-types",
                isinstance(value, Mapping) and all(isinstance(key, str) for key in value),
                where,
                f"{name}={value!r} is not a mapping with string keys",
            )
        for name in ("area_mm2_by_component", "energy_uj_by_component"):
            for key, value in getattr(cost, name).items():
                check.ensure("field-types", is_real(value), where, f"{name}[{key!r}]={value!r}")
        check.ensure(
            "field-types",
            isinstance(cost.notes, tuple | list) and all(isinstance(n, str) for n in cost.notes),
            where,
            f"notes={cost.notes!r}: expected a tuple of strings",
        )
        check.ensure(
            "field-types",
            cost.model in ("", self.model.name),
            where,
            f"model={cost.model!r}: expected the model's name {self.model.name!r}",
        )

        for name in TOTALS:
            value = getattr(cost, name)
            check.ensure("finite-costs", is_cost(value), where, f"{name}={value!r}")
        for index, value in enumerate(per_layer_energy):
            check.ensure(
                "finite-costs", is_cost(value), where, f"energy_uj_per_layer[{index}]={value!r}"
            )
        for name in ("area_mm2_by_component", "energy_uj_by_component"):
            for key, value in getattr(cost, name).items():
                check.ensure("finite-costs", is_cost(value), where, f"{name}[{key!r}]={value!r}")

        total = sum(per_layer_energy)
        check.ensure(
            "sums",
            close(total, cost.energy_uj),
            where,
            f"energy_uj_per_layer adds up to {total!r}, energy_uj is {cost.energy_uj!r}",
        )
        for name, total_name in (
            ("area_mm2_by_component", "area_mm2"),
            ("energy_uj_by_component", "energy_uj"),
        ):
            parts = getattr(cost, name)
            if parts:
                added = sum(parts.values())
                expected = getattr(cost, total_name)
                check.ensure(
                    "sums",
                    close(added, expected),
                    where,
                    f"{name} adds up to {added!r}, {total_name} is {expected!r}",
                )
        for key in ("area_mm2", "energy_uj"):
            values = [entry.get(key) for entry in cost.per_layer]
            if values and all(is_real(value) for value in values):
                added = sum(values)
                expected = getattr(cost, key)
                check.ensure(
                    "sums",
                    close(added, expected),
                    where,
                    f"per_layer[...][{key!r}] adds up to {added!r}, {key} is {expected!r}",
                )
        weights = sum(layer.weights for layer in layers)
        check.ensure(
            "sums",
            cost.n_weights in (0, weights),
            where,
            f"n_weights={cost.n_weights}: the layers have {weights} weights (0: not counted)",
        )

    def check_config(self) -> None:
        check, model = self.checker, self.model
        default = check.run("default-config", "make_config()", model.make_config)
        for argument in (None, {}):
            again = check.run(
                "default-config", f"make_config({argument!r})", model.make_config, argument
            )
            check.ensure(
                "default-config",
                again == default,
                f"make_config({argument!r})",
                f"gave {again!r}, make_config() gave {default!r}",
            )
        if attrs.has(type(default)) and attrs.fields(type(default)):
            first = attrs.fields(type(default))[0].name
            check.refuses(
                "frozen-config",
                f"setting {first} on the default config",
                Exception,
                setattr,
                default,
                first,
                getattr(default, first),
            )
        elif isinstance(default, dict | list):
            check.ensure(
                "frozen-config",
                False,
                "make_config()",
                f"returned a {type(default).__name__}; use a frozen attrs class",
            )
        base = self.make(self.base)
        check.ensure(
            "deterministic",
            self.make(self.base) == base,
            f"make_config({self.base!r})",
            "two calls gave different configs",
        )
        as_strings = {key: str(value) for key, value in run_parameters(5, 8).items()}
        from_strings = self.make({**self.base, **as_strings}, "string-values")
        check.ensure(
            "string-values",
            from_strings == base,
            f"make_config({as_strings!r})",
            f"gave {from_strings!r}, the numbers give {base!r}",
        )
        for key in ("no_such_parameter", "timestep"):
            error = check.refuses(
                "unknown-parameter",
                f"make_config({{{key!r}: 4}})",
                UsageError,
                model.make_config,
                {**self.base, key: 4},
            )
            check.ensure(
                "unknown-parameter",
                key in str(error),
                f"make_config({{{key!r}: 4}})",
                f"the error does not name the key: {error}",
            )
        for bad in ({"weight_bits": "many"}, {"timesteps": 0}, {"timesteps": -5}):
            check.refuses("bad-value", f"make_config({bad!r})", UsageError, model.make_config, bad)

    def check_networks(self, networks: Mapping[str, Sequence[LayerShape]]) -> None:
        check = self.checker
        for network, layers in networks.items():
            cost = self.estimate(network, layers, self.base)
            where = self.where(network, self.base)
            again = self.estimate(network, layers, self.base)
            check.ensure(
                "deterministic",
                _as_plain(again) == _as_plain(cost),
                where,
                "two calls gave different costs",
            )
            config = self.make(self.base)
            try:
                recorded = json.loads(json.dumps(dict(cost.params)))
            except TypeError as error:
                check.fail("params-rebuild-config", where, f"params are not JSON data: {error}")
            if recorded:
                rebuilt = self.make(recorded, "params-rebuild-config")
                check.ensure(
                    "params-rebuild-config",
                    rebuilt == config,
                    where,
                    f"make_config(cost.params) gave {rebuilt!r}, not {config!r}",
                )
            self.check_weight_bits(network, layers)
            self.check_sizes(network, layers, cost)

    def check_weight_bits(self, network: str, layers: Sequence[LayerShape]) -> None:
        previous = None
        for bits in WEIGHT_BITS:
            overrides = {**self.base, "weight_bits": bits}
            try:
                self.model.make_config(overrides)
            except UsageError:
                continue  # a chip may take only some precisions, and says so
            cost = self.estimate(network, layers, overrides)
            if previous is not None:
                self.no_total_falls("weight-bits-monotone", network, previous, cost)
            previous = (f"weight_bits={bits}", cost)
        self.checker.mark("weight-bits-monotone")

    def check_sizes(self, network: str, layers: Sequence[LayerShape], cost: HardwareCost) -> None:
        for index, layer in enumerate(layers):
            for change, grown in _grown(layer):
                bigger = [*layers[:index], grown, *layers[index + 1 :]]
                name = f"{network}, layer {index} ({layer.name or layer.kind}) {change}"
                larger = self.estimate(name, bigger, self.base)
                self.no_total_falls("size-monotone", network, ("as given", cost), larger, name)
        self.checker.mark("size-monotone")

    def no_total_falls(
        self,
        rule: str,
        network: str,
        before: tuple[str, HardwareCost],
        after: HardwareCost,
        what: str | None = None,
    ) -> None:
        previous_label, previous = before
        for total in self.monotone:
            low, high = getattr(previous, total), getattr(after, total)
            self.checker.ensure(
                rule,
                high >= low or close(high, low),
                what or network,
                f"{total} fell from {low!r} ({previous_label}) to {high!r}",
            )

    def check_unmappable(self) -> None:
        layer = LayerShape("pool", 4, 4, 2, 8, 4, name="pool")  # type: ignore[arg-type]
        config = self.make(self.base)
        self.checker.refuses(
            "unmappable-layer",
            "a layer of kind 'pool'",
            NeuronasError,
            self.model.estimate,
            [layer],
            config,
        )


def check_hardware_model(
    model: Any,
    *,
    params: Mapping[str, Any] | None = None,
    layers: Mapping[str, Sequence[LayerShape]] | None = None,
    monotone: Sequence[str] = TOTALS,
) -> Conformance:
    """Hold ``model`` to every rule of `HARDWARE_RULES`; a broken rule is a `ConformanceError`.

    ``params``: parameters of the model used for every estimate (on top of timesteps 5 and
    weight_bits 8, what a search passes). ``layers``: networks of your own, by name, checked with
    the `sample_networks`. ``monotone``: the totals that must not fall as weight bits or a layer
    grow; leave one out only for a reason your chip has (e.g. latency, when more weight bits
    spread a layer over more cores that work in parallel).
    """
    unknown = sorted(set(monotone) - set(TOTALS))
    if unknown:
        raise ValueError(f"monotone: unknown total(s) {', '.join(unknown)}; valid: {TOTALS}")
    check = _HardwareCheck(model, params or {}, monotone)
    check_members(check.checker, model, HardwareModel)
    check.check_config()
    check.check_networks({**sample_networks(), **(layers or {})})
    check.check_unmappable()
    return check.checker.report()
