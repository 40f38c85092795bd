"""`check_dataset`: the `neuronas.contracts.Dataset` contract, rule by rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neuronas.contracts import Dataset, DataSplit, is_time_resolved
from neuronas.errors import NeuronasError
from neuronas.testing.core import Checker, Conformance, check_members, label

#: The timesteps a time-resolved dataset is binned into for its check.
FRAMES = 3

#: Every rule `check_dataset` holds a dataset to, in the order it checks them.
DATASET_RULES: dict[str, str] = {
    "members": "name, description, input_shape, num_classes and load, as neuronas.contracts.Dataset",
    "shape": "input_shape is (channels, height, width) of positive integers, height == width; "
    "num_classes an integer >= 2",
    "loads": "load(root, split) returns a DataSplit for 'train' and 'test'",
    "images": "images are a finite float tensor [N, C, H, W] of input_shape, N >= 1 (a time-resolved "
    "dataset: frames [N, T, C, H, W], T the timesteps asked)",
    "labels": "labels are one integer per image, each in [0, num_classes)",
    "num-classes": "the split's num_classes is the dataset's",
    "deterministic": "loading a split twice gives the same images and labels",
    "unknown-split": "a split other than 'train' and 'test' is a NeuronasError",
}


def check_dataset(dataset: Any, *, root: Path | None = None) -> Conformance:
    """Hold ``dataset`` to every rule of `DATASET_RULES`, loading from ``root`` (None: the
    dataset's default place); a broken rule is a `ConformanceError`. A time-resolved dataset is
    loaded at `FRAMES` timesteps. Needs torch."""
    import torch

    def load(split: str):
        if is_time_resolved(dataset):
            return dataset.load(root, split, timesteps=FRAMES, size=None)
        return dataset.load(root, split)

    frames = (FRAMES,) if is_time_resolved(dataset) else ()

    check = Checker(label("dataset", dataset), DATASET_RULES)
    check_members(check, dataset, Dataset)
    shape, classes = dataset.input_shape, dataset.num_classes
    check.ensure(
        "shape",
        isinstance(shape, tuple)
        and len(shape) == 3
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in shape)
        and shape[1] == shape[2],
        "dataset.input_shape",
        f"input_shape={shape!r}",
    )
    check.ensure(
        "shape",
        isinstance(classes, int) and not isinstance(classes, bool) and classes >= 2,
        "dataset.num_classes",
        f"num_classes={classes!r}",
    )
    for split in ("train", "test"):
        where = f"load({root!r}, {split!r})"
        loaded = check.run("loads", where, load, split)
        check.ensure(
            "loads",
            isinstance(loaded, DataSplit),
            where,
            f"returned a {type(loaded).__name__}, not a neuronas.contracts.DataSplit",
        )
        images, labels = loaded.images, loaded.labels
        check.ensure(
            "images",
            isinstance(images, torch.Tensor)
            and images.is_floating_point()
            and tuple(images.shape[1:]) == (*frames, *shape)
            and images.shape[0] >= 1,
            where,
            f"images of shape {tuple(getattr(images, 'shape', ()))} and dtype "
            f"{getattr(images, 'dtype', type(images).__name__)}; expected [N, *{(*frames, *shape)}] floats",
        )
        check.ensure("images", bool(torch.isfinite(images).all()), where, "not all finite")
        check.ensure(
            "labels",
            isinstance(labels, torch.Tensor)
            and not labels.is_floating_point()
            and labels.dim() == 1
            and len(labels) == len(images),
            where,
            f"labels of shape {tuple(getattr(labels, 'shape', ()))}; expected "
            f"[{len(images)}] integers",
        )
        low, high = int(labels.min()), int(labels.max())
        check.ensure(
            "labels",
            low >= 0 and high < classes,
            where,
            f"labels run from {low} to {high}; num_classes is {classes}",
        )
        check.ensure(
            "num-classes",
            loaded.num_classes == classes,
            where,
            f"the split says {loaded.num_classes!r} classes, the dataset {classes!r}",
        )
        again = load(split)
        check.ensure(
            "deterministic",
            torch.equal(again.images, images) and torch.equal(again.labels, labels),
            f"{where} twice",
            "the images or labels differ",
        )
    check.refuses(
        "unknown-split",
        f"load({root!r}, 'validation')",
        NeuronasError,
        load,
        "validation",
    )
    return check.report()
