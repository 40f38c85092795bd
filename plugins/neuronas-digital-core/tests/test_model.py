"""The digital-core cost model: hand-computed cases, config checks and invariants."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from neuronas.arch import LayerShape
from neuronas.contracts import HardwareCost, HardwareModel
from neuronas.errors import HardwareModelError, UsageError

from neuronas_digital_core import PARAMETER_NAMES, DigitalCoreConfig, DigitalCoreModel

MODEL = DigitalCoreModel()
CONV = LayerShape("conv", in_channels=2, out_channels=4, kernel=3, in_size=8, out_size=8)
FC = LayerShape("linear", in_channels=256, out_channels=10, kernel=1, in_size=1, out_size=1)


def estimate(layers, **overrides) -> HardwareCost:
    return MODEL.estimate(layers, MODEL.make_config(overrides))


def test_satisfies_the_hardware_model_contract():
    assert isinstance(MODEL, HardwareModel)
    assert MODEL.name == "digital-core"
    assert MODEL.description and "\n" not in MODEL.description
    config = MODEL.make_config()
    assert isinstance(config, DigitalCoreConfig)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.timesteps = 3  # type: ignore[misc]


def test_single_conv_layer_by_hand():
    # fan-in 2*3*3 = 18, neurons 4*8*8 = 256, SOPs 18*256*5*0.1 = 2304
    # energy 2304*20 + 2304*8*0.5 + 256*5*50 = 46080 + 9216 + 64000 = 119296 pJ
    # one core (256 <= 1024 neurons; 72*8 bits << 128 KiB); step 2304/5 + 256 = 716.8 cycles
    # latency (5 + 1 - 1) * (716.8 + 100) cycles / 200 MHz = 0.02042 ms
    # area 128*8192 bits * 0.2 um^2 = 0.2097152 mm^2 SRAM + 0.2 mm^2 logic
    cost = estimate([CONV])
    assert cost.n_pe == 1
    assert cost.n_tiles == 1
    assert cost.energy_uj == pytest.approx(0.119296, rel=1e-12)
    assert cost.energy_uj_by_component == pytest.approx(
        {"synapse_accumulate": 0.04608, "synapse_sram_read": 0.009216, "neuron_update": 0.064},
        rel=1e-12,
    )
    assert cost.energy_uj_per_layer == pytest.approx((0.119296,), rel=1e-12)
    assert cost.latency_ms == pytest.approx(0.02042, rel=1e-12)
    assert cost.area_mm2 == pytest.approx(0.4097152, rel=1e-12)
    assert cost.area_mm2_by_component == pytest.approx(
        {"synapse_sram": 0.2097152, "core_logic": 0.2}, rel=1e-12
    )
    (layer,) = cost.per_layer
    assert (layer["fan_in"], layer["neurons"], layer["weights"]) == (18, 256, 72)
    assert (cost.model, cost.n_weights) == ("digital-core", 72)
    assert cost.notes == (
        "every layer's input spike rate is the assumed input_spike_rate=0.1; pass measured "
        "spike_rates for real numbers",
    )
    assert layer["sops"] == pytest.approx(2304)
    assert layer["cycles_per_step"] == pytest.approx(716.8)


def test_two_layers_pipeline_one_step_per_layer():
    # FC: fan-in 256, 10 neurons, SOPs/step 256; its step takes 256 + 10 = 266 cycles < 716.8.
    # steps = T + L - 1 = 6, latency 6 * 816.8 / 200e3 ms.
    cost = estimate([CONV, FC])
    assert cost.n_pe == 2
    assert cost.latency_ms == pytest.approx(6 * 816.8 / 200e3, rel=1e-12)
    fc_pj = 256 * 10 * 5 * 0.1 * (20 + 8 * 0.5) + 10 * 5 * 50
    assert cost.energy_uj_per_layer[1] == pytest.approx(fc_pj / 1e6, rel=1e-12)
    assert cost.energy_uj == pytest.approx(sum(cost.energy_uj_per_layer), rel=1e-12)


def test_core_count_is_bound_by_neurons_or_by_synapse_memory():
    # 2048 neurons need two cores of 1024.
    wide = LayerShape("linear", 16, 2048, 1, 1, 1)
    assert estimate([wide]).per_layer[0]["cores_for_neurons"] == 2
    # 1024x1024 weights at 8 bits = 8 Mibit over 1 Mibit per core: 8 cores; at 16 bits: 16.
    dense = LayerShape("linear", 1024, 1024, 1, 1, 1)
    assert estimate([dense]).n_pe == 8
    assert estimate([dense], weight_bits=16).n_pe == 16
    assert estimate([dense], synapse_memory_kib=1024).n_pe == 1
    # 300 cores over 128-core chips: 3 chips.
    assert estimate([dense], weight_bits=32, synapse_memory_kib=14).n_tiles == math.ceil(
        math.ceil(1024 * 1024 * 32 / (14 * 8192)) / 128
    )


def test_spike_rate_scales_synaptic_energy_and_not_neuron_energy():
    low = estimate([CONV], input_spike_rate=0.1)
    high = estimate([CONV], input_spike_rate=0.3)
    for component in ("synapse_accumulate", "synapse_sram_read"):
        assert high.energy_uj_by_component[component] == pytest.approx(
            3 * low.energy_uj_by_component[component], rel=1e-12
        )
    assert (
        high.energy_uj_by_component["neuron_update"] == low.energy_uj_by_component["neuron_update"]
    )
    silent = estimate([CONV], input_spike_rate=0.0)
    assert silent.energy_uj == pytest.approx(silent.energy_uj_by_component["neuron_update"])


def test_measured_spike_rates_are_used_per_layer():
    measured = estimate([CONV, FC], spike_rates=[0.3, 0.05])
    assert [layer["input_spike_rate"] for layer in measured.per_layer] == [0.3, 0.05]
    assert measured.energy_uj_per_layer[0] == pytest.approx(
        estimate([CONV], input_spike_rate=0.3).energy_uj, rel=1e-12
    )
    assert measured.energy_uj_per_layer[1] == pytest.approx(
        estimate([FC], input_spike_rate=0.05).energy_uj, rel=1e-12
    )
    assert list(measured.params["spike_rates"]) == [0.3, 0.05]
    assert measured.notes == ()


def test_spike_rates_must_match_the_layers():
    with pytest.raises(HardwareModelError, match="spike_rates has 1 entries but the network has 2"):
        estimate([CONV, FC], spike_rates=[0.1])


def test_config_takes_strings_as_from_the_command_line():
    config = MODEL.make_config(
        {"timesteps": "4", "clock_mhz": "250", "weight_bits": 4.0, "spike_rates": "0.2, 0.3"}
    )
    assert (config.timesteps, config.clock_mhz, config.weight_bits) == (4, 250.0, 4)
    assert config.spike_rates == (0.2, 0.3)


def test_recorded_params_rebuild_the_same_config():
    config = MODEL.make_config({"spike_rates": [0.3, 0.05], "weight_bits": 4})
    recorded = json.loads(json.dumps(estimate([CONV, FC], **attrs.asdict(config)).params))
    assert MODEL.make_config(recorded) == config


def test_unknown_parameter_lists_the_valid_keys():
    with pytest.raises(UsageError) as error:
        MODEL.make_config({"timestep": 4, "crossbar_size": 64})
    message = str(error.value)
    assert "'crossbar_size'" in message
    assert "'timestep' (did you mean 'timesteps'?)" in message
    assert "valid keys: " + ", ".join(PARAMETER_NAMES) in message


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"weight_bits": 0}, r"weight_bits=0 is out of range; expected a value in \[1, 32\]"),
        ({"weight_bits": 2.5}, "weight_bits expects an integer, got 2.5"),
        ({"timesteps": True}, "timesteps expects a number, got True"),
        ({"clock_mhz": "fast"}, "clock_mhz expects a number, got 'fast'"),
        ({"clock_mhz": 0}, r"clock_mhz=0.0 is out of range; expected a value in \(0, inf\)"),
        ({"input_spike_rate": 1.5}, r"input_spike_rate=1.5 is out of range"),
        ({"spike_rates": [0.1, 2]}, r"spike_rates\[1\]=2.0 is out of range"),
        ({"spike_rates": 0.1}, "spike_rates expects a list of numbers"),
    ],
)
def test_bad_values_are_usage_errors(overrides, expected):
    with pytest.raises(UsageError, match=expected):
        MODEL.make_config(overrides)


def test_layers_it_cannot_map_are_named():
    pool = LayerShape("pool", 4, 4, 2, 8, 4, name="cell_a.pool")  # type: ignore[arg-type]
    with pytest.raises(HardwareModelError, match=r"layer 1 \(cell_a.pool\) of kind 'pool'"):
        estimate([CONV, pool])
    with pytest.raises(HardwareModelError, match="empty layer list"):
        estimate([])
    with pytest.raises(HardwareModelError, match="config from its make_config"):
        MODEL.estimate([CONV], {"timesteps": 5})


def test_breakdowns_add_up_and_params_are_recorded():
    cost = estimate([CONV, FC, CONV], timesteps=3, weight_bits=4)
    assert sum(cost.energy_uj_by_component.values()) == pytest.approx(cost.energy_uj)
    assert sum(cost.area_mm2_by_component.values()) == pytest.approx(cost.area_mm2)
    assert sum(layer["area_mm2"] for layer in cost.per_layer) == pytest.approx(cost.area_mm2)
    assert sum(layer["cores"] for layer in cost.per_layer) == cost.n_pe
    assert set(cost.params) == set(PARAMETER_NAMES)
    assert (cost.params["timesteps"], cost.params["weight_bits"]) == (3, 4)


sizes = st.integers(min_value=1, max_value=64)


@given(
    in_channels=sizes,
    out_channels=sizes,
    extra_channels=st.integers(min_value=1, max_value=64),
    kernel=st.sampled_from([1, 3, 5]),
    out_size=st.integers(min_value=1, max_value=32),
    rate=st.floats(min_value=0.0, max_value=0.9),
    weight_bits=st.integers(min_value=1, max_value=31),
)
def test_more_channels_spikes_or_bits_never_cost_less(
    in_channels, out_channels, extra_channels, kernel, out_size, rate, weight_bits
):
    def cost(out_c: int, spike_rate: float, bits: int) -> HardwareCost:
        layer = LayerShape("conv", in_channels, out_c, kernel, out_size, out_size)
        return estimate([layer, FC], input_spike_rate=spike_rate, weight_bits=bits)

    base = cost(out_channels, rate, weight_bits)
    for bigger in (
        cost(out_channels + extra_channels, rate, weight_bits),
        cost(out_channels, rate + 0.1, weight_bits),
        cost(out_channels, rate, weight_bits + 1),
    ):
        assert bigger.energy_uj >= base.energy_uj
        assert bigger.area_mm2 >= base.area_mm2
        assert bigger.n_pe >= base.n_pe
    assert cost(out_channels + extra_channels, rate, weight_bits).energy_uj > base.energy_uj
    # More spikes mean more work on the same cores; more channels may spread over more cores.
    assert cost(out_channels, rate + 0.1, weight_bits).latency_ms > base.latency_ms


def test_readme_table_matches_the_parameters():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    rows = re.findall(
        r"^\| `(\w+)` \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", readme, flags=re.MULTILINE
    )
    assert [row[0] for row in rows] == list(PARAMETER_NAMES)
    for (key, default, unit, meaning), field in zip(
        rows, attrs.fields(DigitalCoreConfig), strict=True
    ):
        expected_default = "none" if field.default is None else f"{field.default:g}"
        assert (default, unit, meaning) == (
            expected_default,
            field.metadata["unit"],
            field.metadata["meaning"],
        ), key
