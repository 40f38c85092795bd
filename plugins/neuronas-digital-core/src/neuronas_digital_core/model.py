"""A cost model for a digital neuromorphic chip of identical neuron cores (Loihi/TrueNorth-like).

Mapping: every layer gets cores of its own. A core updates at most ``neurons_per_core`` neurons and
stores its synapses in ``synapse_memory_kib`` KiB of SRAM at ``weight_bits`` per weight, each weight
once (a convolution's kernel is shared by the neurons that use it), so layer l needs

    cores_l = max(ceil(neurons_l / neurons_per_core),
                  ceil(weights_l * weight_bits / (synapse_memory_kib * 8192)))

Energy is event-driven. Each input spike that reaches a synapse is one synaptic operation (SOP):

    SOPs_l  = fan_in_l * neurons_l * timesteps * rate_l
    E_l     = SOPs_l * (energy_per_sop_pj + weight_bits * sram_read_pj_per_bit)
            + neurons_l * timesteps * energy_per_neuron_update_pj

where rate_l is the fraction of layer l's inputs that spike per timestep: ``spike_rates[l]`` where
the caller measured it, else ``input_spike_rate``. fan_in is C_in * k^2 for a conv and C_in for a
linear layer; neurons_l is C_out * H_out^2 for a conv and C_out for a linear layer.

Latency: the cores of a layer share its work evenly and all cores meet at a barrier every timestep.
A spike moves one layer per timestep, so the last layer sees the last input after T + L - 1 steps:

    cycles_l   = (SOPs_l / T * cycles_per_sop + neurons_l * cycles_per_neuron_update) / cores_l
    step       = max_l cycles_l + sync_cycles_per_step
    latency_ms = (T + L - 1) * step / (clock_mhz * 1000)

Area: cores * (synapse SRAM bits * sram_area_um2_per_bit + core_logic_area_mm2); n_tiles counts the
chips of ``cores_per_chip`` cores that hold them.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from neuronas.arch import LayerShape
from neuronas.contracts import HardwareCost
from neuronas.errors import HardwareModelError, UsageError

NAME = "digital-core"
BITS_PER_KIB = 1024 * 8
PJ_PER_UJ = 1e6
UM2_PER_MM2 = 1e6


def _in_range(low: float, high: float = math.inf, low_inclusive: bool = True):
    """An attrs validator that raises a UsageError naming the parameter and its allowed range."""

    def check(_instance: object, attribute: attrs.Attribute, value: float) -> None:
        above_low = value >= low if low_inclusive else value > low
        if not (above_low and value <= high):
            bracket = "[" if low_inclusive else "("
            upper = "inf)" if high == math.inf else f"{high:g}]"
            raise UsageError(
                f"{NAME} parameter {attribute.name}={value!r} is out of range; expected a value "
                f"in {bracket}{low:g}, {upper}"
            )

    return check


def _rates_in_unit_interval(
    _instance: object, _attribute: attrs.Attribute, rates: tuple[float, ...] | None
) -> None:
    for index, rate in enumerate(rates or ()):
        if not 0.0 <= rate <= 1.0:
            raise UsageError(
                f"{NAME} parameter spike_rates[{index}]={rate!r} is out of range; a spike rate is "
                "the fraction of inputs that spike per timestep, in [0, 1]"
            )


def _param(default: Any, kind: type, unit: str, meaning: str, validator: Any) -> Any:
    return attrs.field(
        default=default,
        validator=validator,
        metadata={"kind": kind, "unit": unit, "meaning": meaning},
    )


@attrs.frozen
class DigitalCoreConfig:
    """Every parameter of the model; ``metadata`` holds its unit and meaning (the README's table).

    The defaults are illustrative orders of magnitude, not one chip's data (see README).
    """

    timesteps: int = _param(5, int, "-", "timesteps per inference", _in_range(1))
    weight_bits: int = _param(8, int, "bit", "bits per stored weight (1..32)", _in_range(1, 32))
    clock_mhz: float = _param(200.0, float, "MHz", "core clock", _in_range(0, low_inclusive=False))
    input_spike_rate: float = _param(
        0.1,
        float,
        "spikes / input / timestep",
        "input spike rate of every layer without a measured one",
        _in_range(0, 1),
    )
    spike_rates: tuple[float, ...] | None = _param(
        None,
        tuple,
        "spikes / input / timestep",
        'measured input spike rate per layer, one per layer in order (a list, or `"0.2,0.05"`)',
        _rates_in_unit_interval,
    )
    neurons_per_core: int = _param(1024, int, "neurons", "neurons one core updates", _in_range(1))
    synapse_memory_kib: int = _param(128, int, "KiB", "synapse SRAM per core", _in_range(1))
    cores_per_chip: int = _param(
        128, int, "cores", "cores on one chip (`n_tiles` counts chips)", _in_range(1)
    )
    energy_per_sop_pj: float = _param(
        20.0,
        float,
        "pJ",
        "accumulate and spike routing per SOP, without the weight read",
        _in_range(0),
    )
    sram_read_pj_per_bit: float = _param(
        0.5,
        float,
        "pJ/bit",
        "synapse SRAM read per weight bit (so 24 pJ per SOP at 8 bits)",
        _in_range(0),
    )
    energy_per_neuron_update_pj: float = _param(
        50.0, float, "pJ", "one neuron's state update in one timestep", _in_range(0)
    )
    cycles_per_sop: float = _param(1.0, float, "cycles", "core cycles per SOP", _in_range(0))
    cycles_per_neuron_update: float = _param(
        1.0, float, "cycles", "core cycles per neuron update", _in_range(0)
    )
    sync_cycles_per_step: float = _param(
        100.0, float, "cycles", "barrier synchronisation at the end of each timestep", _in_range(0)
    )
    core_logic_area_mm2: float = _param(
        0.2, float, "mm^2", "neuron logic, spike router and control of one core", _in_range(0)
    )
    sram_area_um2_per_bit: float = _param(
        0.2, float, "um^2/bit", "synapse SRAM area per bit, periphery included", _in_range(0)
    )

    @property
    def synapse_bits_per_core(self) -> int:
        return self.synapse_memory_kib * BITS_PER_KIB

    @property
    def sram_area_mm2_per_core(self) -> float:
        return self.synapse_bits_per_core * self.sram_area_um2_per_bit / UM2_PER_MM2

    @property
    def core_area_mm2(self) -> float:
        return self.sram_area_mm2_per_core + self.core_logic_area_mm2


PARAMETER_NAMES: tuple[str, ...] = tuple(field.name for field in attrs.fields(DigitalCoreConfig))


def _coerce(key: str, value: Any, kind: type) -> Any:
    """Accept JSON values and ``--set key=value`` strings alike; refuse anything ambiguous."""
    if kind is tuple:
        return _coerce_rates(value)
    if isinstance(value, bool):
        raise UsageError(f"{NAME} parameter {key} expects a number, got {value!r}")
    try:
        if kind is int:
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, int | str):
                return int(value)
        elif isinstance(value, int | float | str):
            return float(value)
    except ValueError:
        pass
    expected = "an integer" if kind is int else "a number"
    raise UsageError(f"{NAME} parameter {key} expects {expected}, got {value!r}")


def _coerce_rates(value: Any) -> tuple[float, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        items: Sequence[Any] = [item for item in value.split(",") if item.strip()]
    elif isinstance(value, Sequence):
        items = value
    else:
        raise UsageError(
            f"{NAME} parameter spike_rates expects a list of numbers (or '0.1,0.2,...'), "
            f"got {value!r}"
        )
    return tuple(_coerce(f"spike_rates[{index}]", item, float) for index, item in enumerate(items))


@attrs.frozen
class DigitalCoreModel:
    """The ``digital-core`` hardware model; satisfies ``neuronas.contracts.HardwareModel``."""

    name: str = NAME
    description: str = (
        "Digital neuromorphic cores (Loihi/TrueNorth-like): energy per synaptic operation from "
        "layer shapes and spike rates, neuron- and SRAM-bound core count"
    )

    def make_config(self, overrides: Mapping[str, Any] | None = None) -> DigitalCoreConfig:
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(PARAMETER_NAMES))
        if unknown:
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(key, PARAMETER_NAMES, n=1)
                hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise UsageError(
                f"unknown {NAME} parameter(s) {', '.join(hints)}; valid keys: "
                f"{', '.join(PARAMETER_NAMES)}"
            )
        kinds = {field.name: field.metadata["kind"] for field in attrs.fields(DigitalCoreConfig)}
        values = {key: _coerce(key, value, kinds[key]) for key, value in overrides.items()}
        return DigitalCoreConfig(**values)

    def estimate(self, layers: Sequence[LayerShape], config: DigitalCoreConfig) -> HardwareCost:
        if not isinstance(config, DigitalCoreConfig):
            raise HardwareModelError(
                f"{NAME} needs the config from its make_config(), got {type(config).__name__}"
            )
        layers = list(layers)
        if not layers:
            raise HardwareModelError(f"{NAME} cannot estimate an empty layer list")
        if config.spike_rates is not None and len(config.spike_rates) != len(layers):
            raise HardwareModelError(
                f"{NAME}: spike_rates has {len(config.spike_rates)} entries but the network has "
                f"{len(layers)} layers; give one input spike rate per layer, in layer order"
            )
        timesteps = config.timesteps
        energy_per_sop_pj = config.energy_per_sop_pj
        read_pj_per_sop = config.weight_bits * config.sram_read_pj_per_bit

        per_layer: list[dict[str, Any]] = []
        for index, layer in enumerate(layers):
            fan_in, neurons = _fan_in_and_neurons(index, layer)
            rate = config.spike_rates[index] if config.spike_rates else config.input_spike_rate
            sops = fan_in * neurons * timesteps * rate
            cores_for_neurons = math.ceil(neurons / config.neurons_per_core)
            cores_for_synapses = math.ceil(
                layer.weights * config.weight_bits / config.synapse_bits_per_core
            )
            cores = max(cores_for_neurons, cores_for_synapses)
            accumulate_pj = sops * energy_per_sop_pj
            read_pj = sops * read_pj_per_sop
            neuron_pj = neurons * timesteps * config.energy_per_neuron_update_pj
            cycles_per_step = (
                sops / timesteps * config.cycles_per_sop + neurons * config.cycles_per_neuron_update
            ) / cores
            per_layer.append(
                {
                    "name": layer.name or f"layer{index}",
                    "kind": layer.kind,
                    "neurons": neurons,
                    "fan_in": fan_in,
                    "weights": layer.weights,
                    "input_spike_rate": rate,
                    "sops": sops,
                    "cores": cores,
                    "cores_for_neurons": cores_for_neurons,
                    "cores_for_synapses": cores_for_synapses,
                    "cycles_per_step": cycles_per_step,
                    "area_mm2": cores * config.core_area_mm2,
                    "energy_uj": (accumulate_pj + read_pj + neuron_pj) / PJ_PER_UJ,
                    "energy_uj_by_component": {
                        "synapse_accumulate": accumulate_pj / PJ_PER_UJ,
                        "synapse_sram_read": read_pj / PJ_PER_UJ,
                        "neuron_update": neuron_pj / PJ_PER_UJ,
                    },
                }
            )

        n_cores = sum(entry["cores"] for entry in per_layer)
        step_cycles = max(entry["cycles_per_step"] for entry in per_layer)
        step_cycles += config.sync_cycles_per_step
        steps = timesteps + len(layers) - 1
        energy_by_component = {
            component: sum(entry["energy_uj_by_component"][component] for entry in per_layer)
            for component in ("synapse_accumulate", "synapse_sram_read", "neuron_update")
        }
        area_by_component = {
            "synapse_sram": n_cores * config.sram_area_mm2_per_core,
            "core_logic": n_cores * config.core_logic_area_mm2,
        }
        notes = ()
        if config.spike_rates is None:
            notes = (
                f"every layer's input spike rate is the assumed input_spike_rate="
                f"{config.input_spike_rate:g}; pass measured spike_rates for real numbers",
            )
        return HardwareCost(
            area_mm2=sum(area_by_component.values()),
            latency_ms=steps * step_cycles / (config.clock_mhz * 1e3),
            energy_uj=sum(entry["energy_uj"] for entry in per_layer),
            n_pe=n_cores,
            n_tiles=math.ceil(n_cores / config.cores_per_chip),
            energy_uj_per_layer=tuple(entry["energy_uj"] for entry in per_layer),
            area_mm2_by_component=area_by_component,
            energy_uj_by_component=energy_by_component,
            per_layer=tuple(per_layer),
            params=attrs.asdict(config),
            n_weights=sum(entry["weights"] for entry in per_layer),
            notes=notes,
            model=NAME,
        )


def _fan_in_and_neurons(index: int, layer: LayerShape) -> tuple[int, int]:
    """Synapses per output neuron, and output neurons, of one layer."""
    where = f"layer {index}" + (f" ({layer.name})" if layer.name else "")
    if layer.kind == "conv":
        fan_in = layer.in_channels * layer.kernel**2
        neurons = layer.out_channels * layer.out_size**2
    elif layer.kind == "linear":
        fan_in = layer.in_channels
        neurons = layer.out_channels
    else:
        raise HardwareModelError(
            f"{NAME} cannot map {where} of kind {layer.kind!r}; it maps 'conv' and 'linear' layers"
        )
    if fan_in < 1 or neurons < 1:
        raise HardwareModelError(
            f"{NAME}: {where} has no synapses or no neurons (fan-in {fan_in}, neurons {neurons})"
        )
    return fan_in, neurons
