"""The installed package is found through its entry point and used by the neuronas CLI."""

from __future__ import annotations

import importlib.metadata
import json

import neuronas
import neuronas.testing
import pytest
from neuronas.arch import Architecture
from neuronas.errors import UsageError

from neuronas_digital_core import DigitalCoreModel


@pytest.fixture(autouse=True)
def fresh_plugins(monkeypatch):
    for variable in ("NEURONAS_LOAD_PLUGINS", "NEURONAS_DISABLE_PLUGINS"):
        monkeypatch.delenv(variable, raising=False)
    neuronas.testing.reload_plugins()
    yield
    neuronas.testing.reload_plugins()


def invoke(*args: str):
    result = neuronas.testing.invoke(*args)
    assert result.exit_code == 0, result.output
    return result


def test_the_entry_point_is_installed():
    names = [ep.name for ep in importlib.metadata.entry_points(group="neuronas")]
    assert "digital-core" in names, "run: pip install -e plugins/neuronas-digital-core"


def test_plugins_lists_it_as_an_entry_point_with_its_hardware_model():
    described = json.loads(invoke("plugins", "--json").output)
    (plugin,) = [p for p in described["plugins"] if p["name"] == "digital-core"]
    assert plugin["source"] == "entrypoint"
    assert plugin["distribution"] == "neuronas-digital-core"
    assert plugin["version"] == importlib.metadata.version("neuronas-digital-core")
    assert plugin["hooks"] == ["neuronas_register_hardware"]
    assert plugin["components"] == {"hardware": ["digital-core"]}
    assert described["failed"] == []


def test_list_hardware_shows_it():
    listed = json.loads(invoke("list", "hardware", "--json").output)
    assert {
        "name": "digital-core",
        "plugin": "digital-core",
        "description": DigitalCoreModel().description,
    } in listed
    assert "digital-core" in invoke("list", "hardware").output


def test_it_is_not_loaded_when_entry_points_are_limited(monkeypatch):
    monkeypatch.setenv("NEURONAS_LOAD_PLUGINS", "")
    neuronas.testing.reload_plugins()
    assert "digital-core" not in neuronas.component_names("hardware")


def test_get_component_returns_the_model():
    assert isinstance(neuronas.get_component("hardware", "digital-core"), DigitalCoreModel)
    model = neuronas.get_component("hardware", "digital-core:digital-core")
    assert model.name == "digital-core"


CONV = {
    "kind": "conv",
    "in_channels": 2,
    "out_channels": 4,
    "kernel": 3,
    "in_size": 8,
    "out_size": 8,
}


def layer_file(tmp_path, layers, params=None):
    path = tmp_path / "layers.json"
    path.write_text(json.dumps({"layers": layers, "params": params or {}}))
    return str(path)


def test_cost_command_uses_it(tmp_path):
    path = layer_file(tmp_path, [CONV], {"spike_rates": [0.2]})
    cost = json.loads(
        invoke("cost", "--layers", path, "--hardware", "digital-core", "--json").output
    )
    # As test_model's hand case, with twice the spike rate: 2 * (46080 + 9216) + 64000 pJ.
    assert cost["energy_uj"] == pytest.approx(0.174592, rel=1e-9)
    assert cost["n_pe"] == 1
    assert cost["latency_ms"] == pytest.approx(5 * (2 * 460.8 + 256 + 100) / 200e3, rel=1e-9)
    assert cost["hardware_params"]["spike_rates"] == [0.2]
    assert (cost["model"], cost["params"]) == ("digital-core", 72)


def test_cost_command_passes_weight_bits_and_set(tmp_path):
    path = layer_file(tmp_path, [CONV])
    args = ("cost", "--layers", path, "--hardware", "digital-core", "--json", "--weight-bits", "4")
    cost = json.loads(invoke(*args, "--set", "input_spike_rate=0.2").output)
    # 4608 SOPs x (20 + 4 x 0.5) pJ + 64000 pJ
    assert cost["energy_uj"] == pytest.approx((4608 * 22 + 64000) / 1e6, rel=1e-9)
    assert cost["hardware_params"]["weight_bits"] == 4
    refused = neuronas.testing.invoke(*args, "--set", "crossbar_size=128")
    assert refused.exit_code == UsageError.exit_code
    assert "unknown digital-core parameter(s) 'crossbar_size'" in refused.output


def test_cost_command_prints_a_table(tmp_path):
    path = layer_file(tmp_path, [CONV])
    output = invoke("cost", "--layers", path, "--hardware", "digital-core").output
    assert "digital-core: totals" in output
    assert "synapse_accumulate" in output


@pytest.mark.slow
def test_run_searches_with_it(tmp_path):
    run_dir = tmp_path / "run"
    tiny = ["--strategy", "random", "--candidates", "2", "--width", "4", "--hidden", "16"]
    tiny += ["--fitness-batch", "8", "--fitness-batches", "1", "--dataset", "digits"]
    invoke(
        "run",
        "--hardware",
        "digital-core",
        *tiny,
        "--weight-bits",
        "4",
        "--set",
        "input_spike_rate=0.05",
        "--out",
        str(run_dir),
    )
    result = json.loads((run_dir / "result.json").read_text())
    model = neuronas.get_component("hardware", "digital-core")
    config = model.make_config({"timesteps": 5, "weight_bits": 4, "input_spike_rate": 0.05})
    assert model.make_config(result["hardware_params"]) == config
    space = neuronas.get_component("space", "neuronas-3op")
    layers = space.layer_shapes(Architecture.parse(result["best"]["arch"]))
    expected = model.estimate(layers, config)
    costs = result["best"]["costs"]
    assert costs["energy_uj"] == pytest.approx(expected.energy_uj, rel=1e-9)
    assert costs["latency_ms"] == pytest.approx(expected.latency_ms, rel=1e-9)
    assert costs["area_mm2"] == pytest.approx(expected.area_mm2, rel=1e-9)
