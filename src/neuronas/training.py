"""Training and evaluating a found network: surrogate-gradient BPTT, QAT, checkpoints, resume, DDP.

The network is trained as NeuroNAS trains it (Sec. IV): backpropagation through time through the LIF
neurons (their ATan surrogate comes with the builder), cross-entropy on the logits, SGD with momentum
and weight decay under a cosine schedule, the dataset's standard augmentation. ``weight_bits`` turns
on quantization-aware training with the straight-through fixed-point fake quantizer.

After every epoch a checkpoint is written atomically (temporary file, then ``os.replace``) holding
the model, optimizer, scheduler, metrics and every RNG state, so that a resumed run ends exactly where
an uninterrupted one would. Checkpoints hold plain types and tensors only and load with
``torch.load(weights_only=True)``.

Launched under ``torchrun`` (``WORLD_SIZE`` > 1), training runs with DistributedDataParallel: every
process trains on its own shard of each epoch and only rank 0 writes files.
"""

from __future__ import annotations

import contextlib
import math
import os
import pickle
import random
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from spikingjelly.activation_based import functional, neuron
from torch import nn

from neuronas import data
from neuronas.arch import Architecture
from neuronas.contracts import Dataset, DataSplit, is_time_resolved
from neuronas.errors import ArchitectureSyntaxError, UsageError
from neuronas.folders import dumps, locked, replace_atomically, resumable, write_atomic
from neuronas.plugin import get_component, guard
from neuronas.qat import prepare_qat
from neuronas.quantization import check_bits, post_training_quantize
from neuronas.search.config import DEFAULT_SPACE
from neuronas.seeds import derive_seed
from neuronas.snn import free_dropout

CHECKPOINT_FORMAT = "neuronas-checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"
METRICS_NAME = "metrics.json"
DEFAULT_PTQ_BITS = 8
EVAL_BATCH_SIZE = 256
#: Multiplies the initial weights of the classifier's hidden layer (see `amplify_classifier_init`).
DEFAULT_CLASSIFIER_INIT_GAIN = 8.0


class CheckpointError(UsageError):
    """A checkpoint that is missing, unreadable, or of another architecture or training setup."""


# --- configuration -------------------------------------------------------------------------------


def _positive_int(_instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{attribute.name.replace('_', '-')} must be at least 1, got {value!r}")


def _non_negative(_instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise UsageError(f"{attribute.name.replace('_', '-')} must be >= 0, got {value!r}")


def _optional_bits(_instance: Any, _attribute: attrs.Attribute, value: int | None) -> None:
    if value is not None:
        check_bits(value)


def _all_bits(_instance: Any, _attribute: attrs.Attribute, value: tuple[int, ...]) -> None:
    for bits in value:
        check_bits(bits)


@attrs.frozen
class TrainConfig:
    """Everything that determines a training run's result (same config and seed, same numbers).

    ``weight_bits``: quantization-aware training at that precision (None: full precision).
    ``ptq_bits``: precisions at which the trained float weights are post-training quantized and
    tested at the end; empty means ``(weight_bits,)``, or ``(8,)`` without QAT.
    ``batch_size`` is per process under torchrun. ``arch`` is kept in canonical form.
    """

    arch: str = attrs.field(converter=lambda text: Architecture.parse(text).to_string())
    dataset: str = "digits"
    data_dir: str | None = None
    space: str = DEFAULT_SPACE
    epochs: int = attrs.field(default=200, validator=_positive_int)
    batch_size: int = attrs.field(default=64, validator=_positive_int)
    lr: float = attrs.field(default=0.1, converter=float, validator=_non_negative)
    momentum: float = attrs.field(default=0.9, converter=float, validator=_non_negative)
    weight_decay: float = attrs.field(default=5e-4, converter=float, validator=_non_negative)
    weight_bits: int | None = attrs.field(default=None, validator=_optional_bits)
    ptq_bits: tuple[int, ...] = attrs.field(default=(), converter=tuple, validator=_all_bits)
    augment: bool = True
    classifier_init_gain: float = attrs.field(
        default=DEFAULT_CLASSIFIER_INIT_GAIN, converter=float, validator=_non_negative
    )
    seed: int = 0

    @property
    def architecture(self) -> Architecture:
        return Architecture.parse(self.arch)

    @property
    def test_precisions(self) -> tuple[int, ...]:
        if self.ptq_bits:
            return self.ptq_bits
        return (self.weight_bits if self.weight_bits is not None else DEFAULT_PTQ_BITS,)

    def to_dict(self) -> dict[str, Any]:
        values = attrs.asdict(self)
        values["ptq_bits"] = list(self.ptq_bits)
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        known = {field.name for field in attrs.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UsageError(f"unknown training option(s): {', '.join(unknown)}")
        return cls(**values)

    def differences(self, other: TrainConfig, ignore: tuple[str, ...] = ("data_dir",)) -> list[str]:
        """``name: mine != other`` for every field (but ``ignore``) that differs."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [
            f"{name}: {mine[name]!r} != {theirs[name]!r}"
            for name in mine
            if name not in ignore and mine[name] != theirs[name]
        ]


# --- building ------------------------------------------------------------------------------------


def check_matches_dataset(arch: Architecture, dataset: Dataset) -> None:
    """A UsageError unless the architecture's input and classes are the dataset's (an event
    dataset's frames may be down-sampled: any side up to its sensor's)."""
    macro = arch.macro
    want = tuple(dataset.input_shape)
    have = (macro.in_channels, macro.input_size, macro.input_size)
    problems = []
    if is_time_resolved(dataset):
        sensor = int(getattr(dataset, "sensor_size", want[1]))
        if have[0] != want[0] or have[1] > sensor:
            problems.append(
                f"input {'x'.join(map(str, have))} but the dataset's frames are {want[0]}xSxS "
                f"with S up to {sensor}"
            )
    elif have != want:
        problems.append(
            f"input {'x'.join(map(str, have))} but the dataset's images are {'x'.join(map(str, want))}"
        )
    if macro.num_classes != dataset.num_classes:
        problems.append(
            f"classes={macro.num_classes} but the dataset has {dataset.num_classes} classes"
        )
    if problems:
        raise UsageError(
            f"architecture does not fit dataset {dataset.name!r}: {'; '.join(problems)}. Set "
            f"input={'x'.join(map(str, want))};classes={dataset.num_classes} in the "
            "architecture string, or train on the dataset it was searched for"
        )


def amplify_classifier_init(model: nn.Module, gain: float) -> bool:
    """Multiply the initial weights of ``model.classifier.hidden`` (if it exists) by ``gain``.

    With PyTorch's default initialisation the hidden layer's input current has a standard deviation
    of about 0.1 whatever its fan-in, far below the LIF threshold of 1: the hidden neurons never
    spike, the output layer gets no gradient and the loss stays at ln(classes). A gain of about 8
    puts the current near the threshold so training starts. Returns whether a layer was scaled.
    """
    classifier = getattr(model, "classifier", None)
    hidden = getattr(classifier, "hidden", None)
    if not isinstance(hidden, nn.Linear) or gain == 1.0:
        return False
    with torch.no_grad():
        hidden.weight.mul_(gain)
    return True


def build_model(config: TrainConfig, dataset: Dataset | None = None) -> nn.Module:
    """A freshly initialised network for ``config`` (with fake quantizers when it asks for QAT).

    The initial weights are drawn from ``config.seed``; the global RNGs are not touched. Dropout
    (when the architecture has it) draws a fresh mask per batch from the global RNG, whose state
    checkpoints keep.
    """
    arch = config.architecture
    if dataset is not None:
        check_matches_dataset(arch, dataset)
    space = get_component("space", config.space)
    model = free_dropout(guard.call("space", space, "build", arch, seed=config.seed))
    amplify_classifier_init(model, config.classifier_init_gain)
    if config.weight_bits is not None:
        prepare_qat(model, config.weight_bits)
    return model


_QAT_WEIGHT = ".parametrizations.weight.original"


def float_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict with QAT's float weights under the plain names (``conv.weight``)."""
    return {key.replace(_QAT_WEIGHT, ".weight"): value for key, value in state.items()}


def network_at(
    config: TrainConfig, state: Mapping[str, torch.Tensor], bits: int | None, source: str = ""
) -> nn.Module:
    """A plain network (no fake quantizers) with ``state``'s weights, at full precision
    (``bits=None``) or post-training quantized to ``bits``.

    Built fresh rather than copied: a deep copy of a parametrized module shares its generated class,
    and removing the parametrization from the copy would break the original.
    """
    space = get_component("space", config.space)
    model = guard.call("space", space, "build", config.architecture, seed=config.seed)
    load_weights(model, float_state(state), source or "the trained network")
    if bits is not None:
        post_training_quantize(model, bits, inplace=True)
    return model


# --- distributed ---------------------------------------------------------------------------------


@attrs.frozen
class Distributed:
    """This process's place in a torchrun launch (world size 1 when not launched that way)."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls) -> Distributed:
        try:
            world = int(os.environ.get("WORLD_SIZE", "1"))
            rank = int(os.environ.get("RANK", "0"))
            local = int(os.environ.get("LOCAL_RANK", "0"))
        except ValueError as error:
            raise UsageError(f"WORLD_SIZE, RANK and LOCAL_RANK must be integers: {error}") from None
        return cls(world, rank, local)

    def all_sum(self, values: torch.Tensor) -> torch.Tensor:
        if self.active:
            torch.distributed.all_reduce(values, op=torch.distributed.ReduceOp.SUM)
        return values


def resolve_device(name: str, dist: Distributed) -> torch.device:
    if name not in ("cpu", "cuda"):
        raise UsageError(f"unknown device {name!r}; valid devices: cpu, cuda")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device is available; use --device cpu")
        return torch.device("cuda", dist.local_rank)
    return torch.device("cpu")


@contextlib.contextmanager
def process_group(dist: Distributed, device: torch.device) -> Iterator[None]:
    """Join the torchrun process group (gloo on CPU, nccl on CUDA) for the duration."""
    if not dist.active or torch.distributed.is_initialized():
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield
    finally:
        torch.distributed.destroy_process_group()


def shard(indices: torch.Tensor, dist: Distributed, pad: bool) -> torch.Tensor:
    """This rank's share of ``indices``, as DistributedSampler takes it (every world-th item).

    ``pad`` repeats leading items so every rank gets the same count (for training, where ranks
    must take the same number of steps); evaluation shards are not padded, so nothing counts twice.
    """
    if not dist.active:
        return indices
    if pad and len(indices) % dist.world_size:
        extra = dist.world_size - len(indices) % dist.world_size
        indices = torch.cat([indices, indices[:extra]])
    return indices[dist.rank :: dist.world_size]


# --- RNG state -----------------------------------------------------------------------------------


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch, numpy and python; return the data generator (shuffling and augmentation)."""
    torch.manual_seed(derive_seed(seed, "torch"))
    np.random.seed(derive_seed(seed, "numpy") % 2**32)
    random.seed(derive_seed(seed, "python"))
    return torch.Generator().manual_seed(derive_seed(seed, "data"))


def rng_state(data_generator: torch.Generator) -> dict[str, Any]:
    """Every RNG state as plain types and tensors (``weights_only``-loadable)."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": random.getstate(),
        "data": data_generator.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any], data_generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["kind"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["position"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    data_generator.set_state(state["data"])
    if "cuda" in state and torch.cuda.is_available():
        with contextlib.suppress(RuntimeError):  # another number of GPUs than when saved
            torch.cuda.set_rng_state_all(state["cuda"])


# --- checkpoints ---------------------------------------------------------------------------------


def save_checkpoint(path: Path, payload: Mapping[str, Any]) -> None:
    """Write atomically: a crash leaves either the previous checkpoint or the new one."""
    replace_atomically(path, lambda temporary: torch.save(dict(payload), temporary))


_REQUIRED_KEYS = ("arch", "config", "epoch", "model", "optimizer", "scheduler", "metrics", "rng")


def load_checkpoint(path: str | Path, expected_arch: str | Architecture | None = None) -> dict:
    """A checkpoint's contents, loaded safely (``weights_only=True``) and checked.

    A folder means its ``checkpoint.pt``. Raises `CheckpointError` for a missing, corrupt or foreign
    file, and when ``expected_arch`` is given and differs from the checkpoint's architecture.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols of foreign files
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged or foreign file
        if isinstance(error, pickle.UnpicklingError) and "Weights only load failed" in str(error):
            raise CheckpointError(
                f"{path} is not a readable neuronas checkpoint: a safe load refused it (it is "
                "corrupt, or holds objects other than tensors and plain data)"
            ) from None
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(
            f"{path} is not a readable neuronas checkpoint (it may be truncated or corrupt): "
            f"{reason}"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a neuronas training checkpoint")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {payload.get('version')!r}; this neuronas "
            f"reads version {CHECKPOINT_VERSION}"
        )
    missing = [key for key in _REQUIRED_KEYS if key not in payload]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}; it is incomplete")
    problem = _checkpoint_problem(payload)
    if problem is not None:
        raise CheckpointError(f"{path} is damaged: {problem}")
    try:
        stored = Architecture.parse(payload["arch"])
        payload["config"] = TrainConfig.from_dict(payload["config"])
    except (ArchitectureSyntaxError, UsageError, TypeError) as error:
        raise CheckpointError(f"{path} holds an invalid training setup: {error}") from None
    if expected_arch is not None:
        expected = (
            expected_arch
            if isinstance(expected_arch, Architecture)
            else Architecture.parse(expected_arch)
        )
        if expected.to_string() != stored.to_string():
            raise CheckpointError(
                f"{path} is a checkpoint of another architecture: it holds {stored}, not {expected}"
            )
    payload["path"] = str(path)
    return payload


def _checkpoint_problem(payload: Mapping[str, Any]) -> str | None:
    """What is wrong with a checkpoint's fields (None when each has the shape training wrote)."""
    epoch = payload["epoch"]
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        return f"epoch must be a whole number >= 0, got {epoch!r}"
    if not isinstance(payload["arch"], str) or not isinstance(payload["config"], dict):
        return "arch must be a string and config a mapping"
    model = payload["model"]
    if not isinstance(model, dict) or not all(isinstance(v, torch.Tensor) for v in model.values()):
        return "model must map names to tensors"
    optimizer = payload["optimizer"]
    if not (
        isinstance(optimizer, dict)
        and isinstance(optimizer.get("param_groups"), list)
        and optimizer["param_groups"]
        and isinstance(optimizer.get("state"), dict)
    ):
        return "optimizer must hold its state and at least one parameter group"
    if not isinstance(payload["scheduler"], dict):
        return "scheduler must be a mapping"
    metrics = payload["metrics"]
    if not isinstance(metrics, list) or not all(isinstance(m, dict) for m in metrics):
        return "metrics must be a list of per-epoch records"
    if len(metrics) != epoch:
        return f"it records {len(metrics)} epochs of metrics for epoch {epoch}"
    rng = payload["rng"]
    numpy_state = rng.get("numpy") if isinstance(rng, dict) else None
    if not (
        isinstance(rng, dict)
        and isinstance(rng.get("torch"), torch.Tensor)
        and isinstance(rng.get("data"), torch.Tensor)
        and isinstance(numpy_state, dict)
        and {"kind", "keys", "position", "has_gauss", "cached_gaussian"} <= set(numpy_state)
        and isinstance(rng.get("python"), tuple | list)
        and len(rng["python"]) == 3
    ):
        return "its random-number states are incomplete"
    return None


def load_weights(model: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise CheckpointError(
            f"{source}: the stored weights do not fit the architecture ({first})"
        ) from None


# --- one pass over the data ----------------------------------------------------------------------


@attrs.frozen
class PassResult:
    """Mean loss, accuracy (fraction) and image count of one pass; spike rates when measured."""

    loss: float
    accuracy: float
    images: int
    spike_rates: Mapping[str, float] = attrs.field(factory=dict)


class SpikeCounter:
    """Forward hooks on every spiking neuron: the mean spike rate per LIF layer (per neuron and step)."""

    def __init__(self, model: nn.Module) -> None:
        self.totals: dict[str, list[float]] = {}
        self.handles = []
        for name, module in model.named_modules():
            if isinstance(module, neuron.BaseNode):
                self.totals[name] = [0.0, 0.0]
                self.handles.append(module.register_forward_hook(self._hook(name)))

    def _hook(self, name: str) -> Callable[..., None]:
        def count(_module: nn.Module, _inputs: Any, spikes: torch.Tensor) -> None:
            total = self.totals[name]
            total[0] += float(spikes.detach().sum())
            total[1] += spikes.numel()

        return count

    def rates(self, dist: Distributed, device: torch.device) -> dict[str, float]:
        sums = torch.tensor(
            [value for pair in self.totals.values() for value in pair],
            dtype=torch.float64,
            device=device,
        )
        sums = dist.all_sum(sums).tolist()
        return {
            name: sums[2 * index] / sums[2 * index + 1] if sums[2 * index + 1] else 0.0
            for index, name in enumerate(self.totals)
        }

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()


@torch.no_grad()
def evaluate_split(
    model: nn.Module,
    split: DataSplit,
    dist: Distributed = Distributed(),
    batch_size: int = EVAL_BATCH_SIZE,
    spike_rates: bool = False,
) -> PassResult:
    """Loss and accuracy on ``split`` in eval mode (this rank's shard, summed over ranks)."""
    model.eval()
    device = split.images.device
    counter = SpikeCounter(model) if spike_rates else None
    totals = torch.zeros(3, dtype=torch.float64, device=device)
    order = shard(torch.arange(len(split.labels)), dist, pad=False)
    try:
        for images, labels in data.iter_batches(split, batch_size, order=order):
            logits = model(images)
            functional.reset_net(model)
            totals[0] += nn.functional.cross_entropy(logits, labels, reduction="sum")
            totals[1] += (logits.argmax(1) == labels).sum()
            totals[2] += len(labels)
        loss_sum, correct, count = dist.all_sum(totals).tolist()
        rates = counter.rates(dist, device) if counter else {}
    finally:
        if counter:
            counter.close()
    count = max(count, 1.0)
    return PassResult(loss_sum / count, correct / count, int(count), rates)


# --- training ------------------------------------------------------------------------------------


class TrainObserver:
    """Callbacks of a training run (the CLI's progress display); every method is optional."""

    def started(self, config: TrainConfig, start_epoch: int, batches_per_epoch: int) -> None:
        """Before the first epoch to run (``start_epoch`` > 0 after a resume)."""

    def batch_done(self, epoch: int, batch: int, loss: float) -> None:
        """After each optimizer step; ``epoch`` counts from 1, ``batch`` from 1."""

    def epoch_done(self, record: Mapping[str, Any]) -> None:
        """After each epoch's test pass and checkpoint."""

    def finished(self, metrics: Mapping[str, Any]) -> None:
        """After the final tests."""


@attrs.frozen
class TrainResult:
    """What ``train`` wrote, and the metrics it put in metrics.json."""

    out_dir: Path
    metrics: Mapping[str, Any]

    @property
    def checkpoint(self) -> Path:
        return self.out_dir / CHECKPOINT_NAME


def load_split(config: TrainConfig, data_dir: str | None, split: str) -> DataSplit:
    """One split of the config's dataset, checked against the architecture."""
    dataset = get_component("dataset", config.dataset)
    macro = config.architecture.macro
    check_matches_dataset(config.architecture, dataset)
    root = Path(data_dir) if data_dir else None
    size = macro.input_size if is_time_resolved(dataset) else None
    return data.load_split(dataset, root, split, macro.timesteps, size)


def load_splits(config: TrainConfig, data_dir: str | None) -> tuple[Dataset, DataSplit, DataSplit]:
    dataset = get_component("dataset", config.dataset)
    return dataset, load_split(config, data_dir, "train"), load_split(config, data_dir, "test")


def _to_device(split: DataSplit, device: torch.device) -> DataSplit:
    return DataSplit(split.images.to(device), split.labels.to(device), split.num_classes)


def _make_optimizer(model: nn.Module, config: TrainConfig):
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    return optimizer, scheduler


def train(
    config: TrainConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    device: str = "cpu",
    data_dir: str | None = None,
    observer: TrainObserver | None = None,
) -> TrainResult:
    """Train ``config``'s architecture, writing checkpoint.pt and metrics.json to ``out_dir``.

    ``resume``: continue from ``out_dir``'s checkpoint, whose config must equal ``config`` (but for
    ``data_dir``); the result is the one an uninterrupted run gives. ``data_dir`` overrides the
    config's. Under torchrun this runs with DistributedDataParallel and only rank 0 writes.
    """
    observer = observer or TrainObserver()
    dist = Distributed.from_environment()
    target = resolve_device(device, dist)
    out_dir = Path(out_dir)
    hint = f"continue with `neuronas train --resume --out {out_dir}`"
    guard = locked(out_dir, "training") if dist.is_main else contextlib.nullcontext()
    with guard, resumable(hint):
        checkpoint_path = out_dir / CHECKPOINT_NAME
        checkpoint = None
        if resume:
            checkpoint = load_checkpoint(checkpoint_path, expected_arch=config.arch)
            differences = checkpoint["config"].differences(config)
            if differences:
                raise CheckpointError(
                    f"{checkpoint_path} was written with other training options ("
                    f"{'; '.join(differences)}); resume without changing them"
                )
        elif checkpoint_path.exists():
            raise UsageError(
                f"{out_dir} already holds a training run; continue it with --resume or choose "
                "another --out"
            )
        dataset, train_split, test_split = load_splits(config, data_dir or config.data_dir)
        with process_group(dist, target):
            return _train(
                config,
                out_dir,
                checkpoint,
                dataset,
                train_split,
                test_split,
                dist,
                target,
                observer,
            )


def _train(
    config: TrainConfig,
    out_dir: Path,
    checkpoint: Mapping[str, Any] | None,
    dataset: Dataset,
    train_split: DataSplit,
    test_split: DataSplit,
    dist: Distributed,
    device: torch.device,
    observer: TrainObserver,
) -> TrainResult:
    data_generator = seed_everything(config.seed)
    model = build_model(config).to(device)
    optimizer, scheduler = _make_optimizer(model, config)
    history: list[dict[str, Any]] = []
    start_epoch = 0
    if checkpoint is not None:
        load_weights(model, checkpoint["model"], checkpoint["path"])
        model.to(device)
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        restore_rng_state(checkpoint["rng"], data_generator)
        history = [dict(record) for record in checkpoint["metrics"]]
        start_epoch = int(checkpoint["epoch"])
    train_split, test_split = _to_device(train_split, device), _to_device(test_split, device)
    trained: nn.Module = model
    if dist.active:
        trained = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    if dist.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
    per_rank = len(shard(torch.arange(len(train_split.labels)), dist, pad=True))
    observer.started(config, start_epoch, math.ceil(per_rank / config.batch_size))

    for epoch in range(start_epoch, config.epochs):
        started = time.perf_counter()
        epoch_seed = int(torch.randint(2**62, (1,), generator=data_generator))
        order = shard(
            torch.randperm(
                len(train_split.labels), generator=torch.Generator().manual_seed(epoch_seed)
            ),
            dist,
            pad=True,
        )
        augment_generator = torch.Generator().manual_seed(derive_seed(epoch_seed, dist.rank))
        lr = optimizer.param_groups[0]["lr"]
        trained.train()
        totals = torch.zeros(3, dtype=torch.float64, device=device)
        for batch, (images, labels) in enumerate(
            data.iter_batches(train_split, config.batch_size, order=order), 1
        ):
            if config.augment:
                images = data.augment(images, dataset, augment_generator)
            logits = trained(images)
            loss = nn.functional.cross_entropy(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            functional.reset_net(model)
            totals[0] += loss.detach() * len(labels)
            totals[1] += (logits.detach().argmax(1) == labels).sum()
            totals[2] += len(labels)
            observer.batch_done(epoch + 1, batch, float(loss.detach()))
        scheduler.step()
        loss_sum, correct, count = dist.all_sum(totals).tolist()
        tested = evaluate_split(model, test_split, dist)
        record = {
            "epoch": epoch + 1,
            "lr": lr,
            "train_loss": loss_sum / count,
            "train_accuracy": correct / count,
            "test_loss": tested.loss,
            "test_accuracy": tested.accuracy,
            "seconds": time.perf_counter() - started,
        }
        history.append(record)
        if dist.is_main:
            save_checkpoint(
                out_dir / CHECKPOINT_NAME,
                {
                    "format": CHECKPOINT_FORMAT,
                    "version": CHECKPOINT_VERSION,
                    "arch": config.arch,
                    "config": config.to_dict(),
                    "epoch": epoch + 1,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "metrics": history,
                    "rng": rng_state(data_generator),
                },
            )
        observer.epoch_done(record)

    metrics = {
        "arch": config.arch,
        "config": config.to_dict(),
        "world_size": dist.world_size,
        "epochs": history,
        "train_seconds": sum(record["seconds"] for record in history),
        "final": final_tests(model, test_split, config, dist),
    }
    if dist.is_main:
        write_atomic(out_dir / METRICS_NAME, dumps(metrics, indent=2))
    observer.finished(metrics)
    return TrainResult(out_dir, metrics)


def final_tests(
    model: nn.Module, test_split: DataSplit, config: TrainConfig, dist: Distributed = Distributed()
) -> dict[str, Any]:
    """Test accuracy at full precision (with spike rates) and after PTQ to each requested precision.

    After QAT, PTQ of the float weights gives exactly the weights the forward pass trained with.
    """
    device = test_split.images.device
    state = model.state_dict()
    full = evaluate_split(
        network_at(config, state, None).to(device), test_split, dist, spike_rates=True
    )
    quantized = []
    for bits in config.test_precisions:
        result = evaluate_split(network_at(config, state, bits).to(device), test_split, dist)
        quantized.append(
            {
                "bits": bits,
                "method": "qat+ptq" if bits == config.weight_bits else "ptq",
                "test_loss": result.loss,
                "test_accuracy": result.accuracy,
            }
        )
    return {
        "test_loss": full.loss,
        "test_accuracy": full.accuracy,
        "test_images": full.images,
        "spike_rates": full.spike_rates,
        "quantized": quantized,
    }


# --- evaluation ----------------------------------------------------------------------------------


@attrs.frozen
class EvaluationResult:
    """Test accuracy of a checkpoint's network at ``bits`` (None: full precision), spike rates."""

    checkpoint: str
    arch: str
    dataset: str
    epoch: int
    bits: int | None
    loss: float
    accuracy: float
    images: int
    spike_rates: Mapping[str, float]

    def to_dict(self) -> dict[str, Any]:
        values = attrs.asdict(self)
        values["spike_rates"] = dict(self.spike_rates)
        values["mean_spike_rate"] = (
            sum(self.spike_rates.values()) / len(self.spike_rates) if self.spike_rates else 0.0
        )
        return values


def evaluate_checkpoint(
    path: str | Path,
    *,
    weight_bits: int | None = None,
    data_dir: str | None = None,
    device: str = "cpu",
    batch_size: int = EVAL_BATCH_SIZE,
) -> EvaluationResult:
    """Test a checkpoint's network, with the spike rate of every LIF layer.

    ``weight_bits``: post-training quantize the float weights to that precision first. Without it,
    a QAT checkpoint is tested at its training precision and any other at full precision.
    """
    if weight_bits is not None:
        check_bits(weight_bits)
    checkpoint = load_checkpoint(path)
    config: TrainConfig = checkpoint["config"]
    test_split = load_split(config, data_dir or config.data_dir, "test")
    bits = weight_bits if weight_bits is not None else config.weight_bits
    target = resolve_device(device, Distributed())
    tested = network_at(config, checkpoint["model"], bits, checkpoint["path"]).to(target)
    result = evaluate_split(
        tested, _to_device(test_split, target), batch_size=batch_size, spike_rates=True
    )
    return EvaluationResult(
        checkpoint=checkpoint["path"],
        arch=checkpoint["arch"],
        dataset=config.dataset,
        epoch=int(checkpoint["epoch"]),
        bits=bits,
        loss=result.loss,
        accuracy=result.accuracy,
        images=result.images,
        spike_rates=result.spike_rates,
    )


__all__ = [
    "CHECKPOINT_NAME",
    "METRICS_NAME",
    "CheckpointError",
    "EvaluationResult",
    "TrainConfig",
    "TrainObserver",
    "TrainResult",
    "build_model",
    "check_matches_dataset",
    "evaluate_checkpoint",
    "evaluate_split",
    "load_checkpoint",
    "train",
]
