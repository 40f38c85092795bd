"""The training loop and the test passes (see `neuronas.training`)."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from spikingjelly.activation_based import functional, neuron
from torch import nn

from neuronas import data
from neuronas.arch import Architecture
from neuronas.contracts import Dataset, DataSplit, TrainingQuantizer, is_time_resolved
from neuronas.errors import UsageError
from neuronas.folders import dumps, locked, resumable, write_atomic
from neuronas.plugin import get_component, guard
from neuronas.quantization import check_bits
from neuronas.seeds import derive_seed
from neuronas.snn import free_dropout
from neuronas.training.checkpoint import (
    load_checkpoint,
    load_weights,
    restore_rng_state,
    rng_state,
    save_checkpoint,
    seed_everything,
)
from neuronas.training.config import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_NAME,
    CHECKPOINT_VERSION,
    EVAL_BATCH_SIZE,
    METRICS_NAME,
    SINGLE_PROCESS,
    CheckpointError,
    Distributed,
    EvaluationResult,
    PassResult,
    TrainConfig,
    TrainObserver,
    TrainResult,
)

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
        quantizer = get_component("quantizer", config.quantizer)
        if not isinstance(quantizer, TrainingQuantizer):
            raise UsageError(
                f"quantizer {config.quantizer!r} cannot train: it has no prepare_qat (see "
                "neuronas.contracts.TrainingQuantizer); train at full precision and test it after "
                "training with --ptq-bits"
            )
        guard.call("quantizer", quantizer, "prepare_qat", model, config.weight_bits)
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
        quantizer = get_component("quantizer", config.quantizer)
        guard.call("quantizer", quantizer, "quantize", model, bits)
    return model


# --- distributed ---------------------------------------------------------------------------------


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
        torch.distributed.barrier()  # leave together: gloo can abort a rank whose peer hung up first
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


# --- one pass over the data ----------------------------------------------------------------------


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
    dist: Distributed = SINGLE_PROCESS,
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
    model: nn.Module, test_split: DataSplit, config: TrainConfig, dist: Distributed = SINGLE_PROCESS
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
