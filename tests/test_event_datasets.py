"""Event-camera datasets (N-MNIST, DVS128 Gesture, CIFAR10-DVS) on small files fabricated in the
formats tonic reads; frames through the network, the fitness and exact reuse; run, study, train,
cost and data check on the command line."""

from __future__ import annotations

import json
import struct
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import neuronas.plugin
from neuronas import data, events
from neuronas.arch import Architecture, Cell, Macro
from neuronas.cli import build_cli
from neuronas.contracts import Dataset, ScoringSettings, input_shape_of
from neuronas.errors import DatasetError, UsageError
from neuronas.plugin import hookimpl
from neuronas.reuse import ReuseScorer
from neuronas.search.evaluator import CandidateScorer
from neuronas.snn import CellSearchSpace

EVENT_DATASETS = {
    "nmnist": (34, 32, 10),
    "dvsgesture": (128, 128, 11),
    "cifar10dvs": (128, 128, 10),
}
CIFAR10DVS_CLASSES = ("airplane", "automobile", "bird")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No test may touch the network or the user's data folder."""

    def no_network(*args, **kwargs):
        raise AssertionError("a test tried to download")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setenv(data.DATA_DIR_VARIABLE, str(tmp_path / "default-data-dir"))


class TinySpace:
    @hookimpl
    def neuronas_register_search_spaces(self, register):
        register(
            CellSearchSpace("tiny-events", "3-node skip/conv3x3", ("skip", "conv3x3"), nodes=3)
        )


@pytest.fixture(autouse=True)
def tiny_space(fresh_plugins):
    neuronas.register_plugin(TinySpace(), name="tiny-events-space")


def dataset(name: str) -> Dataset:
    return neuronas.plugin.get_component("dataset", name)


# --- fabricators of the formats tonic reads --------------------------------------------------------


def nmnist_bin(x, y, p, t) -> bytes:
    """N-MNIST's 40-bit events: x, y, then polarity (bit 7) and a 23-bit microsecond timestamp."""
    t = np.asarray(t)
    raw = np.zeros((len(t), 5), np.uint8)
    raw[:, 0], raw[:, 1] = x, y
    raw[:, 2] = (np.asarray(p) << 7) | ((t >> 16) & 0x7F)
    raw[:, 3], raw[:, 4] = (t >> 8) & 0xFF, t & 0xFF
    return raw.tobytes()


def random_events(rng, count: int, side: int, duration: int):
    """x, y, p, t of ``count`` events sorted by time."""
    return (
        rng.integers(0, side, count),
        rng.integers(0, side, count),
        rng.integers(0, 2, count),
        np.sort(rng.integers(0, duration, count)),
    )


def make_nmnist(root: Path, per_class: int = 2, digits=range(10)) -> Path:
    rng = np.random.default_rng(0)
    for split, count in (("Train", per_class), ("Test", 1)):
        for digit in digits:
            for index in range(count):
                path = root / "NMNIST" / split / str(digit) / f"{index:05d}.bin"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(nmnist_bin(*random_events(rng, 60, 34, 300_000)))
    return root / "NMNIST"


def make_dvsgesture(root: Path) -> Path:
    """tonic's DVS Gesture: per user and lighting a folder of <label>.npy arrays [n, (x, y, p, t ms)]."""
    rng = np.random.default_rng(1)
    layout = {
        "ibmGestureTrain": ["user01_fluorescent", "user02_led"],
        "ibmGestureTest": ["user24_lab"],
    }
    for split, users in layout.items():
        for user in users:
            for label in (0, 4, 10):
                x, y, p, t = random_events(rng, 80, 128, 6000)
                path = root / "DVSGesture" / split / user / f"{label}.npy"
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, np.stack([x, y, p, t], axis=1).astype(np.int64))
    return root / "DVSGesture"


def _padded(raw: bytes, multiple: int) -> bytes:
    return raw + b"\0" * (-len(raw) % multiple)


def aedat4(t, x, y, on) -> bytes:
    """An AEDAT 4 file as DV writes it, uncompressed: the magic line, a flatbuffer IOHeader whose
    XML describes one 128x128 event stream, then one packet: stream id, size, and a size-prefixed
    EventPacket flatbuffer ("EVTS") of 16-byte events (t int64, x int16, y int16, on bool)."""
    description = (
        b'<dv version="2.0"><node name="outInfo" path="/mainloop/Recorder/outInfo/">'
        b'<node name="0" path="/mainloop/Recorder/outInfo/0/">'
        b'<attr key="compression" type="string">NONE</attr>'
        b'<attr key="typeIdentifier" type="string">EVTS</attr>'
        b'<node name="info" path="/mainloop/Recorder/outInfo/0/info/">'
        b'<attr key="sizeX" type="int">128</attr><attr key="sizeY" type="int">128</attr>'
        b"</node></node></node></dv>"
    )
    # IOHeader: root offset, vtable (3 fields; only infoNode set), table, string
    header = _padded(struct.pack("<I5H", 16, 10, 8, 0, 0, 4), 8) + struct.pack("<iI", 12, 4)
    header += _padded(struct.pack("<I", len(description)) + description + b"\0", 4)
    elements = np.zeros(
        len(t), dtype=[("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("on", "u1"), ("pad", "V3")]
    )
    elements["t"], elements["x"], elements["y"], elements["on"] = t, x, y, on
    packet = struct.pack("<I", 16) + b"EVTS" + struct.pack("<3H", 6, 8, 4) + b"\0\0"
    packet += struct.pack("<iII", 8, 4, len(t)) + elements.tobytes()
    packet = struct.pack("<I", len(packet)) + packet
    return (
        b"#!AER-DAT4.0\r\n"
        + struct.pack("<I", len(header))
        + header
        + struct.pack("<iI", 0, len(packet))
        + packet
    )


def make_cifar10dvs(root: Path, per_class: int = 10) -> Path:
    rng = np.random.default_rng(2)
    for name in CIFAR10DVS_CLASSES:
        for index in range(per_class):
            x, y, p, t = random_events(rng, 50, 128, 1_000_000)
            path = root / "CIFAR10DVS" / name / f"cifar10_{name}_{index}.aedat4"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(aedat4(t, x, y, p))
    return root / "CIFAR10DVS"


# --- registration and reading ----------------------------------------------------------------------


def test_event_datasets_are_registered_as_time_resolved_with_their_frames():
    for name, (sensor, side, classes) in EVENT_DATASETS.items():
        component = dataset(name)
        assert isinstance(component, Dataset) and component.time_resolved
        assert component.input_shape == (2, side, side)
        assert (component.sensor_size, component.num_classes) == (sensor, classes)
        assert input_shape_of(component, 16) == (2, 16, 16)


def test_nmnist_events_are_counted_per_pixel_polarity_and_time_bin(tmp_path):
    path = tmp_path / "NMNIST" / "Train" / "7" / "00001.bin"
    path.parent.mkdir(parents=True)
    # two events in the first half of the recording, two in the second; the last marks its end
    path.write_bytes(
        nmnist_bin([3, 3, 30, 12, 0], [5, 5, 2, 33, 0], [1, 1, 0, 1, 0], [0, 10, 60, 70, 100])
    )
    (tmp_path / "NMNIST" / "Test" / "7").mkdir(parents=True)
    (tmp_path / "NMNIST" / "Test" / "7" / "00002.bin").write_bytes(path.read_bytes())
    split = dataset("nmnist").load(tmp_path, "train", timesteps=2, size=34)
    assert split.images.shape == (1, 2, 2, 34, 34) and split.images.dtype == torch.float32
    assert split.labels.tolist() == [7] and split.num_classes == 10
    assert split.timesteps == 2 and split.sample_shape == (2, 34, 34)
    frames = split.images[0]
    assert frames[0, 1, 5, 3] == 2  # frame 0, ON channel, y=5, x=3: both early events
    assert frames[1, 0, 2, 30] == 1 and frames[1, 1, 33, 12] == 1
    assert frames[0].sum() == 2


@pytest.mark.parametrize(
    ("name", "make"),
    [("nmnist", make_nmnist), ("dvsgesture", make_dvsgesture), ("cifar10dvs", make_cifar10dvs)],
)
def test_each_event_dataset_passes_the_conformance_kit_on_its_files(name, make, tmp_path):
    import neuronas.testing

    make(tmp_path)
    report = neuronas.testing.check_dataset(dataset(name), root=tmp_path)
    assert set(report.rules) == set(neuronas.testing.RULES["dataset"])


def test_event_frames_are_down_sampled_to_the_asked_side(tmp_path):
    make_nmnist(tmp_path)
    full = dataset("nmnist").load(tmp_path, "test", timesteps=3, size=34)
    small = dataset("nmnist").load(tmp_path, "test", timesteps=3, size=16)
    assert small.images.shape == (10, 3, 2, 16, 16)
    assert torch.equal(small.images.sum(dim=(-2, -1)), full.images.sum(dim=(-2, -1)))
    assert dataset("nmnist").load(tmp_path, "test").images.shape == (10, 5, 2, 32, 32)


def test_dvsgesture_reads_tonics_npy_layout_with_labels_from_file_names(tmp_path):
    make_dvsgesture(tmp_path)
    train = dataset("dvsgesture").load(tmp_path, "train", timesteps=4, size=32)
    assert train.images.shape == (6, 4, 2, 32, 32)
    assert sorted(train.labels.tolist()) == [0, 0, 4, 4, 10, 10]
    assert train.num_classes == 11
    test = dataset("dvsgesture").load(tmp_path / "DVSGesture", "test", timesteps=2, size=128)
    assert test.images.shape == (3, 2, 2, 128, 128) and test.images.sum() > 0


def test_cifar10dvs_reads_aedat4_and_splits_each_class_nine_to_one(tmp_path):
    make_cifar10dvs(tmp_path)
    train = dataset("cifar10dvs").load(tmp_path, "train", timesteps=2, size=16)
    test = dataset("cifar10dvs").load(tmp_path, "test", timesteps=2, size=16)
    assert train.images.shape == (27, 2, 2, 16, 16) and test.images.shape == (3, 2, 2, 16, 16)
    assert sorted(test.labels.tolist()) == [0, 1, 2]
    assert torch.equal(dataset("cifar10dvs").load(tmp_path, "test", 2, 16).images, test.images)
    assert not any(torch.equal(frame, other) for frame in test.images for other in train.images)


def test_a_missing_event_dataset_says_which_files_go_where(tmp_path):
    with pytest.raises(DatasetError) as caught:
        dataset("dvsgesture").load(tmp_path, "train")
    message = str(caught.value)
    assert f"no DVSGesture folder in {tmp_path}" in message
    assert "ibmGestureTrain/user<NN>_<lighting>/<label>.npy" in message
    assert f"neuronas data download dvsgesture --data-dir {tmp_path}" in message
    (tmp_path / "NMNIST" / "Train").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"no \.bin recordings in \S*NMNIST/Train"):
        dataset("nmnist").load(tmp_path, "train")


def test_data_check_explains_a_missing_event_dataset_and_reports_frames(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(
        build_cli(), ["data", "check", "cifar10dvs", "--data-dir", str(tmp_path)]
    )
    assert missing.exit_code == 2
    assert "<class>/<n>.aedat4" in missing.output and "aedat" in missing.output
    make_nmnist(tmp_path)
    args = ["data", "check", "nmnist", "--data-dir", str(tmp_path), "--timesteps", "3", "--json"]
    result = runner.invoke(build_cli(), [*args, "--event-size", "16"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [(s["split"], s["images"], s["shape"]) for s in report["splits"]] == [
        ("train", 20, [3, 2, 16, 16]),
        ("test", 10, [3, 2, 16, 16]),
    ]
    too_big = runner.invoke(build_cli(), [*args, "--event-size", "40"])
    assert too_big.exit_code == 2 and "from 1 to 34" in too_big.output


def test_a_damaged_recording_is_named(tmp_path):
    make_nmnist(tmp_path)
    damaged = tmp_path / "NMNIST" / "Test" / "3" / "00000.bin"
    damaged.write_bytes(b"\x01\x02\x03\x04\x05\x06\x07")  # not a whole number of 5-byte events
    with pytest.raises(DatasetError, match=f"{damaged} is not a readable N-MNIST recording"):
        dataset("nmnist").load(tmp_path, "test")
    damaged.write_bytes(b"")
    with pytest.raises(DatasetError, match="holds no events"):
        dataset("nmnist").load(tmp_path, "test")


@pytest.mark.parametrize(
    ("x", "y", "p", "reason"),
    [
        ([3, 200], [5, 5], [1, 0], "an event has x=200, off the 34x34 sensor"),
        ([3, 3], [5, 34], [1, 0], "an event has y=34, off the 34x34 sensor"),
    ],
)
def test_a_recording_with_events_off_the_sensor_is_named_not_binned(tmp_path, x, y, p, reason):
    make_nmnist(tmp_path)
    damaged = tmp_path / "NMNIST" / "Test" / "3" / "00000.bin"
    damaged.write_bytes(nmnist_bin(x, y, p, [0, 10]))  # e.g. random bytes: the binning drops them
    with pytest.raises(
        DatasetError, match=f"{damaged} is not a readable N-MNIST recording: {reason}"
    ):
        dataset("nmnist").load(tmp_path, "test")


def test_a_missing_reader_package_says_how_to_install_it(tmp_path, monkeypatch):
    make_cifar10dvs(tmp_path, per_class=1)
    real_import = events.importlib.import_module

    def without_aedat(name, *args):
        if name == "aedat":
            raise ImportError("no aedat here")
        return real_import(name, *args)

    monkeypatch.setattr(events.importlib, "import_module", without_aedat)
    with pytest.raises(DatasetError, match=r"needs the aedat package.*neuronas\[events\]"):
        dataset("cifar10dvs").load(tmp_path, "train")


def test_download_uses_tonics_downloader_and_then_reads_what_it_unpacked(tmp_path, monkeypatch):
    import tonic

    fetched = []

    def fake_download(self):  # what tonic's download leaves: the archive and its unpacked folder
        fetched.append(self.folder_name)
        Path(self.location_on_system).mkdir(parents=True, exist_ok=True)
        (Path(self.location_on_system) / self.filename).write_bytes(b"archive")
        make_nmnist(Path(self.location_on_system).parent, per_class=1, digits=[4])

    monkeypatch.setattr(tonic.datasets.NMNIST, "download", fake_download)
    result = CliRunner().invoke(
        build_cli(), ["data", "download", "nmnist", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert fetched == ["Train", "Test"] and "ready in" in result.output
    assert dataset("nmnist").load(tmp_path, "train").labels.tolist() == [4]
    dataset("nmnist").download(tmp_path)
    assert len(fetched) == 2  # present: nothing fetched again


# --- frames through the network, the fitness and reuse ---------------------------------------------


def frames_macro(**changes) -> Macro:
    values = dict(width=2, timesteps=3, in_channels=2, input_size=8, num_classes=3, hidden=8)
    return Macro(**{**values, "population": 2, **changes})


def test_the_network_runs_frame_t_at_timestep_t():
    space = neuronas.plugin.get_component("space", "tiny-events")
    cell = Cell(("skip", "skip", "skip"))
    net = space.build(Architecture(cell, cell, frames_macro()), seed=0)
    seen = []
    net.cell_a.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    frames = torch.rand(4, 3, 2, 8, 8)
    assert net(frames).shape == (4, 3)
    stem_of = [net.stem.conv(frames[:, t]) for t in range(3)]
    for t in range(3):  # per-step BatchNorm: each frame normalised with its own statistics
        expected = torch.nn.functional.batch_norm(stem_of[t], None, None, training=True)
        assert torch.allclose(seen[0][t], expected, atol=1e-5)
    with pytest.raises(
        UsageError, match=r"expected \[N, 2, 8, 8\] \(images\) or \[N, 3, 2, 8, 8\]"
    ):
        net(torch.rand(4, 2, 2, 8, 8))


@pytest.mark.parametrize("carry_state", [True, False])
def test_reuse_scores_frames_as_scoring_from_scratch_does(carry_state):
    generator = torch.Generator().manual_seed(0)
    batches = tuple(torch.rand(6, 3, 2, 8, 8, generator=generator).round() for _ in range(2))
    settings = ScoringSettings(
        space="tiny-events",
        fitness="hamming-logdet",
        quantizer="fixed-point",
        weight_bits=8,
        rounding="nearest",
        seed=1,
        init="shared",
        carry_state=carry_state,
        batches=batches,
    )
    cells = list(neuronas.plugin.get_component("space", "tiny-events").enumerate())[:5]
    keys = [Architecture(cells[0], cell, frames_macro()).to_string() for cell in cells]
    scratch = [CandidateScorer(settings)(key)[0] for key in keys]
    reuse = ReuseScorer(settings)
    reused = [score for group in reuse.groups(keys) for score, _ in reuse.score_group(group)]
    assert reused == pytest.approx(scratch, rel=1e-9)


def test_augmentation_crops_and_flips_every_frame_of_a_sample_alike():
    frames = torch.arange(2 * 3 * 2 * 6 * 6, dtype=torch.float32).view(2, 3, 2, 6, 6)
    out = data.apply_augmentation(
        frames, data.Augmentation(padding=2, flip=True), torch.Generator().manual_seed(4)
    )
    for sample in range(2):
        shifts = {
            tuple(torch.nonzero(out[sample, t, c] == frames[sample, t, c, 3, 3]).flatten().tolist())
            for t in range(3)
            for c in range(2)
        }
        assert len(shifts) == 1  # the same window and flip for all 6 planes


# --- run, study, train and cost on the command line ------------------------------------------------


def cli(*args: str):
    result = CliRunner().invoke(build_cli(), list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_an_event_dataset_in_run_study_train_and_cost(tmp_path):
    make_nmnist(tmp_path / "data")
    data_dir = str(tmp_path / "data")
    run = tmp_path / "run"
    cli(
        "run", "--dataset", "nmnist", "--data-dir", data_dir, "--event-size", "16",
        "--space", "tiny-events", "--width", "2", "--hidden", "8", "--timesteps", "2",
        "--population", "2", "--fitness-batch", "8", "--out", str(run), "--quiet", "--json",
    )  # fmt: skip
    result = json.loads((run / "result.json").read_text())
    assert result["config"]["event_size"] == 16 and result["feasible"]
    best = Architecture.parse(result["best"]["arch"])
    assert (best.macro.in_channels, best.macro.input_size, best.macro.timesteps) == (2, 16, 2)

    trained = json.loads(
        cli(
            "train",
            str(run),
            "--epochs",
            "1",
            "--batch-size",
            "16",
            "--out",
            str(tmp_path / "t"),
            "--json",
        )
    )
    assert trained["final"]["test_images"] == 10
    assert 0.0 <= trained["final"]["test_accuracy"] <= 1.0

    study_args = [
        "study", str(run), "--archs", "3", "--epochs", "1", "--seeds", "1", "--metrics",
        "params,hamming-logdet", "--no-picks", "--fitness-batch", "8", "--batch-size", "32",
        "--out", str(tmp_path / "study"), "--json",
    ]  # fmt: skip
    study = json.loads(cli(*study_args))
    assert study["config"]["event_size"] == 16 and study["trained_architectures"] == 3

    cell = best.cell_a.to_string()
    costs = {
        name: json.loads(
            cli("cost", "--dataset", "nmnist", "--space", "tiny-events", *args, "--json")
        )
        for name, args in {
            "event size 16": ("--event-size", "16", cell),
            "input 2x16x16": (f"a={cell};b={cell};input=2x16x16",),
            "default 32": (cell,),
        }.items()
    }
    assert costs["event size 16"] == costs["input 2x16x16"]
    assert costs["default 32"]["energy_uj"] > costs["event size 16"]["energy_uj"]
    refused = CliRunner().invoke(
        build_cli(), ["cost", "--dataset", "digits", "--event-size", "4", "|skip~0|"]
    )
    assert refused.exit_code == 2 and "applies to event-camera datasets" in refused.output
