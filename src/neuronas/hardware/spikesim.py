"""The SpikeSim energy-latency-area model, reproduced with its conventions.

One global kernel size for every layer, the PEs of consecutive layers packed into shared tiles, neuron
memory over the first ``neuron_memory_layers`` layers and latency at the end of the last layer. Where
SpikeSim's own code would refuse a network, hang or crash, the equations are computed anyway and the
result carries a note saying so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import ceil, floor
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
        x = config.crossbar_size
        per_tile = config.pes_per_tile
        t = config.timesteps
        kk = config.kernel_size * config.kernel_size
        f = config.bit_factor
        rho = config.pipeline_checkpoint
        groups = x / K.REFERENCE_MUX_SIZE  # SpikeSim's xbar_size / 8, for ADCs, muxes and subs
        area, energy = K.AREA_UM2, K.ENERGY_PJ
        xbar = "xbar_" + config.device

        e_parts = {
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
        e_activation = sum(e_parts.values())
        t_pe_ns = config.cycles_per_pe_cycle * 1000.0 / config.clock_mhz

        pe_per_layer = []
        per_layer = []
        energy_pj = []
        activations = 0
        start = 0
        end = 0
        input_elements = 0
        neuron_elements = 0
        for index, layer in enumerate(layers):
            pe = ceil(layer.in_channels / x) * ceil(f * layer.out_channels / x)
            pixels = layer.out_size * layer.out_size
            layer_activations = t * pe * pixels
            layer_energy = layer_activations * e_activation
            neurons = layer.out_channels * pixels
            end = start + t * neurons
            per_layer.append(
                {
                    "name": layer.name,
                    "kind": layer.kind,
                    "kernel_mapped": config.kernel_size,
                    "weights": layer.weights,
                    "n_pe": pe,
                    "energy_uj": layer_energy / K.PJ_PER_UJ,
                    "start_ms": start * t_pe_ns / K.NS_PER_MS,
                    "end_ms": end * t_pe_ns / K.NS_PER_MS,
                }
            )
            start += t * floor(rho * neurons)
            pe_per_layer.append(pe)
            energy_pj.append(layer_energy)
            activations += layer_activations
            input_elements += layer.in_channels * layer.in_size * layer.in_size
            if index < config.neuron_memory_layers:
                neuron_elements += neurons

        n_pe = sum(pe_per_layer)
        n_tiles = ceil(n_pe / per_tile)
        pe_slots = n_tiles * per_tile  # SpikeSim charges whole tiles
        a_parts = {
            "crossbars": pe_slots * kk * area[xbar],
            "adcs": pe_slots * groups * area["adc"],
            "muxes": pe_slots * groups * area["mux"],
            "shift_add": n_tiles * groups * area["sub"],
            "temp_buffers": n_tiles * area["temp_buff"],
            "tile_buffers": n_tiles * area["tile_buff"],
            "htree": n_tiles * area["htree"],
            "input_memory": K.FMAP_ELEMENT_AREA_UM2 * input_elements,
            "neuron_memory": K.FMAP_ELEMENT_AREA_UM2 * neuron_elements,
        }
        return HardwareCost(
            area_mm2=sum(a_parts.values()) / K.UM2_PER_MM2,
            latency_ms=end * t_pe_ns / K.NS_PER_MS,
            energy_uj=sum(energy_pj) / K.PJ_PER_UJ,
            n_pe=n_pe,
            n_tiles=n_tiles,
            energy_uj_per_layer=tuple(e / K.PJ_PER_UJ for e in energy_pj),
            area_mm2_by_component={k: v / K.UM2_PER_MM2 for k, v in a_parts.items()},
            energy_uj_by_component={k: v * activations / K.PJ_PER_UJ for k, v in e_parts.items()},
            per_layer=tuple(per_layer),
            params=attrs.asdict(config),
            n_weights=sum(layer.weights for layer in layers),
            notes=tuple(spikesim_failure_notes(layers, pe_per_layer, x)),
            model=self.name,
        )
