"""The typed contract of every component kind, and the results they return.

A plugin registers components through the ``neuronas_register_*`` hooks; each component is an object
that satisfies one of the protocols below. Every component has a ``name`` (what users type) and a
one-line ``description`` (what ``neuronas list KIND`` shows).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from neuronas.arch import Architecture, Cell, LayerShape, Macro
from neuronas.budgets import BUDGET_NAMES, COST_KEYS
from neuronas.errors import UsageError
from neuronas.folders import PLAUSIBLE, mapping, number, whole_number

if TYPE_CHECKING:
    import numpy as np
    import torch


@runtime_checkable
class Component(Protocol):
    name: str
    description: str


# --- search spaces -------------------------------------------------------------------------------


@runtime_checkable
class SearchSpace(Component, Protocol):
    """A set of cells, and how to turn an architecture made of them into a network."""

    ops: tuple[str, ...]

    def enumerate(self) -> Iterator[Cell]:
        """Every valid cell, in the space's canonical (Algorithm 1) order."""

    def sample(self, rng: np.random.Generator) -> Cell:
        """One valid cell drawn from ``rng``."""

    def is_valid(self, cell: Cell) -> bool:
        """Whether ``cell`` belongs to this space."""

    def build(self, arch: Architecture, seed: int | None = None) -> torch.nn.Module:
        """A freshly initialised network for ``arch`` (multi-step SNN, input [N, C, H, W]).

        ``seed=None``: PyTorch's default initialisation. With a seed, every conv, linear and
        BatchNorm layer is initialised from a generator seeded by (seed, the layer's place, its edge
        and op), so two candidates that share a layer at the same place get identical weights.
        """

    def layer_shapes(
        self, arch: Architecture, include_classifier: bool = False
    ) -> list[LayerShape]:
        """The weight layers a hardware model maps, derived without running the network."""


# --- fitness metrics -----------------------------------------------------------------------------


@attrs.frozen
class FitnessScore:
    """A training-free score; ``value`` may be ``-inf`` (a singular kernel is a valid outcome)."""

    value: float
    per_batch: tuple[float, ...]
    settings: Mapping[str, Any] = attrs.field(factory=dict)


@runtime_checkable
class FitnessMetric(Component, Protocol):
    """A training-free score of a freshly initialised candidate.

    A metric may also offer exact reuse with an optional method (not a protocol member, so a metric
    without it still keeps the contract)::

        def group_scorer(self, settings: ScoringSettings, space: SearchSpace) -> GroupScorer | str

    It returns a `GroupScorer` that scores groups of candidates of ``space`` sharing the work they
    have in common, with the scores `score` gives each of them built and quantized from scratch
    (to float rounding), or a string saying why it cannot for these settings. The search then
    scores from scratch and its result's notes give the reason, as they do for a metric without
    the method.
    """

    higher_is_better: bool

    def score(
        self, model: torch.nn.Module, batches: Sequence[torch.Tensor], *, carry_state: bool = True
    ) -> FitnessScore:
        """Score ``model`` (freshly initialised, possibly quantized) on the given input batches.

        ``carry_state``: keep the network's state (membrane potentials) from one batch to the next
        (SNASNet's way) or reset it between batches. Callers pass it by keyword and only when the
        user chose it, so metrics without state may leave the keyword out.
        """


# --- scoring candidates --------------------------------------------------------------------------


@attrs.frozen
class ScoringSettings:
    """How a search scores every candidate, by component name so that a scorer holding it pickles
    (executors send scorers to workers); one record for every scorer, so they cannot disagree."""

    space: str
    fitness: str
    quantizer: str
    weight_bits: int
    rounding: str
    seed: int
    init: str
    carry_state: bool
    batches: tuple[Any, ...]  # the R fitness batches, tensors, in order
    #: a resolved device (neuronas.devices.resolve_device) and the arithmetic there
    device: str = "cpu"
    precision: str = "fp32"


@runtime_checkable
class GroupScorer(Protocol):
    """What the evaluator scores candidates (architecture strings) with: the search's own
    from-scratch scorer or one a fitness metric offers (`FitnessMetric`). Picklable; an executor
    hands each worker whole groups. It may also have ``iter_group(archs)``, `score_group` as a
    generator, so that an in-process executor journals each candidate as soon as it is scored."""

    settings: ScoringSettings

    def groups(self, archs: Sequence[str]) -> list[list[str]]:
        """The candidates, in order, cut into the groups an executor hands out."""

    def score_group(self, archs: Sequence[str]) -> list[tuple[float, float]]:
        """(score, seconds) for each candidate of the group, in order."""

    def __call__(self, arch: str) -> tuple[float, float]:
        """(score, seconds) of one candidate."""


# --- quantizers ----------------------------------------------------------------------------------


@attrs.frozen
class QuantizationReport:
    """What a quantizer did: per-layer formats and errors."""

    bits: int
    rounding: str
    layers: Mapping[str, Mapping[str, float]] = attrs.field(factory=dict)
    max_abs_error: float = 0.0


@runtime_checkable
class Quantizer(Component, Protocol):
    """Quantizes a network's weights: before scoring (QaFE) and after training (PTQ).

    A quantizer that also trains (``neuronas train --weight-bits N --quantizer NAME``) has the
    optional `TrainingQuantizer` method ``prepare_qat``; one without it cannot be trained with.
    """

    def quantize(
        self, model: torch.nn.Module, bits: int, rounding: str = "nearest", seed: int = 0
    ) -> QuantizationReport:
        """Quantize the weights of ``model``'s conv and linear layers in place."""


@runtime_checkable
class TrainingQuantizer(Quantizer, Protocol):
    """A quantizer for quantization-aware training as well."""

    def prepare_qat(
        self, model: torch.nn.Module, bits: int, rounding: str = "nearest", seed: int = 0
    ) -> list[str]:
        """Make ``model``'s forward pass see quantized weights while the optimiser trains their
        float values (a straight-through estimator); the names of the layers it changed."""


# --- hardware cost models ------------------------------------------------------------------------


@attrs.frozen
class HardwareCost:
    """Totals with units, and where they come from."""

    area_mm2: float
    latency_ms: float
    energy_uj: float
    n_pe: int
    n_tiles: int
    energy_uj_per_layer: tuple[float, ...]
    area_mm2_by_component: Mapping[str, float] = attrs.field(factory=dict)
    energy_uj_by_component: Mapping[str, float] = attrs.field(factory=dict)
    per_layer: tuple[Mapping[str, Any], ...] = ()
    params: Mapping[str, Any] = attrs.field(factory=dict)
    #: parameter count: the sum of the mapped layers' weights
    n_weights: int = 0
    #: caveats a user should read with the numbers (e.g. where SpikeSim's own code would fail)
    notes: tuple[str, ...] = ()
    #: name of the hardware model that produced this cost
    model: str = ""


def run_parameters(timesteps: int, weight_bits: int) -> dict[str, int]:
    """What every caller that maps a network passes to ``make_config`` before the user's own
    parameters: ``neuronas run`` (its --timesteps and --weight-bits), ``neuronas cost ARCH`` and
    ``neuronas.estimate_cost`` (the architecture's timesteps and a search's weight bits). A model
    must accept these keys, as numbers or strings; refusing one stops the command with its error."""
    return {"timesteps": timesteps, "weight_bits": weight_bits}


#: The keys of `run_parameters`, which every hardware model takes.
RUN_PARAMETERS = tuple(run_parameters(1, 1))


@runtime_checkable
class HardwareModel(Component, Protocol):
    def make_config(self, overrides: Mapping[str, Any] | None = None) -> Any:
        """A frozen config with the model's defaults, updated by ``overrides`` (checked: an unknown
        key or a bad value is a UsageError; ``overrides`` always hold the `RUN_PARAMETERS`)."""

    def estimate(self, layers: Sequence[LayerShape], config: Any) -> HardwareCost:
        """Area, latency and energy of the mapped ``layers``."""


# --- datasets ------------------------------------------------------------------------------------


@attrs.frozen
class DataSplit:
    """A whole split in memory, integer labels [N] and either normalised float images [N, C, H, W]
    (static: the network repeats each image over its timesteps) or, from a time-resolved dataset,
    float frames [N, T, C, H, W] (frame t drives timestep t)."""

    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int

    @property
    def timesteps(self) -> int | None:
        """T of time-resolved samples; None for static images."""
        return int(self.images.shape[1]) if self.images.dim() == 5 else None

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image or frame."""
        channels, height, width = (int(size) for size in self.images.shape[-3:])
        return channels, height, width


@runtime_checkable
class Dataset(Component, Protocol):
    """Images for the fitness batches and for training; ``input_shape`` is (C, H, W).

    A time-resolved dataset (event-camera recordings) says so with ``time_resolved = True`` and has a
    ``sensor_size`` (its native side). Its ``load`` then also takes ``timesteps`` and ``size``
    keywords and bins each recording into ``timesteps`` frames of side ``size`` (None: the side of
    ``input_shape``), so that a network of T timesteps sees one frame per step.
    """

    input_shape: tuple[int, int, int]
    num_classes: int

    def load(self, root: Path | None, split: str) -> DataSplit:
        """Load ``split`` ('train' or 'test') from ``root``; raise DatasetError naming what is missing."""


def is_time_resolved(dataset: Any) -> bool:
    """Whether ``dataset`` loads frames [N, T, C, H, W] (see `Dataset`)."""
    return getattr(dataset, "time_resolved", False) is True


def input_shape_of(dataset: Any, event_size: int | None = None) -> tuple[int, int, int]:
    """The (C, H, W) a network for ``dataset`` takes: its ``input_shape``, for a time-resolved one at
    side ``event_size`` when given (down-sampled, never up); a UsageError otherwise."""
    channels, height, width = tuple(dataset.input_shape)
    if event_size is None:
        return channels, height, width
    if not is_time_resolved(dataset):
        raise UsageError(
            f"--event-size applies to event-camera datasets; {dataset.name!r} holds static images "
            f"({channels}x{height}x{width})"
        )
    sensor = int(getattr(dataset, "sensor_size", height))
    if not whole_number(event_size, 1, sensor):
        raise UsageError(
            f"--event-size must be an integer from 1 to {sensor} ({dataset.name}'s sensor side; frames "
            f"are down-sampled, never up), got {event_size!r}"
        )
    return channels, event_size, event_size


# --- evaluated candidates --------------------------------------------------------------------------


def score_to_json(score: float | None) -> float | str | None:
    if score is None or math.isfinite(score):
        return score
    return "inf" if score > 0 else "-inf"


def score_from_json(value: float | str | None) -> float | None:
    return float(value) if value is not None else None


@attrs.frozen
class Evaluation:
    """One evaluated candidate: its costs, budget violations and (if it was scored) its fitness."""

    arch: str
    phase: str
    costs: Mapping[str, float]
    violations: Mapping[str, float]
    checks: tuple[str, ...]
    score: float | None
    seconds: float
    cached: bool = False

    @property
    def scored(self) -> bool:
        return self.score is not None

    @property
    def feasible(self) -> bool:
        """Meets every budget (checked before scoring or not)."""
        return all(value <= 0 for value in self.violations.values())

    @property
    def rejected_by(self) -> tuple[str, ...]:
        """The checked budgets this candidate broke (why it was not scored)."""
        return tuple(b for b in self.checks if self.violations.get(b, -1.0) > 0)

    @property
    def worst_violation(self) -> float:
        return max([0.0, *self.violations.values()])

    def to_record(self) -> dict[str, Any]:
        return {
            "arch": self.arch,
            "phase": self.phase,
            "costs": dict(self.costs),
            "violations": dict(self.violations),
            "checks": list(self.checks),
            "feasible": self.feasible,
            "score": score_to_json(self.score),
            "seconds": self.seconds,
        }

    @classmethod
    def from_record(cls, record: Any, where: str = "journal record") -> Evaluation:
        """An Evaluation from a journal record, checked field by field: anything else (a record of
        another shape, a string cost, a score of 10**400) is a UsageError that says ``where``."""
        record = mapping(record, where)
        missing = [key for key in RECORD_KEYS if key not in record]
        if missing:
            raise UsageError(f"{where} lacks {', '.join(missing)}; it is not a journal record")
        arch = record["arch"]
        if not isinstance(arch, str):
            raise UsageError(f"{where}: arch must be an architecture string, got {arch!r}")
        try:
            Architecture.parse(arch)
        except UsageError as error:
            raise UsageError(f"{where}: {error}") from None
        costs = mapping(record["costs"], f"{where}: costs")
        if set(costs) != set(COST_NAMES):
            raise UsageError(f"{where}: costs must have exactly {', '.join(COST_NAMES)}")
        violations = mapping(record["violations"], f"{where}: violations")
        checks = record["checks"]
        if not isinstance(checks, list) or not set(checks) <= set(BUDGET_NAMES):
            raise UsageError(f"{where}: checks must be a list of {', '.join(BUDGET_NAMES)}")
        if not set(violations) <= set(BUDGET_NAMES):
            raise UsageError(
                f"{where}: violations name budgets other than {', '.join(BUDGET_NAMES)}"
            )
        score = record["score"]
        if score is not None and score not in ("inf", "-inf"):
            score = number(score, f"{where}: score", limit=PLAUSIBLE)
        return cls(
            arch=arch,
            phase=str(record["phase"]),
            costs={k: number(v, f"{where}: cost {k}", 0.0, PLAUSIBLE) for k, v in costs.items()},
            violations={
                k: number(v, f"{where}: violation {k}", limit=PLAUSIBLE)
                for k, v in violations.items()
            },
            checks=tuple(checks),
            score=score_from_json(score),
            seconds=number(record["seconds"], f"{where}: seconds", 0.0),
        )


#: The keys every journal record has (and ``run``, the fingerprint of the run that wrote it).
RECORD_KEYS = ("arch", "phase", "costs", "violations", "checks", "score", "seconds")
COST_NAMES = tuple(COST_KEYS.values())


@runtime_checkable
class CandidateEvaluator(Protocol):
    """What a strategy hands candidates to (the search's `neuronas.search.Evaluator`): cheap costs
    and budget checks first, the fitness only for what passes, every result journaled."""

    higher_is_better: bool
    history: list[Evaluation]

    def better(self, score: float | None, than: float | None) -> bool:
        """Whether ``score`` beats ``than`` in the metric's direction (``None`` beats nothing)."""

    def evaluate(self, arch: Architecture, phase: str, checks: Sequence[str]) -> Evaluation:
        """One candidate (see `evaluate_many`)."""

    def evaluate_many(
        self, archs: Iterable[Architecture], phase: str, checks: Sequence[str] = BUDGET_NAMES
    ) -> list[Evaluation]:
        """Candidates in order, scored only where the ``checks`` budgets are met."""

    def best_feasible(self) -> Evaluation | None:
        """The best scored candidate that meets every budget."""


# --- search strategies ---------------------------------------------------------------------------


@attrs.frozen
class SearchContext:
    """What a strategy gets: the evaluator, the space, the macro of every candidate, and a seeded RNG."""

    evaluator: CandidateEvaluator
    space: SearchSpace
    macro: Macro
    options: Any  # the run's frozen neuronas.search.SearchConfig
    rng: np.random.Generator


@attrs.frozen
class StrategyOutcome:
    """The strategy's pick and notes for the result and the user."""

    best: Evaluation | None
    notes: tuple[str, ...] = ()


@runtime_checkable
class SearchStrategy(Component, Protocol):
    def search(self, context: SearchContext) -> StrategyOutcome:
        """Propose candidates to ``context.evaluator`` and return the pick."""


# --- executors -----------------------------------------------------------------------------------


@runtime_checkable
class Executor(Component, Protocol):
    """Runs the scorer on groups of candidates. An executor that calls ``fn`` in the caller's own
    process may set ``in_process = True``: it is then handed a ``fn`` that returns a generator,
    which it yields unconsumed so that each candidate is journaled as soon as it is scored."""

    def map(
        self, fn: Callable[[Any], Any], items: Iterable[Any], workers: int = 1
    ) -> Iterator[Any]:
        """Apply ``fn`` to every item with up to ``workers`` in parallel, yielding results in the
        order of ``items`` as they become available."""


# --- exporters -----------------------------------------------------------------------------------


@attrs.frozen
class QuantizedWeights:
    """One layer's weights as a chip stores them: integer codes k of a ``bits``-bit signed
    fixed-point format, weight = k * 2**-fraction_bits."""

    codes: np.ndarray  # int32, the weight's shape
    bits: int
    fraction_bits: int


@attrs.frozen
class ExportRequest:
    """What an exporter writes.

    ``model``: the network in eval mode, without fake quantizers, its weights at their final
    precision (on the fixed-point grid when quantized). ``metadata``: what the network is and where
    it came from (architecture string, source, seed, weight bits, ...) as str, int, float and bool
    values or nested mappings of them, to record verbatim. ``weights``: the integer weights of every
    conv and linear layer by module name (``stem.conv``); empty at full precision.
    """

    model: torch.nn.Module
    arch: Architecture
    metadata: Mapping[str, Any]
    weights: Mapping[str, QuantizedWeights] = attrs.field(factory=dict)


@runtime_checkable
class Exporter(Component, Protocol):
    """A file format that ``neuronas export --format NAME`` writes a network to."""

    def export(self, request: ExportRequest, out: Path) -> list[Path]:
        """Write ``request``'s network to ``out`` (the file the user named, in a folder that exists
        and is writable) and return every file written."""
