"""Built-in hardware cost models (``spikeflow``, ``spikesim``) and the ``neuronas cost`` command."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
from rich.table import Table

import neuronas.plugin
from neuronas.api import DEFAULTS, parse_architecture
from neuronas.arch import LayerShape
from neuronas.builtins.arch_options import arch_input_options
from neuronas.console import console, print_json
from neuronas.contracts import HardwareCost, run_parameters
from neuronas.errors import UsageError
from neuronas.folders import read_json, whole_number
from neuronas.hardware import (
    SpikeFlowModel,
    SpikeSimModel,
    cost_as_dict,
    load_toml,
    parse_assignments,
)
from neuronas.plugin import guard

LAYER_KEYS = ("kind", "in_channels", "out_channels", "kernel", "in_size", "out_size")
OPTIONAL_LAYER_KEYS = ("stride", "role", "name")


@neuronas.plugin.hookimpl
def neuronas_register_hardware(register):
    register(SpikeFlowModel())
    register(SpikeSimModel())


@neuronas.plugin.hookimpl
def neuronas_register_commands(cli):
    cli.add_command(cost_command)


def layers_from_json(path: Path) -> tuple[list[LayerShape], dict[str, Any]]:
    """Layers and hardware params from ``{"layers": [...], "params": {...}}``; linear layers may
    omit kernel, in_size and out_size (1)."""
    document = read_json(path, 'a layer file ({"layers": [...], "params": {...}})')
    if not isinstance(document.get("layers"), list):
        raise UsageError(
            f'layer file {path}: expected an object {{"layers": [...], "params": {{}}}}'
        )
    unknown = sorted(set(document) - {"layers", "params"})
    if unknown:
        raise UsageError(
            f"layer file {path}: unknown key(s) {', '.join(unknown)}; valid: layers, params"
        )
    params = document.get("params", {})
    if not isinstance(params, dict):
        raise UsageError(f'layer file {path}: "params" must be an object of hardware parameters')
    if not document["layers"]:
        raise UsageError(f"layer file {path} holds no layers; give at least one")
    layers = []
    for index, entry in enumerate(document["layers"]):
        where = f"layer file {path}, layer {index}"
        if not isinstance(entry, dict):
            raise UsageError(f"{where}: expected an object with keys {', '.join(LAYER_KEYS)}")
        extra = sorted(set(entry) - set(LAYER_KEYS) - set(OPTIONAL_LAYER_KEYS))
        if extra:
            valid = ", ".join(LAYER_KEYS + OPTIONAL_LAYER_KEYS)
            raise UsageError(f"{where}: unknown key(s) {', '.join(extra)}; valid keys: {valid}")
        values = dict(entry)
        if values.get("kind") == "linear":
            for key in ("kernel", "in_size", "out_size"):
                values.setdefault(key, 1)
        missing = [key for key in LAYER_KEYS if key not in values]
        if missing:
            raise UsageError(f"{where}: missing key(s) {', '.join(missing)}")
        _check_layer(where, values)
        values.setdefault("name", f"layer{index}")
        layers.append(LayerShape(**values))
    return layers, params


#: The largest channel count, kernel or map side a layer file may give (as crossbar_size).
MAX_LAYER_SIZE = 2**31 - 1


def _check_layer(where: str, values: Mapping[str, Any]) -> None:
    """A UsageError unless ``values`` is a layer a hardware model can take: a conv or linear kind,
    sizes (and stride) that are whole numbers from 1, a role and a name that are strings."""
    if values["kind"] not in ("conv", "linear"):
        raise UsageError(f"{where}: kind must be 'conv' or 'linear', got {values['kind']!r}")
    for key in (*LAYER_KEYS[1:], "stride"):
        value = values.get(key, 1)
        if not whole_number(value, 1, MAX_LAYER_SIZE):
            raise UsageError(
                f"{where}: {key} must be an integer from 1 to {MAX_LAYER_SIZE}, got {value!r}"
            )
    for key in ("role", "name"):
        if not isinstance(values.get(key, ""), str):
            raise UsageError(f"{where}: {key} must be a string, got {values[key]!r}")


UNIT_SUFFIXES = {"_mm2": " (mm^2)", "_uj": " (uJ)", "_ms": " (ms)"}


def _per_layer_columns(per_layer: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every scalar per-layer key any layer has, in first-seen order (any model's keys)."""
    keys: dict[str, None] = {}
    for layer in per_layer:
        for key, value in layer.items():
            if isinstance(value, str | int | float):
                keys.setdefault(key)
    return list(keys)


def _heading(key: str) -> str:
    for suffix, unit in UNIT_SUFFIXES.items():
        if key.endswith(suffix):
            return key.removesuffix(suffix) + unit
    return key


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _share(part: float, total: float) -> str:
    return f"{100 * part / total:.1f}" if total else "-"


def _print_cost(cost: HardwareCost) -> None:
    totals = Table(title=f"{cost.model}: totals")
    for column in (
        "area (mm^2)",
        "latency (ms)",
        "energy (uJ)",
        "PEs",
        "tiles",
        "params (weights)",
    ):
        totals.add_column(column, justify="right")
    totals.add_row(
        f"{cost.area_mm2:.4f}",
        f"{cost.latency_ms:.4f}",
        f"{cost.energy_uj:.4f}",
        str(cost.n_pe),
        str(cost.n_tiles),
        f"{cost.n_weights:,}",
    )
    console.print(totals)

    layers = Table(title="per layer")
    keys = _per_layer_columns(cost.per_layer)
    layers.add_column("#", justify="right")
    for key in keys:
        layers.add_column(_heading(key), justify="left" if key in ("name", "kind") else "right")
    for index, layer in enumerate(cost.per_layer):
        layers.add_row(str(index), *(_cell(layer.get(key)) for key in keys))
    console.print(layers)

    components = Table(title="per component")
    for column in ("component", "area (mm^2)", "area %", "energy (uJ)", "energy %"):
        components.add_column(column, justify="left" if column == "component" else "right")
    names = list(cost.area_mm2_by_component)
    names += [name for name in cost.energy_uj_by_component if name not in names]
    for name in names:
        area = cost.area_mm2_by_component.get(name)
        energy = cost.energy_uj_by_component.get(name)
        components.add_row(
            name,
            "-" if area is None else f"{area:.4f}",
            "-" if area is None else _share(area, cost.area_mm2),
            "-" if energy is None else f"{energy:.4f}",
            "-" if energy is None else _share(energy, cost.energy_uj),
        )
    console.print(components)
    params = ", ".join(f"{key}={value}" for key, value in cost.params.items())
    console.print(f"[bold]hardware parameters:[/] {params}", highlight=False)
    for note in cost.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)


@click.command("cost")
@click.argument("arch", required=False)
@click.option(
    "--layers",
    "layers_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help='Cost a raw layer list: JSON {"layers": [...], "params": {...}} instead of ARCH.',
)
@click.option(
    "--hardware",
    "hardware_name",
    default="spikeflow",
    show_default=True,
    help="Hardware cost model (see `neuronas list hardware`).",
)
@click.option(
    "--space",
    "space_name",
    default=DEFAULTS.space,
    show_default=True,
    help="Search space that turns ARCH into layers.",
)
@arch_input_options
@click.option(
    "--weight-bits",
    type=click.IntRange(min=1),
    help=f"Weight precision in bits [default: {DEFAULTS.weight_bits} for ARCH, as a search]",
)
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override one hardware parameter, e.g. --set crossbar_size=128. Repeatable.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML file of hardware parameters (top level or a [hardware] table).",
)
@click.option("--include-classifier", is_flag=True, help="Also map the classifier layers of ARCH.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def cost_command(
    arch: str | None,
    layers_file: Path | None,
    hardware_name: str,
    space_name: str,
    dataset: str,
    event_size: int | None,
    weight_bits: int | None,
    assignments: tuple[str, ...],
    config_file: Path | None,
    include_classifier: bool,
    as_json: bool,
) -> None:
    """Area, latency and energy of ARCH or of --layers FILE.json.

    ARCH is an architecture string or one cell string (used as cells A and B), read as `neuronas
    show` reads it. Parameters are resolved in this order, later winning: the model's defaults,
    the timesteps of ARCH and a search's weight bits (or the "params" of the layer file),
    --config, --weight-bits, --set. So `--set timesteps=N` overrides the architecture's own.
    """
    if (arch is None) == (layers_file is None):
        raise UsageError("give exactly one of ARCH or --layers FILE.json")
    model = neuronas.plugin.get_component("hardware", hardware_name)
    overrides: dict[str, Any] = {}
    if layers_file is not None:
        layers, overrides = layers_from_json(layers_file)
    else:
        architecture = parse_architecture(arch, space_name, dataset, event_size)
        space = neuronas.plugin.get_component("space", space_name)
        layers = guard.call(
            "space", space, "layer_shapes", architecture, include_classifier=include_classifier
        )
        overrides.update(run_parameters(architecture.macro.timesteps, DEFAULTS.weight_bits))
    if config_file is not None:
        overrides.update(load_toml(config_file))
    if weight_bits is not None:
        overrides["weight_bits"] = weight_bits
    overrides.update(parse_assignments(assignments))
    config = guard.call("hardware", model, "make_config", overrides)
    cost = guard.call("hardware", model, "estimate", layers, config)
    if as_json:
        print_json(cost_as_dict(cost))
    else:
        _print_cost(cost)
