"""spikeflow: SpikeSim's equations for any network, one layer per tile set, and the bit factor."""

from math import ceil

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuronas.arch import LayerShape
from neuronas.errors import HardwareModelError
from neuronas.hardware import HardwareConfigError, SpikeFlowModel, SpikeSimModel

MODEL = SpikeFlowModel()
SPIKESIM = SpikeSimModel()
E_ACTIVATION_PJ = 828.4861472  # SpikeSim's energy per PE activation at X=64, k=3, RRAM
T_PE_NS = 104.0  # 26 cycles at 250 MHz
FMAP_UM2 = 16.2602  # one stored feature-map element: 22 SRAM bits of 0.7391 um^2
# A tile of 3x3 PEs at the defaults: 8 PEs of (9 crossbars + 8 ADCs + 8 muxes), 8 shift-add units,
# a temp buffer, Table I's 10 KB tile buffer (81920 bits of 0.7391 um^2) and the H-tree.
TILE_UM2 = (
    8 * (9 * 26.2144 + 8 * (693.633 + 45.9))
    + 8 * 13411.41498
    + 484.643999
    + 0.7391 * 81920
    + 433660
)


def test_a_single_layer_by_hand():
    layer = LayerShape("conv", 100, 200, 3, 8, 8)
    cost = MODEL.estimate([layer], MODEL.make_config({"weight_bits": 1}))
    # PEs: ceil(100/64) row blocks x ceil(200/64) column blocks = 2 x 4; 8 PEs fill one tile
    assert (cost.n_pe, cost.n_tiles) == (8, 1)
    assert abs(TILE_UM2 - 651200.584639) < 1e-6
    area_um2 = 651200.584639 + FMAP_UM2 * (100 * 8 * 8 + 200 * 8 * 8)
    assert cost.area_mm2 == pytest.approx(area_um2 / 1e6, rel=1e-12)
    energy_pj = 5 * 8 * 64 * E_ACTIVATION_PJ  # T * PE * H_out^2 * E_cyc
    assert cost.energy_uj == pytest.approx(energy_pj / 1e6, rel=1e-12)
    assert cost.latency_ms == pytest.approx(5 * 200 * 64 * T_PE_NS / 1e6, rel=1e-12)
    assert cost.n_weights == 100 * 200 * 9
    assert sum(cost.area_mm2_by_component.values()) == pytest.approx(cost.area_mm2, rel=1e-12)
    assert sum(cost.energy_uj_by_component.values()) == pytest.approx(cost.energy_uj, rel=1e-12)


def test_equals_spikesim_where_spikesim_conventions_are_right():
    layer = [LayerShape("conv", 256, 256, 3, 8, 8)]  # 16 PEs: two full tiles, one layer
    flow = MODEL.estimate(layer, MODEL.make_config({"weight_bits": 1, "tile_buffer_kb": 1}))
    sim = SPIKESIM.estimate(layer, SPIKESIM.make_config())
    assert (flow.n_pe, flow.n_tiles) == (sim.n_pe, sim.n_tiles) == (16, 2)
    assert flow.area_mm2 == pytest.approx(sim.area_mm2, rel=1e-12)
    assert flow.energy_uj == pytest.approx(sim.energy_uj, rel=1e-12)
    assert flow.latency_ms == pytest.approx(sim.latency_ms, rel=1e-12)


# (weight_bits, bits_per_cell) -> f = ceil(weight_bits / bits_per_cell)
BIT_FACTORS = {
    (4, 1): 4, (4, 2): 2, (4, 4): 1,
    (8, 1): 8, (8, 2): 4, (8, 4): 2,
    (16, 1): 16, (16, 2): 8, (16, 4): 4,
    (32, 1): 32, (32, 2): 16, (32, 4): 8,
}  # fmt: skip


@pytest.mark.parametrize(("bits", "factor"), BIT_FACTORS.items(), ids=str)
def test_bit_factor_multiplies_the_columns(bits, factor):
    weight_bits, bits_per_cell = bits
    config = MODEL.make_config({"weight_bits": weight_bits, "bits_per_cell": bits_per_cell})
    assert config.bit_factor == factor
    layer = LayerShape("conv", 64, 40, 3, 4, 4)
    cost = MODEL.estimate([layer], config)
    pe = ceil(40 * factor / 64)  # one row block; f * 40 columns
    tiles = ceil(pe / 8)
    assert (cost.n_pe, cost.n_tiles) == (pe, tiles)
    assert cost.energy_uj == pytest.approx(5 * pe * 16 * E_ACTIVATION_PJ / 1e6, rel=1e-12)
    area_um2 = tiles * TILE_UM2 + FMAP_UM2 * (64 * 16 + 40 * 16)
    assert cost.area_mm2 == pytest.approx(area_um2 / 1e6, rel=1e-12)
    # bit slices are extra columns read in the same PE cycle: latency does not depend on f
    assert cost.latency_ms == pytest.approx(5 * 40 * 16 * T_PE_NS / 1e6, rel=1e-12)


def test_a_narrowing_network():
    layers = [
        LayerShape("conv", 64, 256, 3, 16, 16, name="wide"),
        LayerShape("conv", 256, 32, 3, 16, 16, name="narrow"),
        LayerShape("linear", 8192, 10, 1, 1, 1, name="classifier"),
    ]
    cost = MODEL.estimate(layers, MODEL.make_config({"weight_bits": 1}))
    assert [layer["n_pe"] for layer in cost.per_layer] == [4, 4, 128]
    # one layer per tile set: 1 + 1 + 16 tiles (packing the 136 PEs would need only 17)
    assert [layer["n_tiles"] for layer in cost.per_layer] == [1, 1, 16]
    assert cost.n_tiles == 18
    # a linear layer maps as 1x1: one crossbar per PE
    assert cost.per_layer[2]["kernel_mapped"] == 1
    crossbars = 8 * 9 + 8 * 9 + 16 * 8 * 1
    assert cost.area_mm2_by_component["crossbars"] * 1e6 == pytest.approx(crossbars * 26.2144)
    # ends: wide 5*65536 = 327680; narrow 5*49152 + 5*8192 = 286720; classifier 276480 + 50
    assert [layer["end_ms"] for layer in cost.per_layer] == pytest.approx(
        [c * T_PE_NS / 1e6 for c in (327680, 286720, 276530)]
    )
    assert cost.latency_ms == pytest.approx(327680 * T_PE_NS / 1e6)  # the latest end
    spikesim = SPIKESIM.estimate(layers, SPIKESIM.make_config())
    assert spikesim.latency_ms == pytest.approx(276530 * T_PE_NS / 1e6)  # its last layer's end


def twenty_layers():
    widths = [3, 64, 64, 128, 128, 256, 256, 512, 512, 256, 128, 64, 64, 128, 256, 512, 64, 32, 16,
              100, 10]  # fmt: skip
    sizes = [32] * 5 + [16] * 5 + [8] * 5 + [4] * 5
    return [
        LayerShape("conv", widths[i], widths[i + 1], 3, sizes[i], sizes[i], name=f"c{i}")
        for i in range(20)
    ]


def test_a_twenty_layer_network():
    layers = twenty_layers()
    config = MODEL.make_config({"weight_bits": 4, "bits_per_cell": 2})
    cost = MODEL.estimate(layers, config)
    pes = [ceil(layer.in_channels / 64) * ceil(2 * layer.out_channels / 64) for layer in layers]
    assert [layer["n_pe"] for layer in cost.per_layer] == pes
    assert cost.n_pe == sum(pes)
    assert cost.n_tiles == sum(ceil(pe / 8) for pe in pes)
    neurons = sum(layer.out_channels * layer.out_size**2 for layer in layers)
    assert cost.area_mm2_by_component["neuron_memory"] * 1e6 == pytest.approx(FMAP_UM2 * neurons)
    assert cost.latency_ms == max(layer["end_ms"] for layer in cost.per_layer)
    assert len(cost.energy_uj_per_layer) == 20 and cost.notes == ()
    # with 3x3 kernels the energy equation is SpikeSim's, layer by layer
    spikesim = SPIKESIM.estimate(
        layers, SPIKESIM.make_config({"weight_bits": 4, "bits_per_cell": 2})
    )
    assert cost.energy_uj_per_layer == pytest.approx(spikesim.energy_uj_per_layer, rel=1e-12)
    assert any("more than 12 layers" in note for note in spikesim.notes)


def test_per_component_costs_follow_crossbar_adc_and_mux_settings():
    layer = [LayerShape("conv", 128, 128, 3, 4, 4)]
    x64 = MODEL.estimate(layer, MODEL.make_config({"weight_bits": 1}))
    x128 = MODEL.estimate(layer, MODEL.make_config({"weight_bits": 1, "crossbar_size": 128}))
    assert (x64.n_pe, x128.n_pe) == (4, 1)
    # a 128x128 crossbar read costs 4x a 64x64 one: the crossbar energy per weight is unchanged
    crossbar_energy = [c.energy_uj_by_component["crossbars"] for c in (x64, x128)]
    assert crossbar_energy[0] == pytest.approx(crossbar_energy[1], rel=1e-12)
    adc5 = MODEL.estimate(layer, MODEL.make_config({"weight_bits": 1, "adc_bits": 5}))
    ratio = adc5.area_mm2_by_component["adcs"] / x64.area_mm2_by_component["adcs"]
    assert ratio == pytest.approx(31 / 15)  # comparators of a flash ADC: 2^bits - 1
    with pytest.raises(HardwareConfigError, match="must be a multiple of mux_size"):
        MODEL.make_config({"mux_size": 3})


def test_unknown_layer_kind_and_unknown_parameter_are_clear_errors():
    with pytest.raises(HardwareModelError, match="unknown layer kind 'attention'"):
        MODEL.estimate([LayerShape("attention", 8, 8, 1, 4, 4)], MODEL.make_config())
    with pytest.raises(HardwareConfigError, match="unknown spikeflow parameter 'kernel_size'"):
        MODEL.make_config({"kernel_size": 3})
    with pytest.raises(HardwareModelError, match="no layers"):
        MODEL.estimate([], MODEL.make_config())


layer_strategy = st.builds(
    lambda kind, cin, cout, kernel, size: LayerShape(kind, cin, cout, kernel, size, size),
    st.sampled_from(["conv", "linear"]),
    st.integers(1, 600),
    st.integers(1, 600),
    st.sampled_from([1, 3, 5]),
    st.integers(1, 16),
)


@settings(max_examples=150, deadline=None)
@given(
    layers=st.lists(layer_strategy, min_size=1, max_size=6),
    data=st.data(),
    bits=st.sampled_from(list(BIT_FACTORS)),
)
def test_more_channels_never_cost_less(layers, data, bits):
    index = data.draw(st.integers(0, len(layers) - 1))
    field = data.draw(st.sampled_from(["in_channels", "out_channels"]))
    extra = data.draw(st.integers(1, 300))
    wider = list(layers)
    wider[index] = attrs.evolve(layers[index], **{field: getattr(layers[index], field) + extra})
    overrides = {"weight_bits": bits[0], "bits_per_cell": bits[1]}
    for model in (MODEL, SPIKESIM):
        config = model.make_config(overrides)
        base, more = model.estimate(layers, config), model.estimate(wider, config)
        assert more.area_mm2 >= base.area_mm2
        assert more.energy_uj >= base.energy_uj
        assert more.latency_ms >= base.latency_ms
        assert more.n_pe >= base.n_pe and more.n_tiles >= base.n_tiles


@settings(max_examples=50, deadline=None)
@given(layers=st.lists(layer_strategy, min_size=1, max_size=6), bits=st.integers(1, 31))
def test_more_weight_bits_never_cost_less_and_never_change_latency(layers, bits):
    fewer = MODEL.estimate(layers, MODEL.make_config({"weight_bits": bits}))
    more = MODEL.estimate(layers, MODEL.make_config({"weight_bits": bits + 1}))
    assert more.area_mm2 >= fewer.area_mm2 and more.energy_uj >= fewer.energy_uj
    assert more.latency_ms == fewer.latency_ms
