"""Every dataset loader on small fabricated files in the real formats; errors; batches; augmentation."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import pickle
import struct
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import neuronas.plugin
from neuronas import data
from neuronas.builtins import datasets as builtin_datasets
from neuronas.builtins.datasets import SyntheticDataset
from neuronas.cli import build_cli
from neuronas.contracts import Dataset, DataSplit
from neuronas.errors import DatasetError, UnknownComponentError, UsageError


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No test may touch the network or the user's data folder."""

    def no_network(*args, **kwargs):
        raise AssertionError("a test tried to download")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setenv(data.DATA_DIR_VARIABLE, str(tmp_path / "default-data-dir"))


def dataset(name: str) -> Dataset:
    return neuronas.plugin.get_component("dataset", name)


# --- fabricators of the real formats ---------------------------------------------------------------


def cifar_pixels(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 3072), dtype=np.uint8)


def write_pickle(path: Path, content: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(content, protocol=2))


def python2_batch(pixels: np.ndarray, labels: list[int]) -> bytes:
    """A batch as Python 2's cPickle (protocol 2) wrote the real CIFAR files: byte strings (opcode
    T), and numpy arrays referring to numpy.core.multiarray. J is an int, R a call, b setstate."""

    def string(value: bytes) -> bytes:
        return b"T" + struct.pack("<i", len(value)) + value

    def ints(*values: int) -> bytes:
        return b"".join(b"J" + struct.pack("<i", value) for value in values)

    rows, columns = pixels.shape
    dtype_u1 = b"cnumpy\ndtype\n" + string(b"u1") + ints(0, 1) + b"\x87R("  # dtype("u1", 0, 1)
    dtype_u1 += ints(3) + string(b"|") + b"NNN" + ints(-1, -1, 0) + b"tb"  # its setstate
    array = b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + ints(0) + b"\x85"
    array += string(b"b") + b"\x87R("  # _reconstruct(ndarray, (0,), "b")
    array += ints(1, rows, columns) + b"\x86" + dtype_u1 + b"\x89"  # setstate: version, shape, ...
    array += string(pixels.tobytes()) + b"tb"  # ... the raw bytes
    batch = b"\x80\x02}(" + string(b"batch_label") + string(b"testing batch 1 of 1")
    batch += string(b"data") + array + string(b"labels") + b"](" + ints(*labels) + b"eu."
    return batch


def make_cifar10(root: Path, per_batch: int = 3) -> Path:
    folder = root / "cifar-10-batches-py"
    for index in range(1, 6):
        write_pickle(
            folder / f"data_batch_{index}",
            {
                b"batch_label": b"training batch",
                b"labels": [(index + i) % 10 for i in range(per_batch)],
                b"data": cifar_pixels(per_batch, index),
                b"filenames": [b"x.png"] * per_batch,
            },
        )
    write_pickle(folder / "test_batch", {b"labels": [9, 0], b"data": cifar_pixels(2, 99)})
    write_pickle(folder / "batches.meta", {b"label_names": [b"airplane"] * 10})
    return folder


def make_cifar100(root: Path) -> Path:
    folder = root / "cifar-100-python"
    write_pickle(
        folder / "train",
        {
            b"fine_labels": [0, 99, 42, 7],
            b"coarse_labels": [0, 1, 2, 3],
            b"data": cifar_pixels(4, 1),
        },
    )
    write_pickle(folder / "test", {b"fine_labels": [5], b"data": cifar_pixels(1, 2)})
    write_pickle(folder / "meta", {b"fine_label_names": [b"apple"] * 100})
    return folder


def write_jpeg(path: Path, colour: tuple[int, int, int], size: int = 64, mode: str = "RGB") -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), colour).convert(mode).save(path, "JPEG", quality=95)


def make_tinyimagenet(root: Path) -> Path:
    folder = root / "tiny-imagenet-200"
    wnids = ["n01443537", "n01629819", "n01641577"]
    folder.mkdir(parents=True)
    (folder / "wnids.txt").write_text("\n".join(wnids) + "\n")
    colours = [(250, 10, 10), (10, 250, 10), (10, 10, 250)]
    for wnid, colour in zip(wnids, colours, strict=True):
        for i in range(2):
            write_jpeg(folder / "train" / wnid / "images" / f"{wnid}_{i}.JPEG", colour)
        (folder / "train" / wnid / f"{wnid}_boxes.txt").write_text("")
    write_jpeg(folder / "val" / "images" / "val_0.JPEG", colours[2])
    write_jpeg(folder / "val" / "images" / "val_1.JPEG", colours[0], mode="L")
    (folder / "val" / "val_annotations.txt").write_text(
        f"val_0.JPEG\t{wnids[2]}\t0\t32\t44\t62\nval_1.JPEG\t{wnids[0]}\t52\t37\t63\t63\n"
    )
    return folder


def idx_bytes(array: np.ndarray) -> bytes:
    header = b"\x00\x00\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def make_mnist(folder: Path, compressed: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    content = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (5, 28, 28)),
        "train-labels-idx1-ubyte": np.array([0, 1, 2, 3, 9]),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (2, 28, 28)),
        "t10k-labels-idx1-ubyte": np.array([7, 8]),
    }
    for name, array in content.items():
        raw = idx_bytes(array)
        if compressed:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return folder


# --- registration ----------------------------------------------------------------------------------


def test_every_builtin_dataset_is_registered_with_its_shape():
    expected = {
        "cifar10": ((3, 32, 32), 10),
        "cifar100": ((3, 32, 32), 100),
        "tinyimagenet": ((3, 64, 64), 200),
        "mnist": ((1, 28, 28), 10),
        "digits": ((1, 8, 8), 10),
        "synthetic": ((3, 32, 32), 10),
    }
    for name, (shape, classes) in expected.items():
        component = dataset(name)
        assert isinstance(component, Dataset)
        assert (component.input_shape, component.num_classes) == (shape, classes)
    assert set(expected) <= set(neuronas.plugin.component_names("dataset"))


# --- CIFAR -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("give_folder", [False, True], ids=["root", "folder"])
def test_cifar10_reads_pickled_batches_from_root_or_folder(tmp_path, give_folder):
    folder = make_cifar10(tmp_path)
    train = dataset("cifar10").load(folder if give_folder else tmp_path, "train")
    assert train.images.shape == (15, 3, 32, 32)
    assert train.images.dtype == torch.float32
    assert train.labels.dtype == torch.int64
    assert train.num_classes == 10
    assert train.labels[:3].tolist() == [1, 2, 3]
    assert train.labels[-3:].tolist() == [5, 6, 7]
    test = dataset("cifar10").load(tmp_path, "test")
    assert test.labels.tolist() == [9, 0]


def test_cifar10_pixels_are_channel_planes_normalised_with_the_documented_statistics(tmp_path):
    folder = make_cifar10(tmp_path)
    raw = cifar_pixels(2, 99)
    test = dataset("cifar10").load(folder, "test")
    stats = data.NORMALISATION["cifar10"]
    # row layout: 1024 red values, then green, then blue, each row-major 32x32
    for channel in range(3):
        for y, x in [(0, 0), (0, 31), (17, 5), (31, 31)]:
            value = raw[1, channel * 1024 + y * 32 + x] / 255.0
            expected = (value - stats.mean[channel]) / stats.std[channel]
            assert test.images[1, channel, y, x].item() == pytest.approx(expected, abs=1e-5)


def test_cifar100_uses_fine_labels(tmp_path):
    make_cifar100(tmp_path)
    train = dataset("cifar100").load(tmp_path, "train")
    assert train.images.shape == (4, 3, 32, 32)
    assert train.labels.tolist() == [0, 99, 42, 7]
    assert train.num_classes == 100
    assert dataset("cifar100").load(tmp_path / "cifar-100-python", "test").labels.tolist() == [5]


def test_cifar_reads_a_batch_pickled_by_python2_like_the_real_files(tmp_path):
    pixels = cifar_pixels(3, 7)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(python2_batch(pixels, [4, 0, 9]))
    test = dataset("cifar10").load(tmp_path, "test")
    assert test.labels.tolist() == [4, 0, 9]
    stats = data.NORMALISATION["cifar10"]
    expected = (pixels[2, 1024 + 33] / 255.0 - stats.mean[1]) / stats.std[1]
    assert test.images[2, 1, 1, 1].item() == pytest.approx(expected, abs=1e-5)


def test_cifar_accepts_batches_pickled_with_str_keys(tmp_path):
    folder = tmp_path / "cifar-100-python"
    write_pickle(folder / "test", {"fine_labels": [3], "data": cifar_pixels(1, 0)})
    assert dataset("cifar100").load(tmp_path, "test").labels.tolist() == [3]


def test_missing_cifar_names_the_folder_the_files_and_the_download(tmp_path):
    with pytest.raises(DatasetError) as caught:
        dataset("cifar10").load(tmp_path, "train")
    message = str(caught.value)
    assert str(tmp_path / "cifar-10-batches-py") in message
    assert "data_batch_1" in message and "data_batch_5" in message
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in message
    assert "neuronas data download cifar10" in message


def test_partial_cifar_folder_names_the_missing_batch(tmp_path):
    folder = make_cifar10(tmp_path)
    (folder / "data_batch_4").unlink()
    with pytest.raises(DatasetError, match=r"lacks data_batch_4;"):
        dataset("cifar10").load(tmp_path, "train")
    assert len(dataset("cifar10").load(tmp_path, "test").labels) == 2


def test_partial_dataset_folder_given_itself_is_blamed_and_its_parent_is_the_data_root(tmp_path):
    folder = make_cifar10(tmp_path)
    (folder / "test_batch").unlink()
    with pytest.raises(DatasetError) as caught:
        dataset("cifar10").load(folder, "test")
    message = str(caught.value)
    assert f"{folder} lacks test_batch;" in message
    assert f"--data-dir {tmp_path}`" in message


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"this is not a pickle", "not a readable pickle"),
        (b"\x80\x04\x95" + b"\xff" * 8, "not a readable pickle (OverflowError"),
        (b"\x80\x02X\x02\x00\x00\x00\xff\xfe.", "not a readable pickle (UnicodeDecodeError"),
        (pickle.dumps([1, 2, 3]), "expected a pickled dict"),
        (pickle.dumps({b"data": cifar_pixels(2, 0)}), "no b'labels' entry"),
        (pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}), "3072"),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}), "uint8"),
        (pickle.dumps({b"data": cifar_pixels(2, 0), b"labels": [0]}), "2 images"),
        (pickle.dumps({b"data": cifar_pixels(2, 0), b"labels": [0, 10]}), "outside 0..9"),
    ],
    ids=[
        "garbage",
        "huge-frame",
        "bad-utf8",
        "list",
        "no-labels",
        "row-size",
        "dtype",
        "count",
        "range",
    ],
)
def test_corrupt_cifar_batch_names_the_file_and_the_problem(tmp_path, content, reason):
    folder = make_cifar10(tmp_path)
    (folder / "test_batch").write_bytes(content)
    with pytest.raises(DatasetError) as caught:
        dataset("cifar10").load(tmp_path, "test")
    assert str(folder / "test_batch") in str(caught.value)
    assert reason in str(caught.value)


def test_cifar_pickle_that_would_run_code_is_refused(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    folder = make_cifar10(tmp_path)
    write_pickle(folder / "test_batch", {b"data": Exploit(), b"labels": []})
    with pytest.raises(DatasetError, match=r"refers to \S*print"):
        dataset("cifar10").load(tmp_path, "test")


# --- Tiny ImageNet ---------------------------------------------------------------------------------


def test_tinyimagenet_reads_the_standard_tree(tmp_path):
    make_tinyimagenet(tmp_path)
    train = dataset("tinyimagenet").load(tmp_path, "train")
    assert train.images.shape == (6, 3, 64, 64)
    assert train.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert train.num_classes == 3
    # class 0 is red: red channel well above the mean, blue well below
    assert train.images[0, 0].mean() > 1.0 and train.images[0, 2].mean() < -1.0
    assert train.images[4, 2].mean() > 1.0


def test_tinyimagenet_test_split_is_the_labelled_val_set(tmp_path):
    folder = make_tinyimagenet(tmp_path)
    test = dataset("tinyimagenet").load(folder, "test")
    assert test.labels.tolist() == [2, 0]
    assert test.images.shape == (2, 3, 64, 64)
    # the greyscale JPEG comes back as three equal channels before normalisation
    stats = data.NORMALISATION["tinyimagenet"]
    raw = [test.images[1, c] * stats.std[c] + stats.mean[c] for c in range(3)]
    assert torch.allclose(raw[0], raw[1], atol=1e-5) and torch.allclose(raw[1], raw[2], atol=1e-5)


def test_missing_tinyimagenet_names_the_files_and_the_download(tmp_path):
    with pytest.raises(DatasetError) as caught:
        dataset("tinyimagenet").load(tmp_path, "test")
    message = str(caught.value)
    assert "tiny-imagenet-200" in message
    assert "val/val_annotations.txt" in message and "wnids.txt" in message
    assert "http://cs231n.stanford.edu/tiny-imagenet-200.zip" in message


def test_tinyimagenet_class_without_images_is_named(tmp_path):
    folder = make_tinyimagenet(tmp_path)
    for image in (folder / "train" / "n01629819" / "images").iterdir():
        image.unlink()
    with pytest.raises(DatasetError, match=r"n01629819/images.*no JPEG images for class n01629819"):
        dataset("tinyimagenet").load(tmp_path, "train")


def test_tinyimagenet_bad_annotation_line_is_named(tmp_path):
    folder = make_tinyimagenet(tmp_path)
    (folder / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn99999999\t0\t0\t1\t1\n")
    with pytest.raises(DatasetError, match=r"val_annotations.txt .*line 1"):
        dataset("tinyimagenet").load(tmp_path, "test")


def test_tinyimagenet_wrong_size_or_undecodable_image_is_named(tmp_path):
    folder = make_tinyimagenet(tmp_path)
    write_jpeg(folder / "val" / "images" / "val_0.JPEG", (0, 0, 0), size=32)
    with pytest.raises(DatasetError, match=r"val_0.JPEG.*32x32, expected 64x64"):
        dataset("tinyimagenet").load(tmp_path, "test")
    (folder / "val" / "images" / "val_0.JPEG").write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError, match=r"val_0.JPEG.*cannot decode"):
        dataset("tinyimagenet").load(tmp_path, "test")


# --- MNIST -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("layout", [".", "mnist", "MNIST/raw"])
def test_mnist_reads_idx_files_plain_or_gzipped_in_each_layout(tmp_path, compressed, layout):
    make_mnist(tmp_path / layout, compressed)
    train = dataset("mnist").load(tmp_path, "train")
    assert train.images.shape == (5, 1, 28, 28)
    assert train.labels.tolist() == [0, 1, 2, 3, 9]
    assert dataset("mnist").load(tmp_path, "test").labels.tolist() == [7, 8]


def test_corrupt_mnist_header_is_named(tmp_path):
    folder = make_mnist(tmp_path / "mnist", compressed=False)
    raw = bytearray((folder / "t10k-images-idx3-ubyte").read_bytes())
    raw[7] = 99  # first dimension no longer matches the payload
    (folder / "t10k-images-idx3-ubyte").write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte.*header says"):
        dataset("mnist").load(tmp_path, "test")


# --- digits and synthetic --------------------------------------------------------------------------


def test_digits_split_is_stratified_disjoint_deterministic_and_complete():
    from sklearn.datasets import load_digits

    train = dataset("digits").load(None, "train")
    test = dataset("digits").load(None, "test")
    assert train.images.shape == (1438, 1, 8, 8)
    assert test.images.shape == (359, 1, 8, 8)
    target = load_digits().target
    train_idx, test_idx = data.stratified_split(target, 0.2, 0)
    assert set(train_idx).isdisjoint(test_idx) and len(train_idx) + len(test_idx) == 1797
    for label in range(10):
        in_class = int((target == label).sum())
        assert int((test.labels == label).sum()) == round(0.2 * in_class)
    again = dataset("digits").load(Path("/ignored"), "test")
    assert torch.equal(again.images, test.images) and torch.equal(again.labels, test.labels)


def test_digits_normalisation_centres_the_training_set():
    train = dataset("digits").load(None, "train")
    assert train.images.mean().item() == pytest.approx(0.0, abs=0.01)
    assert train.images.std().item() == pytest.approx(1.0, abs=0.01)


def test_synthetic_is_seeded_and_shaped_by_its_options():
    small = SyntheticDataset(
        input_shape=(2, 5, 7), num_classes=3, train_size=9, test_size=4, seed=1
    )
    first = small.load(None, "train")
    assert first.images.shape == (9, 2, 5, 7)
    assert sorted(first.labels.tolist()) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert torch.equal(first.images, small.load(None, "train").images)
    other_seed = SyntheticDataset((2, 5, 7), 3, 9, 4, seed=2).load(None, "train")
    assert not torch.equal(first.images, other_seed.images)
    assert small.load(None, "test").images.shape == (4, 2, 5, 7)


def test_synthetic_rejects_bad_options():
    with pytest.raises(UsageError, match="num_classes"):
        SyntheticDataset(num_classes=0)
    with pytest.raises(UsageError, match=r"\(C, H, W\)"):
        SyntheticDataset(input_shape=(8, 8))


@pytest.mark.parametrize("name", ["digits", "synthetic", "cifar10"])
def test_unknown_split_is_a_usage_error(tmp_path, name):
    make_cifar10(tmp_path)
    with pytest.raises(UsageError, match="unknown split 'validation'"):
        dataset(name).load(tmp_path, "validation")


def test_root_none_reads_the_default_data_dir(tmp_path):
    make_cifar100(tmp_path / "default-data-dir")
    assert dataset("cifar100").load(None, "test").labels.tolist() == [5]


# --- fitness batches and training batches ----------------------------------------------------------


def numbered_split(count: int) -> DataSplit:
    """Image i is filled with the value i, so a batch says which images it holds."""
    images = torch.arange(count, dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 1, 2, 2)
    return DataSplit(images.clone(), torch.zeros(count, dtype=torch.int64), 1)


@settings(max_examples=40, deadline=None)
@given(
    total=st.integers(1, 60),
    batch_size=st.integers(1, 8),
    count=st.integers(1, 8),
    seed=st.integers(0, 1000),
)
def test_sample_batches_are_distinct_images_and_seeded(total, batch_size, count, seed):
    split = numbered_split(total)
    if batch_size * count > total:
        with pytest.raises(UsageError, match="distinct images"):
            data.sample_batches(split, batch_size, count, seed)
        return
    batches = data.sample_batches(split, batch_size, count, seed)
    assert [b.shape for b in batches] == [(batch_size, 1, 2, 2)] * count
    chosen = torch.cat([b[:, 0, 0, 0] for b in batches]).tolist()
    assert len(set(chosen)) == batch_size * count
    generator = torch.Generator().manual_seed(seed)
    again = data.sample_batches(split, batch_size, count, generator)
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))


def test_iter_batches_covers_the_split_once():
    split = numbered_split(10)
    seen = [int(v) for images, _ in data.iter_batches(split, 4, 0) for v in images[:, 0, 0, 0]]
    assert sorted(seen) == list(range(10)) and seen != list(range(10))
    in_order = [len(images) for images, _ in data.iter_batches(split, 4)]
    assert in_order == [4, 4, 2]
    assert [len(x) for x, _ in data.iter_batches(split, 4, 0, drop_last=True)] == [4, 4]


# --- augmentation ----------------------------------------------------------------------------------


def test_crop_with_padding_shifts_each_image_by_at_most_the_padding():
    images = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).view(2, 3, 6, 6) + 1
    out = data.apply_augmentation(images, data.Augmentation(padding=2), torch.Generator())
    assert out.shape == images.shape
    for n in range(2):
        # find the shift: out[n] is images[n] moved by (dy, dx) with zeros filling in
        matches = []
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                padded = torch.nn.functional.pad(images[n], (2, 2, 2, 2))
                window = padded[:, 2 + dy : 8 + dy, 2 + dx : 8 + dx]
                matches.append(torch.equal(window, out[n]))
        assert sum(matches) == 1


def test_flip_mirrors_about_half_the_batch():
    images = torch.randn(400, 1, 3, 3)
    out = data.apply_augmentation(images, data.Augmentation(flip=True), torch.Generator())
    flipped = [
        torch.equal(o, i.flip(-1)) and not torch.equal(o, i)
        for o, i in zip(out, images, strict=True)
    ]
    kept = [torch.equal(o, i) for o, i in zip(out, images, strict=True)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 150 < sum(flipped) < 250


def test_augment_by_dataset_name_is_seeded_and_leaves_the_input_alone():
    images = torch.randn(8, 3, 32, 32)
    before = images.clone()
    first = data.augment(images, "cifar10", 5)
    assert torch.equal(images, before)
    assert torch.equal(first, data.augment(images, "cifar10", 5))
    assert not torch.equal(first, images)
    assert torch.equal(data.augment(images, "synthetic", 5), images)
    with pytest.raises(UnknownComponentError):
        data.augment(images, "cifar-10", 5)


def test_augment_of_a_dataset_without_augmentation_is_a_copy():
    class Plain:
        name = "plain"

    images = torch.randn(2, 1, 4, 4)
    out = data.augment(images, Plain(), 0)
    assert torch.equal(out, images) and out is not images


# --- download (never over the network here) and the `data` commands -------------------------------


def cifar10_archive(workdir: Path) -> bytes:
    folder = make_cifar10(workdir)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        bundle.add(folder, arcname=folder.name)
    return buffer.getvalue()


def test_loading_never_downloads(tmp_path):
    with pytest.raises(DatasetError):
        dataset("cifar10").load(tmp_path, "train")
    assert not (tmp_path / "cifar-10-batches-py").exists()


def serve(monkeypatch, content: bytes, published: bytes | None = None) -> list[str]:
    """Downloads write ``content``; the CIFAR-10 archive's published MD5 is that of ``published``
    (default: ``content``, so the fabricated archive passes the check). Returns the fetched urls."""
    fetched = []

    def fake_fetch(url, destination):
        fetched.append(url)
        destination.write_bytes(content)

    monkeypatch.setattr(data, "fetch_url", fake_fetch)
    digest = hashlib.md5(content if published is None else published).hexdigest()
    monkeypatch.setitem(data.CIFAR10.md5, data.CIFAR10.urls[0], digest)
    return fetched


def test_download_fetches_and_unpacks_the_usual_archive(tmp_path, monkeypatch):
    archive = cifar10_archive(tmp_path / "made")
    fetched = serve(monkeypatch, archive)
    root = tmp_path / "data"
    assert dataset("cifar10").download(root) == root / "cifar-10-batches-py"
    assert fetched == ["https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"]
    assert not (root / "cifar-10-python.tar.gz").exists()
    assert dataset("cifar10").load(root, "train").images.shape == (15, 3, 32, 32)
    dataset("cifar10").download(root)
    assert len(fetched) == 1


def test_download_that_does_not_match_the_published_md5_is_deleted_and_named(tmp_path, monkeypatch):
    archive = cifar10_archive(tmp_path / "made")
    serve(monkeypatch, archive, published=b"the real archive")
    root = tmp_path / "data"
    with pytest.raises(DatasetError, match=r"not the published .*it was deleted") as caught:
        dataset("cifar10").download(root)
    assert data.CIFAR10.urls[0] in str(caught.value)
    assert list(root.iterdir()) == []


def test_every_download_has_its_published_md5():
    for source in (data.CIFAR10, data.CIFAR100, data.TINYIMAGENET, data.MNIST):
        assert set(source.md5) == set(source.urls)
        assert all(len(md5) == 32 for md5 in source.md5.values())


def test_data_check_command_reports_both_splits(tmp_path):
    make_cifar100(tmp_path)
    result = CliRunner().invoke(
        build_cli(), ["data", "check", "cifar100", "--data-dir", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [(s["split"], s["images"], s["shape"]) for s in report["splits"]] == [
        ("train", 4, [3, 32, 32]),
        ("test", 1, [3, 32, 32]),
    ]


def test_data_download_of_a_bundled_dataset_is_a_usage_error():
    with pytest.raises(UsageError, match="nothing to download"):
        builtin_datasets.download_command.callback(name="digits", data_dir=None)
