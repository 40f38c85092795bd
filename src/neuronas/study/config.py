"""The frozen configuration of a proxy study: which architectures, which scores, which training."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from neuronas.arch import BATCHNORM_MODES
from neuronas.errors import UsageError
from neuronas.quantization import check_bits
from neuronas.search.config import DEFAULT_SPACE

#: What a study scores by default: the paper's metric, its per-layer variant, the size baseline
#: and two zero-cost proxies from the literature.
DEFAULT_METRICS = ("hamming-logdet", "hamming-logdet-per-layer", "params", "synflow", "jacob-cov")
SIZE_METRIC = "params"


def _at_least(minimum: int):
    def check(_instance: Any, attribute: attrs.Attribute, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            name = attribute.name.replace("_", "-")
            raise UsageError(f"study {name} must be an integer >= {minimum}, got {value!r}")

    return check


def _non_empty(_instance: Any, attribute: attrs.Attribute, value: tuple) -> None:
    if not value:
        raise UsageError(f"study {attribute.name.replace('_', '-')} must name at least one")


def _all_bits(_instance: Any, _attribute: attrs.Attribute, value: tuple[int, ...]) -> None:
    for bits in value:
        check_bits(bits)


def _batchnorm_modes(_instance: Any, _attribute: attrs.Attribute, value: tuple[str, ...]) -> None:
    for mode in value:
        if mode not in BATCHNORM_MODES:
            raise UsageError(
                f"score batchnorm must be one of {', '.join(BATCHNORM_MODES)}, got {mode!r}"
            )


@attrs.frozen
class StudyConfig:
    """Everything that determines a study's numbers (the same config gives the same numbers).

    Architectures are ``archs`` draws (cells A and B independent, seeded by ``seed``) from
    ``space``, or, with ``source_run``, ``archs`` distinct scored architectures of that run's
    journal. Each is scored by every ``metrics`` x ``weight_bits`` x ``score_batchnorm`` column and
    trained ``seeds`` times for ``epochs`` epochs with the ``neuronas train`` recipe (its network
    is the architecture's own, BatchNorm per timestep unless the architecture says otherwise).
    ``picks``: also run a two-phase search under every column and train its pick the same way.
    """

    space: str = DEFAULT_SPACE
    source_run: str | None = None
    dataset: str = "digits"
    data_dir: str | None = None
    #: side of an event dataset's frames (None: the dataset's own); its T is ``timesteps``
    event_size: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(_at_least(1))
    )
    archs: int = attrs.field(default=30, validator=_at_least(3))
    metrics: tuple[str, ...] = attrs.field(
        default=DEFAULT_METRICS, converter=tuple, validator=_non_empty
    )
    weight_bits: tuple[int, ...] = attrs.field(
        default=(8,), converter=tuple, validator=[_non_empty, _all_bits]
    )
    score_batchnorm: tuple[str, ...] = attrs.field(
        default=("per-step",), converter=tuple, validator=[_non_empty, _batchnorm_modes]
    )
    width: int = attrs.field(default=8, validator=_at_least(1))
    timesteps: int = attrs.field(default=5, validator=_at_least(1))
    hidden: int = attrs.field(default=128, validator=_at_least(1))
    population: int = attrs.field(default=10, validator=_at_least(1))
    dropout: float | None = None
    weight_init: str | None = None
    fitness_batch: int = attrs.field(default=64, validator=_at_least(2))
    fitness_batches: int = attrs.field(default=2, validator=_at_least(1))
    epochs: int = attrs.field(default=30, validator=_at_least(1))
    seeds: int = attrs.field(default=2, validator=_at_least(1))
    batch_size: int = attrs.field(default=64, validator=_at_least(1))
    lr: float = 0.1
    picks: bool = True
    executor: str = "local"
    workers: int = attrs.field(default=1, validator=_at_least(1))
    seed: int = 0

    def columns(self) -> list[tuple[str, int, str]]:
        """(metric, weight bits, BatchNorm mode) of every score column, in a stable order."""
        return [
            (metric, bits, mode)
            for metric in self.metrics
            for bits in self.weight_bits
            for mode in self.score_batchnorm
        ]

    def to_dict(self) -> dict[str, Any]:
        values = attrs.asdict(self)
        for key in ("metrics", "weight_bits", "score_batchnorm"):
            values[key] = list(values[key])
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> StudyConfig:
        unknown = set(values) - {field.name for field in attrs.fields(cls)}
        if unknown:
            raise UsageError(f"unknown study option(s): {', '.join(sorted(unknown))}")
        for key in ("metrics", "weight_bits", "score_batchnorm"):
            if key in values and not isinstance(values[key], list | tuple):
                raise UsageError(f"study option {key} must be a list, got {values[key]!r}")
        return cls(**values)


def column_name(metric: str, bits: int, batchnorm: str, config: StudyConfig) -> str:
    """A column's label: the metric, plus the precision and BatchNorm mode when the study varies
    them (``hamming-logdet``, ``hamming-logdet FxP32``, ``hamming-logdet bn=pooled``)."""
    label = metric
    if len(config.weight_bits) > 1:
        label += f" FxP{bits}"
    if len(config.score_batchnorm) > 1:
        label += f" bn={batchnorm}"
    return label
