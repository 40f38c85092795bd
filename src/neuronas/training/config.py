"""What a training run is, where it runs and what it reports: torch-free, so the CLI and the
study read and validate a training setup without importing torch."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from neuronas.arch import Architecture
from neuronas.errors import UsageError
from neuronas.quantization import check_bits
from neuronas.search.config import DEFAULT_SPACE

if TYPE_CHECKING:
    import torch

CHECKPOINT_FORMAT = "neuronas-checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"
METRICS_NAME = "metrics.json"
DEFAULT_PTQ_BITS = 8
EVAL_BATCH_SIZE = 256
#: Multiplies the initial weights of the classifier's hidden layer (see `neuronas.training.loop.amplify_classifier_init`).
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

    ``weight_bits``: quantization-aware training at that precision (None: full precision), with
    ``quantizer``'s ``prepare_qat``; the same quantizer does the post-training quantization.
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
    quantizer: str = "fixed-point"
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


# --- where it runs -------------------------------------------------------------------------------


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
        import torch

        if self.active:
            torch.distributed.all_reduce(values, op=torch.distributed.ReduceOp.SUM)
        return values


#: One process, not launched by torchrun: the default of the passes.
SINGLE_PROCESS = Distributed()


# --- what it reports -----------------------------------------------------------------------------


@attrs.frozen
class PassResult:
    """Mean loss, accuracy (fraction) and image count of one pass; spike rates when measured."""

    loss: float
    accuracy: float
    images: int
    spike_rates: Mapping[str, float] = attrs.field(factory=dict)


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
