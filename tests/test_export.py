"""`neuronas export`: BatchNorm folding, the inference graph, the NIR round trip through snnTorch on a
tiny trained network (spikes identical, logits close), metadata, mapping.json, the exporter plugin
kind, the command and its one-line errors."""

from __future__ import annotations

import contextlib
import io
import json
import math
import shutil
import sys

import pytest
import torch
from click.testing import CliRunner
from spikingjelly.activation_based import functional, neuron
from torch import nn

import neuronas
from neuronas import data
from neuronas.arch import Architecture
from neuronas.cli import build_cli
from neuronas.errors import UsageError
from neuronas.exporting import export, integer_weights
from neuronas.plugin import get_component, hookimpl, register_plugin
from neuronas.quantization import quantize_tensor, weight_layers
from neuronas.search.config import SearchConfig
from neuronas.snn import TimeBatchNorm2d
from neuronas.snn.inference import fold_batchnorm, inference_network
from neuronas.snn.opspec import OpSpec
from neuronas.training import TrainConfig, load_checkpoint, network_at, train

# node 2 = skip(x0) + skip(x1) = 2 x0: a source reached twice through skip edges
CELL = "|skip~0|+|skip~0|skip~1|+|conv3x3~0|avgpool3x3~1|conv3x3~2|"
MACRO = "width=4;timesteps=4;input=1x8x8;classes=10;hidden=32;population=2"
ARCH = f"a={CELL};b={CELL};{MACRO}"
#: neuronas and snnTorch round differently (folded BatchNorm, the LIF update, sum order), by about
#: 1e-7; an image whose membranes all stay this far from the threshold has the same spikes in both
MARGIN = 1e-5


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny network QAT-trained (8 bits) on digits for 2 epochs (about 50% test accuracy)."""
    out = tmp_path_factory.mktemp("train")
    config = TrainConfig(arch=ARCH, dataset="digits", epochs=2, batch_size=32, weight_bits=8)
    train(config, out)
    return out / "checkpoint.pt"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished (tiny) search."""
    out = tmp_path_factory.mktemp("search") / "run"
    neuronas.search(
        out=out,
        strategy="random",
        candidates=3,
        dataset="digits",
        width=4,
        timesteps=2,
        hidden=16,
        population=2,
        fitness_batch=16,
        fitness_batches=1,
        device="cpu",
    )
    return out


def invoke(*args):
    return CliRunner().invoke(build_cli(), ["export", *map(str, args)])


def one_line_error(result, expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def randomise_batchnorm(model: nn.Module, seed: int = 1) -> None:
    """Running statistics and affine parameters far from their initial values."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            size = module.num_features
            module.running_mean.copy_(0.3 * torch.randn(size, generator=generator))
            module.running_var.copy_(0.5 + torch.rand(size, generator=generator))
            with torch.no_grad():
                module.weight.copy_(0.5 + torch.rand(size, generator=generator))
                module.bias.copy_(0.3 * torch.randn(size, generator=generator))


def requires(module: str):
    """``module``, or skip: the NIR round trip needs the extra (CI installs it)."""
    return pytest.importorskip(module, reason="needs the nir extra: pip install -e '.[nir]'")


def lif_outputs(modules, store, kinds: tuple[type, ...] = (neuron.BaseNode,)):
    """Forward hooks that append every neuron layer's output to ``store[name]``."""
    return [
        module.register_forward_hook(
            lambda _m, _i, out, name=name: store.setdefault(name, []).append(out.detach())
        )
        for name, module in modules
        if isinstance(module, kinds)
    ]


# --- BatchNorm folding and the inference graph ---------------------------------------------------


def test_folding_batchnorm_into_the_conv_is_exact_in_eval_mode():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, 3, padding=1, bias=False)
    bn = TimeBatchNorm2d(5)
    randomise_batchnorm(bn)
    bn.eval()
    x = torch.randn(4, 3, 6, 6)
    with torch.no_grad():
        assert torch.allclose(fold_batchnorm(conv, bn)(x), bn(conv(x)), rtol=1e-5, atol=1e-6)
        conv, bn, x = conv.double(), bn.double(), x.double()
        assert torch.allclose(fold_batchnorm(conv, bn)(x), bn(conv(x)), rtol=1e-12, atol=1e-14)


def test_the_inference_graph_computes_what_the_network_computes():
    model = neuronas.build_model(ARCH, seed=0)
    randomise_batchnorm(model)
    with torch.no_grad():
        model.classifier.hidden.weight.mul_(8)  # so that the classifier's neurons spike
    model.eval().double()
    network = inference_network(model)
    nodes = [name for name, _sources in network.plan]
    assert "cell_a_edges_e0_3_conv" in nodes and "stem_conv_times2" in nodes
    assert not any("bn" in name for name in nodes if name not in ("downsample_bn_in", "head_bn"))
    images = torch.randn(16, 1, 8, 8, generator=torch.Generator().manual_seed(2)).double()
    expected, got = {}, {}
    hooks = lif_outputs(model.named_modules(), expected) + lif_outputs(
        network.named_children(), got
    )
    with torch.no_grad():
        logits = model(images)
        functional.reset_net(model)
        graph_logits = network.logits(images)
    for hook in hooks:
        hook.remove()
    assert torch.allclose(graph_logits, logits, rtol=1e-12, atol=1e-12)
    for name, (spikes,) in expected.items():  # multi-step: one [T, N, ...] call
        assert torch.equal(torch.stack(got[name.replace(".", "_")]), spikes), name
    assert sum(float(spikes[0].sum()) for spikes in expected.values()) > 0


# --- the round trip through snnTorch ---------------------------------------------------------


def margins(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Per image, how close any membrane comes to the threshold (neuronas's LIF, recomputed)."""
    inputs: dict[str, list[torch.Tensor]] = {}
    hooks = [
        module.register_forward_hook(
            lambda _m, args, _out, name=name: inputs.setdefault(name, []).append(args[0])
        )
        for name, module in model.named_modules()
        if isinstance(module, neuron.LIFNode)
    ]
    with torch.no_grad():
        model(images)
    functional.reset_net(model)
    for hook in hooks:
        hook.remove()
    closest = torch.full((len(images),), math.inf, dtype=torch.float64)
    for (currents,) in inputs.values():
        potential = torch.zeros_like(currents[0], dtype=torch.float64)
        for current in currents.double():
            charged = potential + (current - potential) / (4.0 / 3.0)
            distance = (charged - 1.0).abs().flatten(1).min(1).values
            closest = torch.minimum(closest, distance)
            potential = torch.where(charged >= 1.0, 0.0, charged)
    return closest


def test_the_exported_graph_runs_in_snntorch_with_the_same_spikes(checkpoint, tmp_path):
    nir, snntorch = requires("nir"), requires("snntorch")
    from snntorch.import_nir import import_from_nir

    neuronas.export(checkpoint, tmp_path / "model.nir")
    with contextlib.redirect_stdout(io.StringIO()):  # snnTorch prints how it rescales thresholds
        imported = import_from_nir(nir.read(tmp_path / "model.nir"))
    loaded = load_checkpoint(checkpoint)
    model = network_at(loaded["config"], loaded["model"], 8).eval()
    images = data.read_digits("test").images[:32]
    images = images[margins(model, images) > MARGIN]
    assert len(images) >= 24
    expected, got = {}, {}
    hooks = lif_outputs(model.named_modules(), expected)
    hooks += lif_outputs(imported.named_children(), got, (snntorch.Leaky,))
    steps = model.arch.macro.timesteps
    with torch.no_grad():
        logits = model(images)
        outputs = []
        for image in images:  # NIR types have no batch dimension: one image [C, H, W] at a time
            for module in imported.modules():
                if isinstance(module, snntorch.Leaky):
                    module.reset_mem()
            outputs.append(torch.stack([imported(image)[0] for _ in range(steps)]).mean(0))
    for hook in hooks:
        hook.remove()
    assert torch.allclose(torch.stack(outputs), logits, atol=1e-5)
    assert len(got) == len(expected) == 7
    for name, (spikes,) in expected.items():
        imported_spikes = torch.stack(got[name.replace(".", "_")])  # image-major [N * T, ...]
        imported_spikes = imported_spikes.unflatten(0, (len(images), steps)).transpose(0, 1)
        assert torch.equal(imported_spikes, spikes), name
    assert all(spikes.sum() > 0 for (spikes,) in expected.values())


# --- what the files hold ---------------------------------------------------------------------


def test_a_qat_export_records_the_architecture_and_the_integer_weights(checkpoint, tmp_path):
    nir = requires("nir")
    result = export(checkpoint, tmp_path / "model.nir")
    graph = nir.read(tmp_path / "model.nir")
    metadata = graph.metadata
    assert metadata["arch"] == Architecture.parse(ARCH).to_string()
    assert metadata["weight_bits"] == 8 and metadata["precision"].startswith("FxP8 (QAT")
    assert metadata["source"] == "checkpoint" and metadata["epochs"] == 2
    assert metadata["timesteps"] == 4 and metadata["dt"] == pytest.approx(1e-4)
    assert "same image" in metadata["input_encoding"]
    assert result.metadata["arch"] == metadata["arch"]
    loaded = load_checkpoint(checkpoint)
    model = network_at(loaded["config"], loaded["model"], 8)
    layers = metadata["layers"]
    assert set(layers) == {name for name, _ in weight_layers(model)}
    for name, module in weight_layers(model):
        entry = layers[name]
        codes = torch.from_numpy(entry["codes"])
        assert codes.dtype == torch.int32 and entry["bits"] == 8
        assert int(codes.min()) >= -128 and int(codes.max()) <= 127
        step = 2.0 ** -entry["fraction_bits"]
        assert torch.equal((codes.double() * step).float(), module.weight.detach())
        node = graph.nodes[entry["node"]]
        if "batchnorm_scale" in entry:  # the graph's weight is the folded one
            scale = torch.from_numpy(entry["batchnorm_scale"]).view(-1, 1, 1, 1)
            assert torch.allclose(
                torch.from_numpy(node.weight).double(), module.weight.double() * scale
            )
            assert torch.allclose(
                torch.from_numpy(node.bias).double(), torch.from_numpy(entry["batchnorm_shift"])
            )
        else:
            assert torch.equal(torch.from_numpy(node.weight), module.weight.detach())
    lif = graph.nodes["cell_a_edges_e0_3_lif"]
    assert float(lif.tau.flat[0]) == pytest.approx(4 / 3 * 1e-4)
    assert float(lif.r.flat[0]) == 1.0 and float(lif.v_threshold.flat[0]) == 1.0
    assert float(lif.v_leak.flat[0]) == float(lif.v_reset.flat[0]) == 0.0


def test_a_full_precision_export_has_no_integer_weights(checkpoint, tmp_path):
    nir = requires("nir")
    payload = torch.load(checkpoint, weights_only=True)
    payload["config"]["weight_bits"] = None
    torch.save(payload, tmp_path / "checkpoint.pt")  # as if trained without QAT
    export(tmp_path / "checkpoint.pt", tmp_path / "model.nir")
    metadata = nir.read(tmp_path / "model.nir").metadata
    assert "weight_bits" not in metadata and metadata["precision"].startswith("float32")
    assert not any("codes" in entry for entry in metadata["layers"].values())
    assert integer_weights(nn.Linear(2, 2), None) == {}


def test_ptq_to_other_bits_records_that_format(checkpoint, tmp_path):
    nir = requires("nir")
    export(checkpoint, tmp_path / "model.nir", weight_bits=4)
    metadata = nir.read(tmp_path / "model.nir").metadata
    assert metadata["weight_bits"] == 4 and "PTQ" in metadata["precision"]
    codes = metadata["layers"]["stem.conv"]["codes"]
    assert codes.min() >= -8 and codes.max() <= 7


def test_mapping_json_is_the_cost_model_per_layer(checkpoint, tmp_path):
    requires("nir")
    result = export(checkpoint, tmp_path / "model.nir", params={"crossbar_size": 128})
    assert result.mapping == tmp_path / "mapping.json"
    mapping = json.loads(result.mapping.read_text())
    cost = neuronas.estimate_cost(
        ARCH, "spikeflow", {"weight_bits": 8, "crossbar_size": 128}, include_classifier=True
    )
    totals = mapping["totals"]
    assert mapping["files"] == ["model.nir"] and mapping["hardware"] == "spikeflow"
    assert mapping["hardware_params"]["crossbar_size"] == 128
    assert mapping["hardware_params"]["weight_bits"] == 8
    assert mapping["hardware_params"]["timesteps"] == 4
    assert totals["energy_uj"] == cost.energy_uj and totals["area_mm2"] == cost.area_mm2
    assert totals["latency_ms"] == cost.latency_ms and totals["n_pe"] == cost.n_pe
    layers = mapping["layers"]
    assert [layer["name"] for layer in layers] == [
        shape.name for shape in neuronas.layer_shapes(ARCH, include_classifier=True)
    ]
    assert sum(layer["energy_uj"] for layer in layers) == pytest.approx(cost.energy_uj)
    assert sum(layer["area_mm2"] for layer in layers) == pytest.approx(cost.area_mm2)
    assert sum(layer["n_pe"] for layer in layers) == cost.n_pe
    assert sum(layer["n_tiles"] for layer in layers) == cost.n_tiles
    assert sum(layer["weights"] for layer in layers) == totals["params"]
    assert max(layer["end_ms"] for layer in layers) == pytest.approx(cost.latency_ms)
    for layer in layers:
        assert layer["n_crossbars"] == layer["n_pe"] * layer["kernel_mapped"] ** 2
        assert layer["latency_ms"] == pytest.approx(layer["end_ms"] - layer["start_ms"])


def test_a_run_folder_exports_its_seeded_network_as_the_search_scored_it(run_dir, tmp_path):
    nir = requires("nir")
    result = export(run_dir, tmp_path / "model.nir", hardware="spikesim")
    metadata = nir.read(tmp_path / "model.nir").metadata
    best = json.loads((run_dir / "result.json").read_text())["best"]["arch"]
    assert metadata["arch"] == best and metadata["source"] == "run"
    assert (
        metadata["seed"] == 0 and "seeded initial weights, not trained" in metadata["weights_from"]
    )
    assert metadata["weight_bits"] == 8  # the run's precision
    seeded = get_component("space", "neuronas-3op").build(Architecture.parse(best), seed=0)
    for name, module in weight_layers(seeded):
        values, fmt = quantize_tensor(module.weight, 8)
        entry = metadata["layers"][name]
        assert entry["fraction_bits"] == fmt.fraction_bits
        assert torch.equal(torch.from_numpy(entry["codes"]).double() * fmt.step, values.double())
    assert json.loads(result.mapping.read_text())["hardware"] == "spikesim"


# --- the exporter kind -----------------------------------------------------------------------


class JsonExporter:
    """A third-party exporter: the architecture and the weight formats as JSON."""

    name = "arch-json"
    description = "test exporter"

    def export(self, request, out):
        formats = {name: w.fraction_bits for name, w in request.weights.items()}
        out.write_text(json.dumps({"arch": request.arch.to_string(), "formats": formats}))
        return [out]


class JsonExporterPlugin:
    @hookimpl
    def neuronas_register_exporters(self, register):
        register(JsonExporter())


def test_a_plugin_adds_an_exporter(checkpoint, tmp_path):
    register_plugin(JsonExporterPlugin(), name="json-exporter")
    result = invoke(checkpoint, "--format", "arch-json", "--out", tmp_path / "net.json")
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "net.json").read_text())
    assert written["arch"] == Architecture.parse(ARCH).to_string()
    assert set(written["formats"]) >= {"stem.conv", "classifier.out"}
    assert (tmp_path / "mapping.json").is_file()


# --- the command and its errors --------------------------------------------------------------


def test_the_command_writes_the_graph_and_the_mapping(checkpoint, tmp_path):
    requires("nir")
    result = invoke(checkpoint.parent, "--out", tmp_path / "out" / "model.nir", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["files"] == [str(tmp_path / "out" / "model.nir")]
    assert report["mapping"] == str(tmp_path / "out" / "mapping.json")
    assert report["metadata"]["weight_bits"] == 8
    human = invoke(checkpoint, "--out", tmp_path / "model.nir", "--mapping", tmp_path / "m.json")
    assert human.exit_code == 0, human.output
    assert "FxP8" in human.stdout and (tmp_path / "m.json").is_file()


def test_a_checkpoint_of_another_format_is_one_line(tmp_path):
    torch.save({"format": "something-else", "weights": torch.zeros(2)}, tmp_path / "other.pt")
    one_line_error(
        invoke(tmp_path / "other.pt", "--out", tmp_path / "model.nir"),
        "is not a neuronas training checkpoint",
    )
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    one_line_error(
        invoke(tmp_path / "notes.txt", "--out", tmp_path / "model.nir"),
        "is not a readable neuronas checkpoint",
    )
    one_line_error(invoke(tmp_path, "--out", tmp_path / "model.nir"), "neither a training folder")


def test_a_run_folder_without_a_result_is_one_line(run_dir, tmp_path):
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    shutil.copy(run_dir / "config.json", unfinished / "config.json")
    one_line_error(
        invoke(unfinished, "--out", tmp_path / "model.nir"),
        "has no result.json: its search has not finished",
    )


def fake_run(folder, space: str, arch: str):
    """A finished run folder whose best architecture is ``arch`` (no search needed)."""
    folder.mkdir()
    config = SearchConfig(space=space, width=4, timesteps=2, hidden=16, population=2)
    (folder / "config.json").write_text(json.dumps({"config": config.to_dict()}))
    (folder / "result.json").write_text(json.dumps({"best": {"arch": arch}, "notes": []}))
    return folder


def test_a_backward_cell_is_refused_in_one_line(tmp_path):
    backward = "|conv3x3~0|+|zero~0|skip~1|+|conv3x3~0|zero~1|conv3x3~2|<|zero~1|skip~2|zero~3|+|zero~2|zero~3|+|zero~3|"
    arch = f"a={backward};b={backward};width=4;timesteps=2;input=1x8x8;classes=10;hidden=16"
    run = fake_run(tmp_path / "run", "snasnet-backward", arch)
    one_line_error(
        invoke(run, "--out", tmp_path / "model.nir"), "backward (temporal feedback) edges"
    )
    assert not (tmp_path / "model.nir").exists() and not (tmp_path / "mapping.json").exists()


class DepthwiseConv(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.conv = nn.Conv2d(width, width, 3, padding=1, groups=width, bias=False)

    def forward(self, x):
        return x + self.conv(x.flatten(0, 1)).unflatten(0, x.shape[:2])


class DepthwiseSpace:
    @hookimpl
    def neuronas_register_search_spaces(self, register):
        from neuronas.snn import CellSearchSpace
        from neuronas.snn.opspec import BUILTIN_OPS

        ops = {**BUILTIN_OPS, "dwconv3x3": OpSpec("dwconv3x3", DepthwiseConv, kernel=3)}
        register(
            CellSearchSpace("dw-space", "test", ("skip", "conv3x3", "dwconv3x3"), op_specs=ops)
        )


def test_a_third_party_op_is_refused_in_one_line(tmp_path):
    register_plugin(DepthwiseSpace(), name="dw-space-plugin")
    cell = "|dwconv3x3~0|+|skip~0|conv3x3~1|+|skip~0|skip~1|conv3x3~2|"
    arch = f"a={cell};b={cell};width=4;timesteps=2;input=1x8x8;classes=10;hidden=16"
    run = fake_run(tmp_path / "run", "dw-space", arch)
    one_line_error(
        invoke(run, "--out", tmp_path / "model.nir"),
        "op 'dwconv3x3' on cell A edge 0-1 (DepthwiseConv) cannot be exported",
    )


def test_an_out_that_cannot_be_written_is_one_line(checkpoint, tmp_path):
    (tmp_path / "file.txt").write_text("")
    one_line_error(
        invoke(checkpoint, "--out", tmp_path / "file.txt" / "model.nir"),
        "lies under",
    )
    one_line_error(invoke(checkpoint, "--out", tmp_path), f"e.g. {tmp_path / 'model.nir'}")
    one_line_error(  # the example is a mapping's name, not a model's
        invoke(checkpoint, "--out", tmp_path / "m.nir", "--mapping", tmp_path),
        f"--mapping {tmp_path} is a folder; give a file name, e.g. {tmp_path / 'mapping.json'}",
    )
    one_line_error(
        invoke(checkpoint, "--out", tmp_path / "m.json", "--mapping", tmp_path / "m.json"),
        "choose two files",
    )
    one_line_error(
        invoke(checkpoint, "--out", tmp_path / "m.nir", "--format", "lava"), "unknown exporter"
    )


def test_a_missing_extra_names_it(checkpoint, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "nir", None)
    one_line_error(
        invoke(checkpoint, "--out", tmp_path / "model.nir"), "pip install 'neuronas[nir]'"
    )
    with pytest.raises(UsageError, match=r"needs the 'nir' extra \(module 'nir' is missing\)"):
        export(checkpoint, tmp_path / "model.nir")
