"""The typed contract of every component kind, and the results they return.

A plugin registers components through the ``neuronas_register_*`` hooks; each component is an object
that satisfies one of the protocols below. Every component has a ``name`` (what users type) and a
one-line ``description`` (what ``neuronas list KIND`` shows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from neuronas.arch import Architecture, Cell, LayerShape, Macro

if TYPE_CHECKING:
    import numpy as np
    import torch

    from neuronas.search.evaluator import Evaluator


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
    higher_is_better: bool

    def score(
        self, model: torch.nn.Module, batches: Sequence[torch.Tensor], *, carry_state: bool = True
    ) -> FitnessScore:
        """Score ``model`` (freshly initialised, possibly quantized) on the given input batches.

        ``carry_state``: keep the network's state (membrane potentials) from one batch to the next
        (SNASNet's way) or reset it between batches. Callers pass it by keyword and only when the
        user chose it, so metrics without state may leave the keyword out.
        """


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
    def quantize(
        self, model: torch.nn.Module, bits: int, rounding: str = "nearest", seed: int = 0
    ) -> QuantizationReport:
        """Quantize the weights of ``model``'s conv and linear layers in place."""


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


@runtime_checkable
class HardwareModel(Component, Protocol):
    def make_config(self, overrides: Mapping[str, Any] | None = None) -> Any:
        """A frozen config with the model's defaults, updated by ``overrides`` (checked)."""

    def estimate(self, layers: Sequence[LayerShape], config: Any) -> HardwareCost:
        """Area, latency and energy of the mapped ``layers``."""


# --- datasets ------------------------------------------------------------------------------------


@attrs.frozen
class DataSplit:
    """A whole split in memory: normalised float images [N, C, H, W] and integer labels [N]."""

    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int


@runtime_checkable
class Dataset(Component, Protocol):
    input_shape: tuple[int, int, int]
    num_classes: int

    def load(self, root: Path | None, split: str) -> DataSplit:
        """Load ``split`` ('train' or 'test') from ``root``; raise DatasetError naming what is missing."""


# --- search strategies ---------------------------------------------------------------------------


@attrs.frozen
class SearchContext:
    """What a strategy gets: the evaluator, the space, the macro of every candidate, and a seeded RNG."""

    evaluator: Evaluator
    space: SearchSpace
    macro: Macro
    options: Any  # the run's frozen neuronas.search.SearchConfig
    rng: np.random.Generator


@attrs.frozen
class StrategyOutcome:
    """The strategy's pick (an ``Evaluation``, or ``None``) and notes for the result and the user."""

    best: Any
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
