"""The SpikeSim energy-latency-area model, reproduced with its conventions.

One global kernel size for every layer, the PEs of consecutive layers packed into shared tiles, neuron
memory over the first ``neuron_memory_layers`` layers and latency at the end of the last layer. Where
SpikeSim's own code would refuse a network, hang or crash, the equations are computed anyway and the
result carries a note saying so.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from math import floor
from types import MappingProxyType
from typing import Any

import attrs

from neuronas.arch import LayerShape
from neuronas.contracts import HardwareCost
from neuronas.hardware import constants as K
from neuronas.hardware.config import SpikeSimConfig, resolve_config
from neuronas.hardware.layers import check_layers

#: SpikeSim's published code fails on networks deeper than this
SPIKESIM_MAX_LAYERS = 12


def spikesim_failure_notes(
    layers: Sequence[LayerShape], pe_per_layer: Sequence[int], x: int
) -> list[str]:
    """Where SpikeSim's own code would not have produced this result."""
    notes = []
    decreases = [i for i in range(1, len(pe_per_layer)) if pe_per_layer[i] < pe_per_layer[i - 1]]
    if decreases:
        notes.append(
            f"SpikeSim's code refuses this network: the PE count decreases at layer "
            f"{decreases[0]} ({pe_per_layer[decreases[0] - 1]} -> {pe_per_layer[decreases[0]]})"
        )
    if len(layers) > SPIKESIM_MAX_LAYERS:
        notes.append(
            f"SpikeSim's code fails on more than {SPIKESIM_MAX_LAYERS} layers "
            f"(this network has {len(layers)})"
        )
    if all(layer.in_channels < x and layer.out_channels < x for layer in layers):
        notes.append("SpikeSim's code loops forever when every layer is smaller than one crossbar")
    return notes


@attrs.frozen
class Plan:
    """Per-config constants: energy of one PE activation and area of one whole tile, by component."""

    energy_pj: Mapping[str, float]
    energy_total: float
    tile_area_mm2: Mapping[str, float]
    pe_cycle_ms: float
    params: Mapping[str, Any]

    @classmethod
    @functools.cache
    def of(cls, config: SpikeSimConfig) -> Plan:
        kk = config.kernel_size * config.kernel_size
        groups = config.crossbar_size / K.REFERENCE_MUX_SIZE  # SpikeSim's xbar_size / 8
        per_tile = config.pes_per_tile  # SpikeSim charges whole tiles
        area, energy = K.AREA_UM2, K.ENERGY_PJ
        xbar = "xbar_" + config.device
        energy_pj = {
            "crossbars": groups * kk * energy[xbar],
            "adcs": groups * groups * energy["adc"],
            "muxes": groups * groups * energy["mux"],
            "htree": energy["htree"],
            "memory_fetch": energy["mem_fetch"],
            "neurons": energy["neuron"],
            "shift_add": groups * K.SUB_OPS_PER_GROUP * energy["sub"],
            "temp_buffers": groups * energy["temp_buff"],
            "tile_buffers": energy["tile_buff"],
        }
        tile_um2 = {
            "crossbars": per_tile * kk * area[xbar],
            "adcs": per_tile * groups * area["adc"],
            "muxes": per_tile * groups * area["mux"],
            "shift_add": groups * area["sub"],
            "temp_buffers": area["temp_buff"],
            "tile_buffers": area["tile_buff"],
            "htree": area["htree"],
        }
        return cls(
            energy_pj=MappingProxyType(energy_pj),
            energy_total=sum(energy_pj.values()),
            tile_area_mm2=MappingProxyType({k: v / K.UM2_PER_MM2 for k, v in tile_um2.items()}),
            pe_cycle_ms=config.pe_cycle_ms,
            params=MappingProxyType(attrs.asdict(config)),
        )


@attrs.frozen
class SpikeSimModel:
    """SpikeSim's published ELA model, conventions included (reproduces its reference outputs)."""

    name: str = "spikesim"
    description: str = (
        "SpikeSim's published energy-latency-area model, conventions included (global kernel, "
        "shared tiles, neuron memory of the first 5 layers, latency at the last layer)"
    )

    def make_config(self, overrides: Mapping[str, Any] | None = None) -> SpikeSimConfig:
        return resolve_config(self.name, SpikeSimConfig, overrides)

    def estimate(self, layers: Sequence[LayerShape], config: SpikeSimConfig) -> HardwareCost:
        check_layers(self.name, layers)
        plan = Plan.of(config)
        x = config.crossbar_size
        t = config.timesteps
        f = config.bit_factor
        rho = config.pipeline_checkpoint
        t_pe = plan.pe_cycle_ms
        activation_uj = plan.energy_total / K.PJ_PER_UJ
        neuron_layers = config.neuron_memory_layers

        pe_per_layer = []
        per_layer = []
        energy_uj = []
        activations = n_weights = 0
        start = end = 0
        input_elements = neuron_elements = 0
        for index, layer in enumerate(layers):
            cin, cout = layer.in_channels, layer.out_channels
            pe = -(-cin // x) * -(-f * cout // x)
            pixels = layer.out_size * layer.out_size
            layer_activations = t * pe * pixels
            layer_energy = layer_activations * activation_uj
            neurons = cout * pixels
            end = start + t * neurons
            per_layer.append(
                {
                    "name": layer.name,
                    "kind": layer.kind,
                    "kernel_mapped": config.kernel_size,
                    "n_pe": pe,
                    "energy_uj": layer_energy,
                    "start_ms": start * t_pe,
                    "end_ms": end * t_pe,
                }
            )
            start += t * floor(rho * neurons)
            pe_per_layer.append(pe)
            energy_uj.append(layer_energy)
            activations += layer_activations
            n_weights += layer.weights
            input_elements += cin * layer.in_size * layer.in_size
            if index < neuron_layers:
                neuron_elements += neurons

        n_pe = sum(pe_per_layer)
        n_tiles = -(-n_pe // config.pes_per_tile)
        a_parts = {name: n_tiles * um2 for name, um2 in plan.tile_area_mm2.items()}
        a_parts["input_memory"] = K.FMAP_ELEMENT_AREA_UM2 * input_elements / K.UM2_PER_MM2
        a_parts["neuron_memory"] = K.FMAP_ELEMENT_AREA_UM2 * neuron_elements / K.UM2_PER_MM2
        return HardwareCost(
            area_mm2=sum(a_parts.values()),
            latency_ms=end * t_pe,
            energy_uj=sum(energy_uj),
            n_pe=n_pe,
            n_tiles=n_tiles,
            energy_uj_per_layer=tuple(energy_uj),
            area_mm2_by_component=a_parts,
            energy_uj_by_component={
                name: pj * activations / K.PJ_PER_UJ for name, pj in plan.energy_pj.items()
            },
            per_layer=tuple(per_layer),
            params=plan.params,
            n_weights=n_weights,
            notes=tuple(spikesim_failure_notes(layers, pe_per_layer, x)),
            model=self.name,
        )
