"""Frozen hardware configs and how users override them: Python mappings, ``key=value`` and TOML.

Every parameter is an attrs field whose metadata gives its kind, unit and meaning; one generic resolver
checks names and types for both models, so an unknown key or a wrong type is a one-line error that
lists what is valid.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs

from neuronas.errors import HardwareModelError, UsageError
from neuronas.folders import read_toml
from neuronas.hardware import constants as K


class HardwareConfigError(HardwareModelError, UsageError):
    """A hardware parameter that is unknown, of the wrong type or out of range (exit code 2)."""


def parameter(default: Any, kind: str, unit: str, help: str, choices: tuple[str, ...] = ()) -> Any:
    """A config field: ``kind`` is 'int' (>= 1), 'float' (> 0), 'fraction' (0, 1] or 'choice'."""
    return attrs.field(
        default=default,
        metadata={"kind": kind, "unit": unit, "help": help, "choices": choices},
    )


Config = TypeVar("Config")


class _DerivedQuantities:
    """What both cost models derive from their configs the same way."""

    @property
    def bit_factor(self) -> int:
        """f = ceil(weight_bits / bits_per_cell): cells per weight."""
        return math.ceil(self.weight_bits / self.bits_per_cell)

    @property
    def pe_cycle_ms(self) -> float:
        """t_PE = c * 1000 / f_clk ns, in ms."""
        return self.cycles_per_pe_cycle * 1000.0 / self.clock_mhz / K.NS_PER_MS


@attrs.frozen(cache_hash=True)
class SpikeSimConfig(_DerivedQuantities):
    """SpikeSim's inputs, with its defaults (64x64 RRAM crossbars, 8 PEs per tile, 250 MHz, T=5)."""

    crossbar_size: int = parameter(64, "int", "cells", "crossbar rows = columns (X)")
    pes_per_tile: int = parameter(8, "int", "PEs", "processing elements per tile (P)")
    clock_mhz: float = parameter(250.0, "float", "MHz", "clock frequency")
    timesteps: int = parameter(5, "int", "steps", "SNN timesteps per inference (T)")
    device: str = parameter(
        "rram", "choice", "", "crossbar cell technology", choices=("rram", "sram")
    )
    kernel_size: int = parameter(3, "int", "", "SpikeSim's one kernel size for every layer (k)")
    weight_bits: int = parameter(
        1, "int", "bits", "weight precision; f = ceil(weight_bits / bits_per_cell) = 1 as published"
    )
    bits_per_cell: int = parameter(1, "int", "bits", "bits stored per crossbar cell")
    cycles_per_pe_cycle: int = parameter(26, "int", "cycles", "clock cycles per PE cycle (c)")
    pipeline_checkpoint: float = parameter(
        0.75, "fraction", "", "the next layer starts when the previous is this far (rho)"
    )
    neuron_memory_layers: int = parameter(
        5, "int", "layers", "SpikeSim charges neuron memory for only this many first layers"
    )


@attrs.frozen(cache_hash=True)
class SpikeFlowConfig(_DerivedQuantities):
    """The NeuroNAS defaults: SpikeSim's constants with Table I of the NeuroNAS paper."""

    crossbar_size: int = parameter(64, "int", "cells", "crossbar rows = columns (X)")
    pes_per_tile: int = parameter(8, "int", "PEs", "processing elements per tile (P)")
    clock_mhz: float = parameter(250.0, "float", "MHz", "clock frequency")
    timesteps: int = parameter(5, "int", "steps", "SNN timesteps per inference (T)")
    device: str = parameter(
        "rram", "choice", "", "crossbar cell technology", choices=("rram", "sram")
    )
    weight_bits: int = parameter(8, "int", "bits", "weight precision (bit_W)")
    bits_per_cell: int = parameter(1, "int", "bits", "bits stored per crossbar cell (bit_D)")
    adc_bits: int = parameter(4, "int", "bits", "crossbar ADC precision")
    mux_size: int = parameter(8, "int", "columns", "columns sharing one ADC through a mux (m)")
    tile_buffer_kb: float = parameter(10.0, "float", "KB", "tile buffer (TBuff) size, SRAM")
    cycles_per_pe_cycle: int = parameter(26, "int", "cycles", "clock cycles per PE cycle (c)")
    pipeline_checkpoint: float = parameter(
        0.75, "fraction", "", "the next layer starts when the previous is this far (rho)"
    )

    def __attrs_post_init__(self) -> None:
        if self.crossbar_size % self.mux_size:
            raise HardwareConfigError(
                f"spikeflow: crossbar_size ({self.crossbar_size}) must be a multiple of mux_size "
                f"({self.mux_size}): each ADC reads mux_size columns"
            )


def describe_parameters(config_class: type) -> list[dict[str, Any]]:
    """Name, default, unit and meaning of every parameter (docs and ``--help``)."""
    return [
        {
            "name": field.name,
            "default": field.default,
            "unit": field.metadata["unit"],
            "help": field.metadata["help"],
        }
        for field in attrs.fields(config_class)
    ]


#: Bounds on what a user can type for a parameter: far beyond any chip, small enough that no
#: equation overflows or divides a denormal into infinity.
MAX_INTEGER = 2**31 - 1
FLOAT_RANGE = (1e-6, 1e9)


def _coerce(model: str, field: attrs.Attribute, value: Any) -> Any:
    kind = field.metadata["kind"]
    where = f"{model} parameter {field.name}={value!r}"
    if kind == "choice":
        choices = field.metadata["choices"]
        if isinstance(value, str) and value.strip().lower() in choices:
            return value.strip().lower()
        raise HardwareConfigError(f"{where}: expected one of {', '.join(choices)}")
    if isinstance(value, bool):
        raise HardwareConfigError(f"{where}: expected a number, got a boolean")
    if kind == "int":
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise HardwareConfigError(f"{where}: expected an integer") from None
        if not isinstance(value, int):
            raise HardwareConfigError(f"{where}: expected an integer")
        if not 1 <= value <= MAX_INTEGER:
            raise HardwareConfigError(f"{where}: expected an integer from 1 to {MAX_INTEGER}")
        return value
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise HardwareConfigError(f"{where}: expected a number") from None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise HardwareConfigError(f"{where}: expected a finite number")
    if kind == "fraction" and not 0 < value <= 1:
        raise HardwareConfigError(f"{where}: expected a number in (0, 1]")
    if kind == "float" and not FLOAT_RANGE[0] <= value <= FLOAT_RANGE[1]:
        low, high = FLOAT_RANGE
        raise HardwareConfigError(f"{where}: expected a number from {low:g} to {high:g}")
    return float(value)


def resolve_config(
    model: str, config_class: type[Config], overrides: Mapping[str, Any] | None
) -> Config:
    """``config_class`` defaults updated by ``overrides`` (values typed or strings), all checked."""
    fields = {field.name: field for field in attrs.fields(config_class)}
    values: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if key not in fields:
            message = f"unknown {model} parameter {key!r}; valid parameters: {', '.join(fields)}"
            close = difflib.get_close_matches(key, list(fields), n=1)
            if close:
                message += f". Did you mean {close[0]!r}?"
            raise HardwareConfigError(message)
        values[key] = _coerce(model, fields[key], value)
    return config_class(**values)


def parse_assignments(assignments: Iterable[str]) -> dict[str, str]:
    """``["crossbar_size=128", "device=sram"]`` -> a dict of strings; types are checked later."""
    parsed: dict[str, str] = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise HardwareConfigError(
                f"hardware setting {assignment!r}: expected key=value, e.g. crossbar_size=128"
            )
        parsed[key.strip()] = value.strip()
    return parsed


def load_toml(path: Path | str) -> dict[str, Any]:
    """Parameters from a TOML file: top-level keys, or the keys of a ``[hardware]`` table."""
    path = Path(path)
    try:
        document = read_toml(path, "a hardware config")
    except UsageError as error:
        raise HardwareConfigError(str(error)) from None
    table = document.get("hardware", document)
    if not isinstance(table, dict):
        raise HardwareConfigError(f"hardware config {path}: [hardware] must be a table")
    nested = [key for key, value in table.items() if isinstance(value, dict)]
    if nested:
        raise HardwareConfigError(
            f"hardware config {path}: unexpected table(s) {', '.join(nested)}; put parameters at "
            "the top level or in one [hardware] table"
        )
    return table
