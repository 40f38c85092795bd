"""spikesim reproduces SpikeSim's published ELA model number for number, and never hangs."""

import json
import time
from pathlib import Path

import pytest

from neuronas.arch import LayerShape
from neuronas.errors import HardwareModelError, UsageError
from neuronas.hardware import HardwareConfigError, SpikeSimModel

REFERENCE = Path(__file__).resolve().parent / "data"  # a copy of shared/reference
CASES = json.loads((REFERENCE / "spikesim-reference-cases.json").read_text())["cases"]
MODEL = SpikeSimModel()


def layers_of(case):
    """The case's layers as neuronas maps them; SpikeSim's out_dim convention kept as passed."""
    inputs = case["spikesim_inputs"]
    layers = []
    for spec, in_ch, out_ch, in_dim, out_dim in zip(
        case["layers"],
        inputs["in_ch_list"],
        inputs["out_ch_list"],
        inputs["in_dim_list"],
        inputs["out_dim_list"],
        strict=True,
    ):
        kind = spec["type"]
        kernel = spec.get("kernel", 1)
        layers.append(LayerShape(kind, in_ch, out_ch, kernel, in_dim, out_dim))
    return layers


def config_of(case):
    inputs = case["spikesim_inputs"]
    return MODEL.make_config(
        {
            "crossbar_size": inputs["xbar_size"],
            "kernel_size": inputs["kernel_size"],
            "pes_per_tile": inputs["pe_per_tile"],
            "timesteps": inputs["time_steps"],
            "clock_mhz": inputs["clk_freq_MHz"],
            "device": inputs["device"],
        }
    )


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_reference_case(case):
    expected = case["expected"]
    cost = MODEL.estimate(layers_of(case), config_of(case))
    assert cost.n_pe == expected["n_pe"]
    assert [layer["n_pe"] for layer in cost.per_layer] == expected["pe_per_layer"]
    assert cost.n_tiles == expected["n_tiles"]
    assert cost.area_mm2 * 1e6 == pytest.approx(expected["area_um2_total"], rel=1e-9)
    assert cost.energy_uj * 1e6 == pytest.approx(expected["energy_pJ_total"], rel=1e-9)
    assert [e * 1e6 for e in cost.energy_uj_per_layer] == pytest.approx(
        expected["energy_pJ_per_layer"], rel=1e-9
    )
    assert cost.latency_ms * 1e6 == pytest.approx(expected["latency_ns"], rel=1e-9)
    assert cost.notes == ()


def test_reference_cases_include_a_linear_layer_charged_the_global_kernel():
    case = next(case for case in CASES if case["name"] == "b1_plain_poolfolded_with_fc")
    cost = MODEL.estimate(layers_of(case), config_of(case))
    assert cost.per_layer[-1]["kind"] == "linear"
    assert cost.per_layer[-1]["kernel_mapped"] == 3


@pytest.mark.parametrize("case", CASES[:3], ids=[case["name"] for case in CASES[:3]])
def test_breakdowns_add_up_to_the_totals(case):
    cost = MODEL.estimate(layers_of(case), config_of(case))
    assert sum(cost.area_mm2_by_component.values()) == pytest.approx(cost.area_mm2, rel=1e-12)
    assert sum(cost.energy_uj_by_component.values()) == pytest.approx(cost.energy_uj, rel=1e-12)
    assert cost.n_weights == sum(layer.weights for layer in layers_of(case))


def test_documented_per_activation_energy_and_tile_area_at_the_defaults():
    one_pe = [LayerShape("conv", 64, 64, 3, 1, 1)]
    cost = MODEL.estimate(one_pe, MODEL.make_config())
    # E_l = T * PE * H_out^2 * E_cyc with T=5, PE=1, H_out=1
    assert cost.energy_uj * 1e6 == pytest.approx(5 * 828.4861472, rel=1e-12)
    fmap = 16.2602 * (64 + 64)
    assert cost.area_mm2 * 1e6 == pytest.approx(596708.219839 + fmap, rel=1e-12)


def test_neuron_memory_counts_only_the_first_five_layers():
    layers = [LayerShape("conv", 64, 64, 3, 4, 4)] * 7
    cost = MODEL.estimate(layers, MODEL.make_config())
    assert cost.area_mm2_by_component["neuron_memory"] * 1e6 == pytest.approx(16.2602 * 5 * 64 * 16)
    assert cost.area_mm2_by_component["input_memory"] * 1e6 == pytest.approx(16.2602 * 7 * 64 * 16)


def test_latency_is_the_end_of_the_last_layer_even_when_an_earlier_layer_ends_later():
    layers = [LayerShape("conv", 64, 256, 3, 8, 8), LayerShape("conv", 256, 10, 3, 1, 1)]
    cost = MODEL.estimate(layers, MODEL.make_config())
    t_pe = 104e-6  # ms
    assert cost.latency_ms == pytest.approx((5 * 12288 + 5 * 10) * t_pe)
    assert cost.per_layer[0]["end_ms"] > cost.latency_ms


def test_where_spikesim_fails_the_equations_are_still_computed_and_the_failure_noted():
    decreasing = [LayerShape("conv", 256, 256, 3, 8, 8), LayerShape("conv", 256, 64, 3, 8, 8)]
    notes = MODEL.estimate(decreasing, MODEL.make_config()).notes
    assert any("PE count decreases at layer 1 (16 -> 4)" in note for note in notes)

    deep = [LayerShape("conv", 64, 64, 3, 8, 8)] * 13
    assert any("more than 12 layers" in n for n in MODEL.estimate(deep, MODEL.make_config()).notes)

    tiny = [LayerShape("conv", 3, 16, 3, 32, 32), LayerShape("conv", 16, 32, 3, 32, 32)]
    started = time.perf_counter()
    cost = MODEL.estimate(tiny, MODEL.make_config())
    assert time.perf_counter() - started < 0.1
    assert any("loops forever" in note for note in cost.notes)
    assert cost.n_pe == 2 and cost.n_tiles == 1


def test_weight_bits_multiply_the_columns_when_set():
    layer = [LayerShape("conv", 64, 64, 3, 4, 4)]
    published = MODEL.estimate(layer, MODEL.make_config())
    eight_bit = MODEL.estimate(layer, MODEL.make_config({"weight_bits": 8}))
    assert (published.n_pe, eight_bit.n_pe) == (1, 8)
    assert eight_bit.energy_uj == pytest.approx(8 * published.energy_uj)


def test_unknown_layer_kind_is_a_clear_error():
    layers = [LayerShape("conv", 3, 64, 3, 32, 32), LayerShape("pool", 64, 64, 2, 32, 16, name="p")]
    with pytest.raises(
        HardwareModelError, match=r"spikesim cannot estimate layer 1 \(p\): unknown"
    ):
        MODEL.estimate(layers, MODEL.make_config())


def test_config_checks_names_and_types():
    with pytest.raises(HardwareConfigError, match="valid parameters: crossbar_size, ") as info:
        MODEL.make_config({"xbar_size": 128})
    assert isinstance(info.value, UsageError) and "Did you mean 'crossbar_size'?" in str(info.value)
    with pytest.raises(HardwareConfigError, match="expected an integer"):
        MODEL.make_config({"kernel_size": 2.5})
    with pytest.raises(HardwareConfigError, match="expected one of rram, sram"):
        MODEL.make_config({"device": "pcm"})
    with pytest.raises(HardwareConfigError, match=r"in \(0, 1\]"):
        MODEL.make_config({"pipeline_checkpoint": "1.5"})
    config = MODEL.make_config({"crossbar_size": "128", "device": "SRAM", "clock_mhz": 500})
    assert (config.crossbar_size, config.device, config.clock_mhz) == (128, "sram", 500.0)
