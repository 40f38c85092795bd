"""The NeuroNAS default cost model: SpikeSim's equations and constants, corrected for any network.

Differences from SpikeSim (each explained in docs/cost-models.md): the kernel size of each layer (a
linear layer maps as 1x1), a tile never holds two layers, neuron memory for every layer, latency at the
latest end of any layer, any PE order and depth, the paper's bit factor f = ceil(weight_bits /
bits_per_cell) on the crossbar columns, and crossbar, ADC, mux and tile-buffer costs that follow the
crossbar size, ADC bits, mux size and buffer size instead of staying at SpikeSim's 64x64 numbers.
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
from neuronas.hardware.config import SpikeFlowConfig, resolve_config
from neuronas.hardware.layers import check_layers

BITS_PER_KB = 8 * 1024


@attrs.frozen
class Plan:
    """Everything about a config that does not depend on the network, computed once per config."""

    area: Mapping[str, float]  # um^2 of one crossbar, ADC, mux, ... at this config
    energy_fixed: Mapping[str, float]  # pJ per PE activation, except the crossbars
    energy_fixed_total: float
    crossbar_read_pj: float  # pJ of one crossbar read, times the reads of one activation
    pe_fixed_um2: float  # ADCs and muxes of one PE
    tile_fixed_um2: float  # shift-add units, temp and tile buffers, H-tree of one tile
    adcs_per_pe: int
    pe_cycle_ms: float
    params: Mapping[str, Any]

    @classmethod
    @functools.cache
    def of(cls, config: SpikeFlowConfig) -> Plan:
        crossbar_scale = (config.crossbar_size / K.REFERENCE_CROSSBAR_SIZE) ** 2
        adc_scale = (2**config.adc_bits - 1) / (2**K.REFERENCE_ADC_BITS - 1)
        mux_scale = config.mux_size / K.REFERENCE_MUX_SIZE
        adcs = config.crossbar_size // config.mux_size
        reads = config.mux_size  # mux positions: each read converts `adcs` columns
        area = dict(K.AREA_UM2)
        area["xbar"] = K.AREA_UM2["xbar_" + config.device] * crossbar_scale
        area["adc"] *= adc_scale
        area["mux"] *= mux_scale
        area["tile_buff"] = K.SRAM_BIT_AREA_UM2 * config.tile_buffer_kb * BITS_PER_KB
        energy = K.ENERGY_PJ
        energy_fixed = {
            "adcs": reads * adcs * energy["adc"] * adc_scale,
            "muxes": reads * adcs * energy["mux"] * mux_scale,
            "htree": energy["htree"],
            "memory_fetch": energy["mem_fetch"],
            "neurons": energy["neuron"],
            "shift_add": adcs * K.SUB_OPS_PER_GROUP * energy["sub"],
            "temp_buffers": adcs * energy["temp_buff"],
            "tile_buffers": energy["tile_buff"],
        }
        return cls(
            area=MappingProxyType(area),
            energy_fixed=MappingProxyType(energy_fixed),
            energy_fixed_total=sum(energy_fixed.values()),
            crossbar_read_pj=reads * K.ENERGY_PJ["xbar_" + config.device] * crossbar_scale,
            pe_fixed_um2=adcs * (area["adc"] + area["mux"]),
            tile_fixed_um2=adcs * area["sub"]
            + area["temp_buff"]
            + area["tile_buff"]
            + area["htree"],
            adcs_per_pe=adcs,
            pe_cycle_ms=config.pe_cycle_ms,
            params=MappingProxyType(attrs.asdict(config)),
        )


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
        plan = Plan.of(config)
        area = plan.area
        x = config.crossbar_size
        per_tile = config.pes_per_tile
        t = config.timesteps
        f = config.bit_factor
        rho = config.pipeline_checkpoint
        t_pe = plan.pe_cycle_ms
        xbar_um2 = area["xbar"]
        pe_fixed_um2 = plan.pe_fixed_um2
        tile_fixed_um2 = plan.tile_fixed_um2
        read_pj = plan.crossbar_read_pj
        fixed_pj = plan.energy_fixed_total
        fmap = K.FMAP_ELEMENT_AREA_UM2

        per_layer = []
        energy_uj = []
        crossbar_pj = 0.0
        activations = 0
        n_pe = n_tiles = crossbar_slots = n_weights = 0
        fmap_elements = input_elements = 0
        start = latest_end = 0
        for layer in layers:
            cin, cout = layer.in_channels, layer.out_channels
            if layer.kind == "linear":
                kernel = in_pixels = pixels = 1
                n_weights += cin * cout
            else:
                kernel = layer.kernel
                in_pixels = layer.in_size * layer.in_size
                pixels = layer.out_size * layer.out_size
                n_weights += cin * cout * kernel * kernel
            kk = kernel * kernel
            pe = -(-cin // x) * -(-f * cout // x)
            tiles = -(-pe // per_tile)
            layer_activations = t * pe * pixels
            layer_crossbar_pj = layer_activations * kk * read_pj
            layer_energy = (layer_crossbar_pj + layer_activations * fixed_pj) / K.PJ_PER_UJ
            elements = cin * in_pixels + cout * pixels
            neurons = cout * pixels
            end = start + t * neurons
            per_layer.append(
                {
                    "name": layer.name,
                    "kind": layer.kind,
                    "kernel_mapped": kernel,
                    "n_pe": pe,
                    "n_tiles": tiles,
                    "area_mm2": (
                        tiles * (per_tile * (kk * xbar_um2 + pe_fixed_um2) + tile_fixed_um2)
                        + fmap * elements
                    )
                    / K.UM2_PER_MM2,
                    "energy_uj": layer_energy,
                    "start_ms": start * t_pe,
                    "end_ms": end * t_pe,
                }
            )
            start += t * floor(rho * neurons)
            if end > latest_end:
                latest_end = end
            energy_uj.append(layer_energy)
            crossbar_pj += layer_crossbar_pj
            activations += layer_activations
            n_pe += pe
            n_tiles += tiles
            crossbar_slots += tiles * per_tile * kk
            fmap_elements += elements
            input_elements += cin * in_pixels

        adcs = plan.adcs_per_pe
        a_parts = {
            "crossbars": crossbar_slots * xbar_um2 / K.UM2_PER_MM2,
            "adcs": n_tiles * per_tile * adcs * area["adc"] / K.UM2_PER_MM2,
            "muxes": n_tiles * per_tile * adcs * area["mux"] / K.UM2_PER_MM2,
            "shift_add": n_tiles * adcs * area["sub"] / K.UM2_PER_MM2,
            "temp_buffers": n_tiles * area["temp_buff"] / K.UM2_PER_MM2,
            "tile_buffers": n_tiles * area["tile_buff"] / K.UM2_PER_MM2,
            "htree": n_tiles * area["htree"] / K.UM2_PER_MM2,
            "input_memory": fmap * input_elements / K.UM2_PER_MM2,
            "neuron_memory": fmap * (fmap_elements - input_elements) / K.UM2_PER_MM2,
        }
        e_parts = {"crossbars": crossbar_pj / K.PJ_PER_UJ}
        for name, pj in plan.energy_fixed.items():
            e_parts[name] = pj * activations / K.PJ_PER_UJ
        return HardwareCost(
            area_mm2=sum(a_parts.values()),
            latency_ms=latest_end * t_pe,
            energy_uj=sum(energy_uj),
            n_pe=n_pe,
            n_tiles=n_tiles,
            energy_uj_per_layer=tuple(energy_uj),
            area_mm2_by_component=a_parts,
            energy_uj_by_component=e_parts,
            per_layer=tuple(per_layer),
            params=plan.params,
            n_weights=n_weights,
            model=self.name,
        )
