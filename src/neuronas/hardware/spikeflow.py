"""The NeuroNAS default cost model: SpikeSim's equations and constants, corrected for any network.

Differences from SpikeSim (each explained in docs/cost-models.md): the kernel size of each layer (a
linear layer maps as 1x1), a tile never holds two layers, neuron memory for every layer, latency at the
latest end of any layer, any PE order and depth, the paper's bit factor f = ceil(weight_bits /
bits_per_cell) on the crossbar columns, and crossbar, ADC, mux and tile-buffer costs that follow the
crossbar size, ADC bits, mux size and buffer size instead of staying at SpikeSim's 64x64 numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import ceil, floor
from typing import Any

import attrs

from neuronas.arch import LayerShape
from neuronas.contracts import HardwareCost
from neuronas.hardware import constants as K
from neuronas.hardware.config import SpikeFlowConfig, resolve_config
from neuronas.hardware.layers import check_layers

BITS_PER_KB = 8 * 1024


@attrs.frozen
class UnitCosts:
    """Per-component area (um^2) and energy (pJ) of one crossbar, ADC, mux, ... for a config."""

    area: Mapping[str, float]
    energy: Mapping[str, float]
    adcs_per_pe: int
    reads_per_activation: int

    @classmethod
    def of(cls, config: SpikeFlowConfig) -> UnitCosts:
        xbar = "xbar_" + config.device
        crossbar_scale = (config.crossbar_size / K.REFERENCE_CROSSBAR_SIZE) ** 2
        adc_scale = (2**config.adc_bits - 1) / (2**K.REFERENCE_ADC_BITS - 1)
        mux_scale = config.mux_size / K.REFERENCE_MUX_SIZE
        area = dict(K.AREA_UM2)
        energy = dict(K.ENERGY_PJ)
        area["xbar"] = K.AREA_UM2[xbar] * crossbar_scale
        energy["xbar"] = K.ENERGY_PJ[xbar] * crossbar_scale
        area["adc"] *= adc_scale
        energy["adc"] *= adc_scale
        area["mux"] *= mux_scale
        energy["mux"] *= mux_scale
        area["tile_buff"] = K.SRAM_BIT_AREA_UM2 * config.tile_buffer_kb * BITS_PER_KB
        return cls(area, energy, config.crossbar_size // config.mux_size, config.mux_size)


@attrs.frozen
class SpikeFlowModel:
    """SpikeSim's equations made general: per-layer kernels, a tile per layer, bit factor f."""

    name: str = "spikeflow"
    description: str = (
        "NeuroNAS default: SpikeSim's equations and constants with per-layer kernels, one layer per "
        "tile set, neuron memory for every layer, latest-end latency and the bit factor "
        "ceil(weight_bits/bits_per_cell)"
    )

    def make_config(self, overrides: Mapping[str, Any] | None = None) -> SpikeFlowConfig:
        return resolve_config(self.name, SpikeFlowConfig, overrides)

    def estimate(self, layers: Sequence[LayerShape], config: SpikeFlowConfig) -> HardwareCost:
        check_layers(self.name, layers)
        units = UnitCosts.of(config)
        area, energy = units.area, units.energy
        x = config.crossbar_size
        per_tile = config.pes_per_tile
        t = config.timesteps
        f = config.bit_factor
        rho = config.pipeline_checkpoint
        adcs = units.adcs_per_pe
        reads = units.reads_per_activation
        t_pe_ns = config.cycles_per_pe_cycle * 1000.0 / config.clock_mhz
        fmap = K.FMAP_ELEMENT_AREA_UM2

        # energy of one PE activation that does not depend on the kernel
        e_fixed = {
            "adcs": reads * adcs * energy["adc"],
            "muxes": reads * adcs * energy["mux"],
            "htree": energy["htree"],
            "memory_fetch": energy["mem_fetch"],
            "neurons": energy["neuron"],
            "shift_add": adcs * K.SUB_OPS_PER_GROUP * energy["sub"],
            "temp_buffers": adcs * energy["temp_buff"],
            "tile_buffers": energy["tile_buff"],
        }
        e_fixed_total = sum(e_fixed.values())
        # area of one tile that does not depend on the kernel
        a_pe_fixed = adcs * (area["adc"] + area["mux"])
        a_tile_fixed = adcs * area["sub"] + area["temp_buff"] + area["tile_buff"] + area["htree"]

        per_layer = []
        energy_pj = []
        crossbar_energy = 0.0
        activations = 0
        tile_slots = 0  # PE slots of all tiles (a tile is charged whole)
        crossbar_slots = 0  # crossbars of all PE slots
        n_pe = 0
        n_tiles = 0
        input_elements = 0
        neuron_elements = 0
        start = 0
        latest_end = 0
        for layer in layers:
            if layer.kind == "linear":
                kernel, in_pixels, pixels = 1, 1, 1
            else:
                kernel, in_pixels, pixels = (
                    layer.kernel,
                    layer.in_size * layer.in_size,
                    layer.out_size * layer.out_size,
                )
            kk = kernel * kernel
            pe = ceil(layer.in_channels / x) * ceil(f * layer.out_channels / x)
            tiles = ceil(pe / per_tile)
            layer_activations = t * pe * pixels
            e_xbar = reads * kk * energy["xbar"]
            layer_energy = layer_activations * (e_xbar + e_fixed_total)
            layer_inputs = layer.in_channels * in_pixels
            neurons = layer.out_channels * pixels
            layer_area = tiles * (
                per_tile * (kk * area["xbar"] + a_pe_fixed) + a_tile_fixed
            ) + fmap * (layer_inputs + neurons)
            end = start + t * neurons
            per_layer.append(
                {
                    "name": layer.name,
                    "kind": layer.kind,
                    "kernel_mapped": kernel,
                    "weights": layer.weights,
                    "n_pe": pe,
                    "n_tiles": tiles,
                    "area_mm2": layer_area / K.UM2_PER_MM2,
                    "energy_uj": layer_energy / K.PJ_PER_UJ,
                    "start_ms": start * t_pe_ns / K.NS_PER_MS,
                    "end_ms": end * t_pe_ns / K.NS_PER_MS,
                }
            )
            start += t * floor(rho * neurons)
            latest_end = max(latest_end, end)
            energy_pj.append(layer_energy)
            crossbar_energy += layer_activations * e_xbar
            activations += layer_activations
            n_pe += pe
            n_tiles += tiles
            tile_slots += tiles * per_tile
            crossbar_slots += tiles * per_tile * kk
            input_elements += layer_inputs
            neuron_elements += neurons

        a_parts = {
            "crossbars": crossbar_slots * area["xbar"],
            "adcs": tile_slots * adcs * area["adc"],
            "muxes": tile_slots * adcs * area["mux"],
            "shift_add": n_tiles * adcs * area["sub"],
            "temp_buffers": n_tiles * area["temp_buff"],
            "tile_buffers": n_tiles * area["tile_buff"],
            "htree": n_tiles * area["htree"],
            "input_memory": fmap * input_elements,
            "neuron_memory": fmap * neuron_elements,
        }
        e_parts = {"crossbars": crossbar_energy}
        e_parts.update((k, v * activations) for k, v in e_fixed.items())
        return HardwareCost(
            area_mm2=sum(a_parts.values()) / K.UM2_PER_MM2,
            latency_ms=latest_end * t_pe_ns / K.NS_PER_MS,
            energy_uj=sum(energy_pj) / K.PJ_PER_UJ,
            n_pe=n_pe,
            n_tiles=n_tiles,
            energy_uj_per_layer=tuple(e / K.PJ_PER_UJ for e in energy_pj),
            area_mm2_by_component={k: v / K.UM2_PER_MM2 for k, v in a_parts.items()},
            energy_uj_by_component={k: v / K.PJ_PER_UJ for k, v in e_parts.items()},
            per_layer=tuple(per_layer),
            params=attrs.asdict(config),
            n_weights=sum(layer.weights for layer in layers),
            model=self.name,
        )
