"""`neuronas cost`: ARCH or --layers, parameter precedence, JSON and human output, clear errors."""

import json

import pytest
from click.testing import CliRunner

import neuronas.plugin
from neuronas.arch import LayerShape
from neuronas.cli import build_cli
from neuronas.errors import UsageError

ARCH = "a=|conv3x3~0|;b=|skip~0|;width=64;timesteps=7"


class TinySpace:
    """A stand-in search space: one stem conv and one conv per cell, widths from the macro."""

    name = "tiny-space"
    description = "test space"
    ops = ("skip", "conv3x3")

    def enumerate(self):
        return iter(())

    def sample(self, rng):
        raise NotImplementedError

    def is_valid(self, cell):
        return True

    def build(self, arch, seed=None):
        raise NotImplementedError

    def layer_shapes(self, arch, include_classifier=False):
        w = arch.macro.width
        layers = [LayerShape("conv", 3, w, 3, 32, 32), LayerShape("conv", w, w, 3, 32, 32)]
        if include_classifier:
            layers.append(LayerShape("linear", w * 32 * 32, 10, 1, 1, 1))
        return layers


class TinySpacePlugin:
    @neuronas.plugin.hookimpl
    def neuronas_register_search_spaces(self, register):
        register(TinySpace())


@pytest.fixture(autouse=True)
def tiny_space():
    neuronas.plugin.register_plugin(TinySpacePlugin(), name="tiny-space-plugin")


def invoke(*args):
    return CliRunner().invoke(build_cli(), ["cost", *args])


@pytest.fixture
def layer_file(tmp_path):
    path = tmp_path / "net.json"
    path.write_text(
        json.dumps(
            {
                "layers": [
                    {"kind": "conv", "in_channels": 100, "out_channels": 200, "kernel": 3,
                     "in_size": 8, "out_size": 8},
                    {"kind": "linear", "in_channels": 12800, "out_channels": 10},
                ],
                "params": {"weight_bits": 4, "crossbar_size": 128},
            }
        )
    )  # fmt: skip
    return path


def test_layers_json_output(layer_file):
    result = invoke("--layers", str(layer_file), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    for key in (
        "area_mm2",
        "latency_ms",
        "energy_uj",
        "n_pe",
        "n_tiles",
        "energy_uj_per_layer",
        "area_mm2_by_component",
        "energy_uj_by_component",
        "per_layer",
        "hardware_params",
    ):
        assert key in data  # fmt: skip
    assert data["params"] == 100 * 200 * 9 + 12800 * 10
    assert data["hardware_params"]["weight_bits"] == 4
    assert data["hardware_params"]["crossbar_size"] == 128
    assert len(data["energy_uj_per_layer"]) == 2 and data["model"] == "spikeflow"
    # 100 x 200 at f=4 on 128x128 crossbars: 1 row block x ceil(800/128) = 7 PEs
    assert data["per_layer"][0]["n_pe"] == 7


def test_precedence_file_params_then_config_then_weight_bits_then_set(layer_file, tmp_path):
    toml = tmp_path / "hw.toml"
    toml.write_text('[hardware]\nweight_bits = 16\ndevice = "sram"\npes_per_tile = 4\n')
    args = ["--layers", str(layer_file), "--config", str(toml), "--json"]
    params = json.loads(invoke(*args).output)["hardware_params"]
    assert (params["weight_bits"], params["device"], params["crossbar_size"]) == (16, "sram", 128)
    params = json.loads(invoke(*args, "--weight-bits", "2").output)["hardware_params"]
    assert params["weight_bits"] == 2
    result = invoke(
        *args, "--weight-bits", "2", "--set", "weight_bits=3", "--set", "pes_per_tile=2"
    )
    params = json.loads(result.output)["hardware_params"]
    assert (params["weight_bits"], params["pes_per_tile"]) == (3, 2)


def test_arch_uses_the_space_and_its_timesteps_and_set_overrides_them():
    result = invoke(ARCH, "--space", "tiny-space", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["hardware_params"]["timesteps"] == 7
    assert data["params"] == 3 * 64 * 9 + 64 * 64 * 9
    overridden = invoke(ARCH, "--space", "tiny-space", "--set", "timesteps=2", "--json")
    data2 = json.loads(overridden.output)
    assert data2["hardware_params"]["timesteps"] == 2
    assert data2["energy_uj"] == pytest.approx(data["energy_uj"] * 2 / 7)
    with_fc = json.loads(
        invoke(ARCH, "--space", "tiny-space", "--include-classifier", "--json").output
    )
    assert len(with_fc["per_layer"]) == 3


def test_spikesim_through_the_cli_matches_a_reference_case(tmp_path):
    path = tmp_path / "e5.json"
    path.write_text(json.dumps({"layers": [{"kind": "conv", "in_channels": 100, "out_channels": 200,
                                            "kernel": 3, "in_size": 8, "out_size": 8}]}))  # fmt: skip
    data = json.loads(invoke("--layers", str(path), "--hardware", "spikesim", "--json").output)
    assert (data["n_pe"], data["n_tiles"]) == (8, 1)
    assert data["area_mm2"] == pytest.approx(908904.059839 / 1e6, rel=1e-9)
    assert data["energy_uj"] == pytest.approx(2120924.536832 / 1e6, rel=1e-9)
    assert data["latency_ms"] == pytest.approx(6656000.0 / 1e6, rel=1e-9)


def test_human_output_has_totals_layers_and_components(layer_file):
    result = invoke("--layers", str(layer_file))
    assert result.exit_code == 0, result.output
    for text in (
        "spikeflow: totals",
        "area (mm^2)",
        "latency (ms)",
        "energy (uJ)",
        "per layer",
        "per component",
        "tile_buffers",
        "hardware parameters:",
        "weight_bits=4",
    ):
        assert text in result.output  # fmt: skip


def test_spikesim_notes_are_printed(tmp_path):
    path = tmp_path / "small.json"
    path.write_text(json.dumps({"layers": [{"kind": "conv", "in_channels": 3, "out_channels": 8,
                                            "kernel": 3, "in_size": 8, "out_size": 8}]}))  # fmt: skip
    result = invoke("--layers", str(path), "--hardware", "spikesim")
    assert "note:" in result.output and "loops forever" in result.output


def refused(result, error=UsageError):
    """A user error: its exit code and its one-line message, no traceback."""
    assert result.exit_code == error.exit_code, result.output
    assert "Traceback" not in result.output
    return result.output


def test_errors(layer_file, tmp_path):
    result = invoke("--layers", str(layer_file), "--set", "xbar=64")
    assert "valid parameters: crossbar_size" in refused(result)
    refused(invoke())
    refused(invoke(ARCH, "--layers", str(layer_file)))
    bad_kind = tmp_path / "bad.json"
    bad_kind.write_text(json.dumps({"layers": [{"kind": "pool", "in_channels": 8, "out_channels": 8,
                                                "kernel": 2, "in_size": 8, "out_size": 4}]}))  # fmt: skip
    result = invoke("--layers", str(bad_kind))
    assert "kind must be 'conv' or 'linear', got 'pool'" in refused(result)  # the user's, exit 2
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({"layers": [{"kind": "conv", "in_channels": 8}]}))
    assert "missing key(s) out_channels" in refused(invoke("--layers", str(missing)))
    assert "unknown hardware model" in refused(
        invoke("--layers", str(layer_file), "--hardware", "x")
    )


CONV = {
    "kind": "conv",
    "in_channels": 8,
    "out_channels": 8,
    "kernel": 3,
    "in_size": 8,
    "out_size": 8,
}


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ([], "holds no layers; give at least one"),
        ([{**CONV, "in_channels": True}], "in_channels must be an integer from 1 to 2147483647"),
        ([{**CONV, "in_channels": 1.5}], "in_channels must be an integer from 1 to 2147483647"),
        ([{**CONV, "out_channels": 1e300}], "out_channels must be an integer from 1"),
        ([{**CONV, "kernel": 0}], "kernel must be an integer from 1"),
        ([{**CONV, "in_size": "8"}], "in_size must be an integer from 1"),
        ([{**CONV, "stride": 0}], "stride must be an integer from 1"),
        ([{**CONV, "name": 5}], "name must be a string, got 5"),
        ([{**CONV, "role": ["stem"]}], "role must be a string"),
    ],
)
def test_a_layer_file_the_model_cannot_take_is_the_users_error(tmp_path, layers, message):
    """Not the hardware model's failure (exit 1), nor a cost of a layer with a True channel."""
    path = tmp_path / "layers.json"
    path.write_text(json.dumps({"layers": layers}))
    output = refused(invoke("--layers", str(path), "--json"))
    assert f"layer file {path}" in output and message in output
