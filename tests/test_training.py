"""Training and evaluation: loss goes down, QAT stays on the grid, resume is exact, checkpoints are
checked, and the train / evaluate commands work end to end (tiny networks on tiny synthetic data)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import attrs
import pytest
import torch
from click.testing import CliRunner
from spikingjelly.activation_based import functional, neuron
from torch import nn

from neuronas.arch import Architecture
from neuronas.builtins.datasets import SyntheticDataset
from neuronas.cli import build_cli
from neuronas.errors import UsageError
from neuronas.plugin import get_component, hookimpl, manager, register_plugin
from neuronas.quantization import quantize_tensor
from neuronas.training import (
    CHECKPOINT_NAME,
    CheckpointError,
    TrainConfig,
    TrainObserver,
    build_model,
    evaluate_checkpoint,
    load_checkpoint,
    train,
)

CELL = "|conv3x3~0|+|skip~0|conv3x3~1|+|skip~0|avgpool3x3~1|conv3x3~2|"
OTHER_CELL = "|conv3x3~0|+|conv3x3~0|skip~1|+|skip~0|skip~1|conv3x3~2|"
MACRO = "width=4;timesteps=2;input=1x8x8;classes=4;hidden=16;population=2;stem_stride=1"
ARCH = f"a={CELL};b={CELL};{MACRO}"
OTHER_ARCH = f"a={OTHER_CELL};b={CELL};{MACRO}"


class TinyData:
    """Registers ``tiny``: 1x8x8 synthetic images, 4 classes, 64 train / 32 test."""

    @hookimpl
    def neuronas_register_datasets(self, register):
        register(
            SyntheticDataset(
                input_shape=(1, 8, 8), num_classes=4, train_size=64, test_size=32, name="tiny"
            )
        )


@pytest.fixture(autouse=True)
def tiny_dataset(fresh_plugins):
    register_plugin(TinyData(), name="tiny-data")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors run fastest on one thread (and do not fight the other tests for cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_config(**changes) -> TrainConfig:
    settings = {"arch": ARCH, "dataset": "tiny", "epochs": 3, "batch_size": 16, **changes}
    return TrainConfig(**settings)


def without_times(records):
    return [{k: v for k, v in record.items() if k != "seconds"} for record in records]


def test_a_few_epochs_reduce_the_loss(tmp_path):
    metrics = train(tiny_config(epochs=4, batch_size=8, lr=0.3), tmp_path).metrics
    losses = [record["train_loss"] for record in metrics["epochs"]]
    assert losses[0] > 1.35  # about ln(4): an untrained network
    assert losses == sorted(losses, reverse=True)
    assert losses[-1] < losses[0] - 0.2
    assert metrics["final"]["test_accuracy"] > 0.5  # 4 classes: chance is 0.25


def test_qat_forward_pass_sees_weights_on_the_fixed_point_grid(tmp_path):
    bits = 4
    model = build_model(tiny_config(weight_bits=bits))
    seen: dict[str, torch.Tensor] = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            module.register_forward_pre_hook(
                lambda mod, _inputs, name=name: seen.__setitem__(name, mod.weight.detach().clone())
            )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    images = torch.randn(8, 1, 8, 8)
    for _step in range(2):  # the float weights move; the forward pass stays on the grid
        loss = nn.functional.cross_entropy(model(images), torch.arange(8) % 4)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        functional.reset_net(model)
    assert len(seen) == 10  # stem, 3 convs per cell, downsample, 2 classifier layers
    for name, weight in seen.items():
        on_grid, fmt = quantize_tensor(weight, bits)
        assert torch.equal(on_grid, weight), name
        assert len(torch.unique(weight)) <= 2**bits
        codes = weight.double() * 2**fmt.fraction_bits
        assert torch.equal(codes, codes.round())
    stored = model.stem.conv.parametrizations.weight.original.detach()
    assert not torch.equal(quantize_tensor(stored, bits)[0], stored)  # the float copy is trained


class InterruptAt(TrainObserver):
    def __init__(self, epoch: int, batch: int) -> None:
        self.where = (epoch, batch)

    def batch_done(self, epoch, batch, loss):
        if (epoch, batch) == self.where:
            raise KeyboardInterrupt


@pytest.mark.parametrize("weight_bits", [None, 6])
def test_resume_after_an_interrupted_epoch_reproduces_the_uninterrupted_run(tmp_path, weight_bits):
    config = tiny_config(weight_bits=weight_bits)
    whole = train(config, tmp_path / "whole").metrics
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "cut", observer=InterruptAt(epoch=2, batch=3))
    assert load_checkpoint(tmp_path / "cut")["epoch"] == 1
    resumed = train(config, tmp_path / "cut", resume=True).metrics
    assert without_times(resumed["epochs"]) == without_times(whole["epochs"])
    assert resumed["final"] == whole["final"]
    ours = load_checkpoint(tmp_path / "cut")["model"]
    theirs = load_checkpoint(tmp_path / "whole")["model"]
    assert all(torch.equal(ours[key], theirs[key]) for key in theirs)
    assert not list((tmp_path / "cut").glob("*.tmp"))


def test_metrics_and_checkpoint_contents(tmp_path):
    result = train(tiny_config(epochs=2, ptq_bits=(8, 4)), tmp_path)
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written == json.loads(json.dumps(result.metrics))
    assert [record["epoch"] for record in written["epochs"]] == [1, 2]
    assert [row["bits"] for row in written["final"]["quantized"]] == [8, 4]
    rates = written["final"]["spike_rates"]
    assert "classifier.lif" in rates and all(0.0 <= rate <= 1.0 for rate in rates.values())
    payload = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    assert payload["epoch"] == 2 and payload["arch"] == Architecture.parse(ARCH).to_string()
    assert payload["scheduler"]["last_epoch"] == 2


def test_a_second_train_into_the_same_folder_is_refused(tmp_path):
    train(tiny_config(epochs=1), tmp_path)
    with pytest.raises(UsageError, match="already holds a training run"):
        train(tiny_config(epochs=1), tmp_path)


def test_corrupt_checkpoints_give_a_clear_error(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a readable neuronas checkpoint"):
        load_checkpoint(garbage)
    train(tiny_config(epochs=1), tmp_path / "run")
    real = (tmp_path / "run" / CHECKPOINT_NAME).read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(real[: len(real) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not a neuronas training checkpoint"):
        load_checkpoint(foreign)
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "absent.pt")


def test_a_checkpoint_of_another_architecture_is_refused(tmp_path):
    train(tiny_config(epochs=1), tmp_path)
    with pytest.raises(CheckpointError, match="another architecture"):
        load_checkpoint(tmp_path, expected_arch=OTHER_ARCH)
    with pytest.raises(CheckpointError, match="another architecture"):
        train(tiny_config(arch=OTHER_ARCH), tmp_path, resume=True)
    with pytest.raises(CheckpointError, match=r"lr: 0\.1 != 0\.05"):
        train(tiny_config(epochs=1, lr=0.05), tmp_path, resume=True)
    # weights that do not fit the stored architecture string
    payload = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    payload["arch"] = payload["config"]["arch"] = OTHER_ARCH
    torch.save(payload, tmp_path / "swapped.pt")
    with pytest.raises(CheckpointError, match="do not fit the architecture"):
        evaluate_checkpoint(tmp_path / "swapped.pt")


def test_an_architecture_that_does_not_fit_the_dataset_is_refused(tmp_path):
    wrong = ARCH.replace("classes=4", "classes=10").replace("input=1x8x8", "input=3x8x8")
    with pytest.raises(UsageError, match=r"input 3x8x8 but .* 1x8x8; classes=10 but .* 4 classes"):
        train(tiny_config(arch=wrong), tmp_path)


def test_evaluate_reports_accuracy_and_spike_rates_at_any_precision(tmp_path):
    metrics = train(tiny_config(epochs=2, weight_bits=6, ptq_bits=(6,)), tmp_path).metrics
    default = evaluate_checkpoint(tmp_path)
    assert default.bits == 6
    assert default.accuracy == metrics["final"]["quantized"][0]["test_accuracy"]
    assert default.images == 32
    assert set(default.spike_rates) == {
        name
        for name, module in build_model(tiny_config()).named_modules()
        if isinstance(module, neuron.BaseNode)
    }
    assert len(default.spike_rates) == 9
    assert evaluate_checkpoint(tmp_path, weight_bits=2).accuracy <= 1.0


def invoke(*args):
    manager.reset()
    register_plugin(TinyData(), name="tiny-data")
    return CliRunner().invoke(build_cli(), list(args))


def test_train_and_evaluate_commands_end_to_end(tmp_path):
    out = tmp_path / "out"
    common = ["--dataset", "tiny", "--epochs", "2", "--batch-size", "16", "--out", str(out)]
    result = invoke("train", "--arch", ARCH, *common, "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert len(metrics["epochs"]) == 2 and (out / "metrics.json").is_file()

    result = invoke("evaluate", str(out / CHECKPOINT_NAME), "--json")
    assert result.exit_code == 0, result.output
    evaluated = json.loads(result.output)
    assert evaluated["accuracy"] == metrics["final"]["test_accuracy"]
    assert evaluated["bits"] is None

    result = invoke("evaluate", str(out), "--weight-bits", "8")
    assert result.exit_code == 0, result.output
    assert "FxP8 weights" in result.output and "classifier.lif" in result.output

    result = invoke("train", "--arch", ARCH, *common)
    assert result.exit_code != 0 and "already holds a training run" in result.output

    result = invoke("train", "--resume", "--out", str(out), "--lr", "0.5")
    assert "do not combine it with --lr" in result.output
    result = invoke("train", "--resume", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "final test accuracy" in result.output


def test_train_reads_the_best_architecture_of_a_run_folder(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    result_json = {"best": {"arch": ARCH}, "config": {"dataset": "tiny", "space": "neuronas-3op"}}
    (run_dir / "result.json").write_text(json.dumps(result_json))
    result = invoke("train", str(run_dir), "--epochs", "1", "--batch-size", "32")
    assert result.exit_code == 0, result.output
    assert (run_dir / "train" / "metrics.json").is_file()
    assert load_checkpoint(run_dir / "train")["config"].dataset == "tiny"

    result = invoke("train", str(tmp_path), "--epochs", "1")
    assert "has no result.json" in result.output
    result = invoke("train", "--epochs", "1")
    assert "nothing to train" in result.output


def test_evaluate_command_on_a_corrupt_file_prints_one_line(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 64)
    result = subprocess.run(
        [sys.executable, "-c", "from neuronas.cli import main; main()", "evaluate", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "not a readable neuronas checkpoint" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_training_under_torchrun_with_two_processes(tmp_path):
    """DistributedDataParallel on CPU (gloo): two processes, one metrics.json written by rank 0."""
    arch = ARCH.replace("classes=4", "classes=10")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "--no-python",
        "neuronas",
        "train",
        "--arch",
        arch,
        "--dataset",
        "digits",
        "--epochs",
        "1",
        "--batch-size",
        "64",
        "--out",
        str(tmp_path),
        "--json",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    assert metrics["final"]["test_images"] == 359
    assert get_component("dataset", "digits").num_classes == 10


def test_train_takes_options_from_a_file_and_metrics_json_repeats_it(tmp_path):
    (tmp_path / "train.toml").write_text(
        f'arch = "{ARCH}"\ndataset = "tiny"\nepochs = 1\nbatch_size = 16\nlr = 0.05\n'
        "ptq_bits = [4, 8]\naugment = false\n"
    )
    first = tmp_path / "first"
    result = invoke(
        "train",
        "--config",
        str(tmp_path / "train.toml"),
        "--seed",
        "3",
        "--out",
        str(first),
        "--json",
    )
    assert result.exit_code == 0, result.output
    config = load_checkpoint(first)["config"]
    assert (config.lr, config.ptq_bits, config.augment, config.seed, config.batch_size) == (
        0.05, (4, 8), False, 3, 16,
    )  # fmt: skip
    second = tmp_path / "second"
    result = invoke(
        "train", "--config", str(first / "metrics.json"), "--out", str(second), "--json"
    )
    assert result.exit_code == 0, result.output
    again = json.loads((second / "metrics.json").read_text())
    assert again["config"] == json.loads((first / "metrics.json").read_text())["config"]
    assert again["final"] == json.loads((first / "metrics.json").read_text())["final"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("epoch = 3", "unknown training option(s): epoch"),
        ('lr = "fast"', "lr must be a number, got 'fast'"),
        ("[x", "is not valid TOML"),
    ],
)
def test_a_bad_training_options_file_is_one_line_naming_it(tmp_path, text, message):
    (tmp_path / "train.toml").write_text(text)
    result = invoke(
        "train", "--config", str(tmp_path / "train.toml"), "--arch", ARCH, "--dataset", "tiny"
    )
    assert result.exit_code == 2 and message in result.output and "train.toml" in result.output
    assert "Traceback" not in result.output


class CountingQuantizer:
    """A third-party quantizer: fixed-point arithmetic, counting what training asks of it."""

    name = "counting"
    description = "fixed-point, counted"

    def __init__(self, trains: bool):
        from neuronas.quantization import FixedPointQuantizer

        self.inner, self.calls = FixedPointQuantizer(), []
        if trains:
            self.prepare_qat = self._prepare_qat

    def quantize(self, model, bits, rounding="nearest", seed=0):
        self.calls.append(("quantize", bits))
        return self.inner.quantize(model, bits, rounding, seed)

    def _prepare_qat(self, model, bits, rounding="nearest", seed=0):
        self.calls.append(("prepare_qat", bits))
        return self.inner.prepare_qat(model, bits, rounding, seed)


def register_quantizer(quantizer):
    class Plugin:
        @hookimpl
        def neuronas_register_quantizers(self, register):
            register(quantizer)

    register_plugin(Plugin(), name="counting-quantizer")


def test_qat_and_ptq_go_through_the_configured_quantizer(tmp_path):
    quantizer = CountingQuantizer(trains=True)
    register_quantizer(quantizer)
    config = tiny_config(epochs=1, weight_bits=6, quantizer="counting", ptq_bits=(4,))
    counted = train(config, tmp_path / "counted").metrics
    assert ("prepare_qat", 6) in quantizer.calls and ("quantize", 4) in quantizer.calls
    plain = train(attrs.evolve(config, quantizer="fixed-point"), tmp_path / "plain").metrics
    assert counted["final"] == plain["final"]  # same arithmetic, so the same numbers


def test_a_quantizer_without_prepare_qat_cannot_train_but_can_quantize_after(tmp_path):
    register_quantizer(CountingQuantizer(trains=False))
    with pytest.raises(
        UsageError, match="quantizer 'counting' cannot train: it has no prepare_qat"
    ):
        train(tiny_config(epochs=1, weight_bits=6, quantizer="counting"), tmp_path / "qat")
    metrics = train(
        tiny_config(epochs=1, quantizer="counting", ptq_bits=(4,)), tmp_path / "ptq"
    ).metrics
    assert [q["bits"] for q in metrics["final"]["quantized"]] == [4]
