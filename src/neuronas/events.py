"""Event-camera datasets through tonic: where the recordings lie, reading them, binning them into frames.

N-MNIST, DVS128 Gesture and CIFAR10-DVS are read from the folders that tonic's own downloads unpack,
by tonic's dataset classes (their file formats and labels are the field's reference), and binned by
tonic's transforms: ``Downsample`` to the requested side, then ``ToFrame(n_time_bins=T)``, which cuts
a recording's time span into T equal windows and counts each pixel's ON and OFF events in each.
Frames are event counts as float32, not normalised (the network's stem BatchNorm follows). Nothing
is downloaded unless asked (`EventSource.download`: tonic's downloader, which checks the MD5s).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from neuronas.contracts import DataSplit
from neuronas.data import check_split, default_data_dir, stratified_split
from neuronas.errors import DatasetError

if TYPE_CHECKING:
    pass

#: Polarity channels of every frame: OFF and ON events.
POLARITIES = 2


@attrs.frozen
class EventSource:
    """Where tonic keeps an event dataset and what each split needs.

    tonic puts a dataset in ``<data root>/<tonic_class>/``; ``splits`` maps each split to its folder
    in there, or is empty for a dataset without an official split, which is split ``test_fraction``
    per class (stratified, seed 0). ``layout`` says in words where a split's recordings lie.
    ``sensor_size`` is the camera's side (square for all three).
    """

    name: str
    title: str
    tonic_class: str
    suffix: str
    sensor_size: int
    num_classes: int
    splits: Mapping[str, str]
    layout: str
    homepage: str
    modules: tuple[str, ...] = ("tonic",)
    test_fraction: float = 0.0

    def split_folder(self, folder: Path, split: str) -> Path:
        return folder / self.splits[split] if self.splits else folder

    def _holds(self, folder: Path, split: str) -> bool:
        recordings = self.split_folder(folder, split).rglob(f"*{self.suffix}")
        return next(recordings, None) is not None

    def locate(self, root: Path | None, split: str) -> Path:
        """The dataset's folder (``<root>/<tonic_class>``, or ``root`` when it is that folder), or a
        DatasetError that says which files are expected where."""
        check_split(split)
        root = Path(root) if root is not None else default_data_dir()
        folders = [root / self.tonic_class]
        if root.name == self.tonic_class:
            folders.append(root)
        for folder in folders:
            if self._holds(folder, split):
                return folder
        data_root = root.parent if root.name == self.tonic_class else root
        expected = self.split_folder(data_root / self.tonic_class, split)
        problem = (
            f"no {self.suffix} recordings in {expected}"
            if (data_root / self.tonic_class).is_dir()
            else f"no {self.tonic_class} folder in {data_root}"
        )
        raise DatasetError(
            f"{self.name}: {problem}; the {split} split needs {self.title}'s recordings laid out "
            f"as {self.layout} in {data_root / self.tonic_class}. "
            f"{self.how_to_obtain(data_root)}"
        )

    def is_complete(self, root: Path) -> bool:
        try:
            for split in ("train", "test"):
                self.locate(root, split)
        except DatasetError:
            return False
        return True

    def how_to_obtain(self, root: Path) -> str:
        return (
            f"To obtain {self.title}: run `neuronas data download {self.name} --data-dir {root}` "
            f"(tonic's download, MD5-checked; needs {' and '.join(self.modules)}), or download it "
            f"from {self.homepage} yourself and lay it out as above."
        )

    def corrupt(self, path: str | Path, reason: str) -> DatasetError:
        return DatasetError(
            f"{self.name}: {path} is not a readable {self.title} recording: {reason}"
        )

    def tonic_dataset(self, folder: Path, split: str, download: bool = False) -> Any:
        """tonic's dataset object for ``split`` of the dataset in ``folder``. Without ``download`` it
        reads what is there and never fetches: tonic's own presence check wants the archive and the
        full file count, which `locate` replaces."""
        tonic = require(self.modules[0], self)
        cls = getattr(tonic.datasets, self.tonic_class)
        if not download:
            cls = type(cls.__name__, (cls,), {"_check_exists": lambda _self: True})
        options = {"train": split == "train"} if self.splits else {}
        try:
            return cls(save_to=str(folder.parent), **options)
        except (ValueError, KeyError, IndexError, OSError) as error:
            raise DatasetError(
                f"{self.name}: {self.split_folder(folder, split)} is not laid out as tonic reads it "
                f"({self.layout}): {type(error).__name__}: {error}"
            ) from None

    def download(self, root: Path | None = None) -> Path:
        """Fetch the dataset with tonic's downloader unless both splits are present; its folder."""
        root = Path(root) if root is not None else default_data_dir()
        if not self.is_complete(root):
            for module in self.modules:
                require(module, self)
            root.mkdir(parents=True, exist_ok=True)
            for split in tuple(self.splits) or ("train",):  # without splits one call fetches all
                try:
                    self.tonic_dataset(root / self.tonic_class, split, download=True)
                except DatasetError:
                    raise
                except Exception as error:
                    raise DatasetError(
                        f"{self.name}: tonic could not download {self.title} into {root}: "
                        f"{type(error).__name__}: {error}"
                    ) from None
        return self.locate(root, "test")


def require(module: str, source: EventSource) -> Any:
    """``module`` imported, or a DatasetError saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DatasetError(
            f"{source.name}: reading {source.title} needs the {module} package; install the event "
            f"extras with `pip install 'neuronas[events]'` (or `pip install {module}`)"
        ) from None


def binning(source: EventSource, timesteps: int, size: int) -> Any:
    """tonic's transform from a recording to ``timesteps`` frames [T, 2, size, size] of counts."""
    from tonic import transforms

    frames = transforms.ToFrame(sensor_size=(size, size, POLARITIES), n_time_bins=timesteps)
    if size == source.sensor_size:
        return frames
    sensor = (source.sensor_size, source.sensor_size, POLARITIES)
    return transforms.Compose(
        [transforms.Downsample(sensor_size=sensor, target_size=(size, size)), frames]
    )


def read_events(
    source: EventSource, root: Path | None, split: str, timesteps: int, size: int
) -> DataSplit:
    """``split`` as frames [N, timesteps, 2, size, size] (float32 event counts) and labels [N]."""
    import torch

    folder = source.locate(root, split)
    for module in source.modules:
        require(module, source)
    recordings = source.tonic_dataset(folder, split)
    order = sorted(range(len(recordings.data)), key=lambda index: str(recordings.data[index]))
    labels = np.asarray([recordings.targets[index] for index in order], dtype=np.int64)
    if not source.splits:
        train, test = stratified_split(labels, source.test_fraction, 0)
        chosen = train if split == "train" else test
        order, labels = [order[i] for i in chosen], labels[chosen]
    transform = binning(source, timesteps, size)
    frames = np.empty((len(order), timesteps, POLARITIES, size, size), dtype=np.float32)
    for position, index in enumerate(order):
        path = recordings.data[index]
        try:
            events, _label = recordings[index]
        except Exception as error:
            raise source.corrupt(path, f"{type(error).__name__}: {error}") from None
        if len(events) == 0:
            raise source.corrupt(path, "it holds no events")
        outside = _outside_the_sensor(events, source.sensor_size)
        if outside:
            raise source.corrupt(path, outside)
        frames[position] = transform(events)
    return DataSplit(torch.from_numpy(frames), torch.from_numpy(labels), source.num_classes)


def _outside_the_sensor(events: np.ndarray, sensor_size: int) -> str | None:
    """Why ``events`` cannot be a recording of a ``sensor_size`` square sensor (an event off it, or
    of a third polarity), or None; the binning would drop such events without a word."""
    for axis in ("x", "y"):
        values = events[axis]
        if values.min() < 0 or values.max() >= sensor_size:
            return (
                f"an event has {axis}={int(values.max())}, off the {sensor_size}x{sensor_size} "
                "sensor (the file is not a recording of this dataset)"
            )
    polarity = events["p"]
    if polarity.min() < 0 or polarity.max() >= POLARITIES:
        return f"an event has polarity {int(polarity.max())}; expected 0 or 1"
    return None


NMNIST = EventSource(
    name="nmnist",
    title="N-MNIST",
    tonic_class="NMNIST",
    suffix=".bin",
    sensor_size=34,
    num_classes=10,
    splits={"train": "Train", "test": "Test"},
    layout="Train/<digit>/<n>.bin and Test/<digit>/<n>.bin (40-bit ATIS events)",
    homepage="https://www.garrickorchard.com/datasets/n-mnist",
)
DVSGESTURE = EventSource(
    name="dvsgesture",
    title="DVS128 Gesture",
    tonic_class="DVSGesture",
    suffix=".npy",
    sensor_size=128,
    num_classes=11,
    splits={"train": "ibmGestureTrain", "test": "ibmGestureTest"},
    layout=(
        "ibmGestureTrain/user<NN>_<lighting>/<label>.npy and the same under ibmGestureTest "
        "(tonic's x, y, p, t[ms] arrays)"
    ),
    homepage="https://research.ibm.com/interactive/dvsgesture/",
)
CIFAR10DVS = EventSource(
    name="cifar10dvs",
    title="CIFAR10-DVS",
    tonic_class="CIFAR10DVS",
    suffix=".aedat4",
    sensor_size=128,
    num_classes=10,
    splits={},
    layout="<class>/<n>.aedat4 for the 10 classes airplane ... truck (AEDAT 4 files)",
    homepage="https://figshare.com/articles/dataset/CIFAR10-DVS_New/4724671",
    modules=("tonic", "aedat"),
    test_fraction=0.1,
)
