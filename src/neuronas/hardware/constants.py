"""SpikeSim's circuit constants for a 64x64 crossbar, as its published ELA model uses them.

Area in um^2, energy in pJ per use. Read off SpikeSim (Moitra et al., IEEE TCAD 2023) and checked
number for number against its outputs (``shared/reference/spikesim-reference-cases.json``).
"""

from __future__ import annotations

from typing import Final

#: crossbar side the constants below were characterised for
REFERENCE_CROSSBAR_SIZE: Final = 64
#: ADC precision of the characterised ADC (Table I: 4-bit crossbar ADCs)
REFERENCE_ADC_BITS: Final = 4
#: mux of the characterised design: each ADC is shared by 8 columns
REFERENCE_MUX_SIZE: Final = 8

AREA_UM2: Final = {
    "xbar_rram": 26.2144,
    "xbar_sram": 671.089,
    "adc": 693.633,
    "mux": 45.9,
    "sub": 13411.41498,
    "temp_buff": 484.643999,
    "tile_buff": 6054.7072,
    "htree": 433660.0,
}

ENERGY_PJ: Final = {
    "xbar_rram": 1.76423,
    # SpikeSim's SRAM crossbar energy equals its area number, probably a slip; kept as published.
    "xbar_sram": 671.089,
    "adc": 2.03084,
    "mux": 0.094245,
    "sub": 1.15e-6,
    "temp_buff": 0.2,
    "tile_buff": 397.0,
    "htree": 157.12,
    "mem_fetch": 4.64,
    "neuron": 5.096,
}

#: area of one SRAM bit (feature-map memories and the tile buffer)
SRAM_BIT_AREA_UM2: Final = 0.7391
#: bits stored per feature-map element (input and neuron memories)
FMAP_BITS_PER_ELEMENT: Final = 22
#: area of one stored feature-map element: 0.7391 * 22
FMAP_ELEMENT_AREA_UM2: Final = SRAM_BIT_AREA_UM2 * FMAP_BITS_PER_ELEMENT
#: SpikeSim's tile buffer: 8192 bits (1 KB) of SRAM, 6054.7072 um^2
SPIKESIM_TILE_BUFFER_BITS: Final = 8192
#: shift-add operations charged per read-out group and PE activation
SUB_OPS_PER_GROUP: Final = 16

UM2_PER_MM2: Final = 1e6
PJ_PER_UJ: Final = 1e6
NS_PER_MS: Final = 1e6
