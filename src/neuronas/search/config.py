"""The frozen configuration of one search, and the budgets it enforces."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from neuronas.arch import BATCHNORM_MODES, WEIGHT_INITS, Macro
from neuronas.budgets import Budgets
from neuronas.devices import PRECISIONS
from neuronas.errors import UsageError

#: How a candidate's initial weights are drawn: shared by place and op, or fresh per candidate.
INIT_MODES = ("shared", "independent")

#: The search space everything uses unless told otherwise: NeuroNAS's 3-op cells.
DEFAULT_SPACE = "neuronas-3op"

#: Inputs this large (TinyImageNet) get a stride-2 stem, as in SNASNet.
STEM_STRIDE_FROM = 64


def macro_for(
    options: Any, space: Any, input_shape: tuple[int, int, int], num_classes: int
) -> Macro:
    """The network every candidate of a search (or a study) shares: the options' sizes and
    network settings (``options`` has width, timesteps, hidden, population, dropout, weight_init and
    optionally batchnorm, as `SearchConfig` does), the data's input and classes, and the search
    space's own dropout and initialisation where the options leave them to it."""
    channels, size, _ = tuple(input_shape)
    return Macro(
        width=options.width,
        timesteps=options.timesteps,
        in_channels=channels,
        input_size=size,
        num_classes=num_classes,
        hidden=options.hidden,
        population=options.population,
        stem_stride=2 if size >= STEM_STRIDE_FROM else 1,
        batchnorm=getattr(options, "batchnorm", "per-step"),
        dropout=options.dropout if options.dropout is not None else getattr(space, "dropout", 0.0),
        weight_init=options.weight_init or getattr(space, "weight_init", "pytorch"),
    )


def _choice(choices: tuple[str, ...], optional: bool = False):
    def check(_instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if not (optional and value is None) and value not in choices:
            name = attribute.name.replace("_", "-")
            raise UsageError(f"{name} must be one of {', '.join(choices)}, got {value!r}")

    return check


def _optional_probability(_instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and not (isinstance(value, int | float) and 0.0 <= value < 1.0):
        raise UsageError(f"{attribute.name} must be a number in [0, 1), got {value!r}")


def _positive(_instance: Any, attribute: attrs.Attribute, value: int) -> None:
    if value < 1:
        raise UsageError(f"{attribute.name.replace('_', '-')} must be at least 1, got {value}")


def _optional_positive(_instance: Any, attribute: attrs.Attribute, value: int | None) -> None:
    if value is not None:
        _positive(_instance, attribute, value)


def _option(help: str, **how: Any) -> dict[str, Any]:
    """A field's command-line description, read by `neuronas run` to make its option (so the
    default and the help live with the field): ``help``; ``flag`` (an on/off switch, named
    ``name`` or ``--x/--no-x``; ``inverted`` when the switch turns the field off); ``choices``;
    ``minimum``/``below`` bounds; ``path`` for a folder or file."""
    return {"help": help, **how}


@attrs.frozen
class SearchConfig:
    """Everything that determines a search's result (with the same seed, the same result)."""

    hardware: str = attrs.field(default="spikeflow", metadata=_option("Hardware cost model."))
    strategy: str = attrs.field(default="two-phase", metadata=_option("Search strategy."))
    space: str = attrs.field(default=DEFAULT_SPACE, metadata=_option("Search space."))
    fitness: str = attrs.field(default="hamming-logdet", metadata=_option("Fitness metric."))
    quantizer: str = attrs.field(default="fixed-point", metadata=_option("Weight quantizer."))
    weight_bits: int = attrs.field(default=8, metadata=_option("Weight precision (QaFE), 2..32."))
    rounding: str = attrs.field(default="nearest", metadata=_option("Quantizer rounding."))
    dataset: str = attrs.field(default="digits", metadata=_option("Dataset for fitness batches."))
    data_dir: str | None = attrs.field(
        default=None, metadata=_option("Folder holding the dataset.", path=True)
    )
    #: side of an event dataset's frames (None: the dataset's own); its T is ``timesteps``
    event_size: int | None = attrs.field(
        default=None,
        validator=_optional_positive,
        metadata=_option(
            "Side of an event dataset's frames (down-sampled) [default: the dataset's].",
            minimum=1,
        ),
    )
    budgets: Budgets = attrs.field(factory=Budgets)
    hardware_params: Mapping[str, Any] = attrs.field(factory=dict, converter=dict)
    map_classifier: bool = attrs.field(
        default=False,
        metadata=_option("Map the classifier on the chip too.", flag="--include-classifier"),
    )
    width: int = attrs.field(
        default=128, validator=_positive, metadata=_option("Cell A width C (cell B: 2C).")
    )
    timesteps: int = attrs.field(
        default=5,
        validator=_positive,
        metadata=_option(
            "SNN timesteps T (an event dataset's recordings are binned into T frames)."
        ),
    )
    hidden: int = attrs.field(
        default=1024, validator=_positive, metadata=_option("Classifier hidden LIF width.")
    )
    population: int = attrs.field(
        default=10, validator=_positive, metadata=_option("Output neurons per class.")
    )
    #: BatchNorm statistics per timestep (SNASNet) or pooled over the timesteps
    batchnorm: str = attrs.field(
        default="per-step",
        validator=_choice(BATCHNORM_MODES),
        metadata=_option(
            "BatchNorm statistics per timestep (SNASNet's network) or pooled over the timesteps.",
            choices=BATCHNORM_MODES,
        ),
    )
    #: classifier dropout while scoring; None: the search space's own (0.5 for SNASNet's spaces)
    dropout: float | None = attrs.field(
        default=None,
        validator=_optional_probability,
        metadata=_option(
            "Classifier dropout while scoring [default: the space's; 0.5 for SNASNet's spaces].",
            minimum=0.0,
            below=1.0,
        ),
    )
    #: initial weight distribution; None: the search space's own
    weight_init: str | None = attrs.field(
        default=None,
        validator=_choice(WEIGHT_INITS, True),
        metadata=_option(
            "Initial weight distribution [default: the space's].", choices=WEIGHT_INITS
        ),
    )
    fitness_batch: int = attrs.field(
        default=256, validator=_positive, metadata=_option("Images per batch, S.")
    )
    fitness_batches: int = attrs.field(
        default=2, validator=_positive, metadata=_option("Batches per score, R.")
    )
    carry_state: bool = attrs.field(
        default=True,
        metadata=_option(
            "Reset membranes between the R batches.",
            flag="--reset-between-batches",
            inverted=True,
        ),
    )
    candidates: int = attrs.field(
        default=5000, validator=_positive, metadata=_option("Random search: N samples.")
    )
    #: random search: one sampled cell for both A and B, as SNASNet's search does
    same_cells: bool = attrs.field(
        default=False,
        metadata=_option(
            "Random search: one cell for both A and B (SNASNet's way).", flag="--same-cells"
        ),
    )
    constraints: bool = attrs.field(
        default=True,
        metadata=_option(
            "Do not check budgets (SNASNet-style).", flag="--no-constraints", inverted=True
        ),
    )
    init: str = attrs.field(
        default="shared",
        validator=_choice(INIT_MODES),
        metadata=_option(
            "shared: a layer's weights depend on its place and op only; independent: fresh per "
            "candidate.",
            choices=INIT_MODES,
        ),
    )
    reuse: bool = attrs.field(
        default=True,
        metadata=_option(
            "Compute what candidates share (same weights, same inputs) once; scores are unchanged.",
            flag="--reuse/--no-reuse",
        ),
    )
    executor: str = attrs.field(default="local", metadata=_option("Candidate executor."))
    workers: int = attrs.field(
        default=1, validator=_positive, metadata=_option("Executor workers.")
    )
    #: where candidates are scored (neuronas.devices): auto, cpu, cuda, cuda:N
    device: str = attrs.field(
        default="auto",
        metadata=_option(
            "Where candidates are scored: auto (CUDA when PyTorch sees a GPU), cpu, cuda, cuda:N."
        ),
    )
    #: float arithmetic while scoring: fp32 (strict), tf32 or bf16
    precision: str = attrs.field(
        default="fp32",
        validator=_choice(PRECISIONS),
        metadata=_option(
            "Float arithmetic while scoring (docs/performance.md measures what each changes).",
            choices=PRECISIONS,
        ),
    )
    seed: int = attrs.field(default=0, metadata=_option("Seed for everything random."))

    @weight_bits.validator
    def _check_bits(self, _attribute: attrs.Attribute, value: int) -> None:
        if not 2 <= value <= 32:
            raise UsageError(f"weight-bits must be between 2 and 32, got {value}")

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    def fingerprint(self) -> str:
        """A hash of every option a journal record's costs and score depend on (not the executor,
        the worker count, reuse, the strategy or how many candidates it proposes), which every
        record carries so that a journal never mixes runs."""
        values = {
            k: v
            for k, v in self.to_dict().items()
            if k not in _NOT_IN_RECORDS and not (k in _NEWER_OPTIONS and v is None)
        }
        text = json.dumps(values, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchConfig:
        """A config from ``config.json``'s ``config``: unknown keys and values of the wrong type
        are UsageErrors."""
        if not isinstance(data, Mapping):
            raise UsageError(f"search options must be an object, got {type(data).__name__}")
        data = dict(data)
        unknown = set(data) - {field.name for field in attrs.fields(cls)}
        if unknown:
            raise UsageError(f"unknown search option(s): {', '.join(sorted(unknown))}")
        if "budgets" in data:
            budgets = data["budgets"]
            if not isinstance(budgets, Mapping):
                raise UsageError(f"budgets must be an object, got {budgets!r}")
            unknown = set(budgets) - {field.name for field in attrs.fields(Budgets)}
            if unknown:
                raise UsageError(f"unknown budget(s): {', '.join(sorted(unknown))}")
            data["budgets"] = Budgets(**budgets)
        for field in attrs.fields(cls):
            if field.name in data and field.name != "budgets":
                _check_type(field, data[field.name])
        return cls(**data)


#: Options that change which candidates are evaluated or how fast, not what a record holds.
_NOT_IN_RECORDS = frozenset(
    {"executor", "workers", "reuse", "strategy", "candidates", "same_cells", "data_dir", "device"}
)


#: Options added after runs were first journaled; unset, they leave the fingerprint as it was, so
#: an older run folder still resumes.
_NEWER_OPTIONS = frozenset({"event_size"})


#: The JSON types each annotation admits (bool is not an int here).
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "None": (type(None),),
    "Mapping[str, Any]": (dict,),
}


def read_config_file(path: str | Path) -> SearchConfig:
    """The search options in a TOML file (``run.toml``: `SearchConfig`'s field names at the top
    level, ``[budgets]`` and ``[hardware_params]`` tables) or a JSON file of the same shape; a run
    folder's ``config.json`` is one too, so a run can be repeated from its folder. Anything else is
    a UsageError naming the file."""
    from neuronas.folders import read_options_file

    data = read_options_file(Path(path), "a file of search options")
    try:
        return SearchConfig.from_dict(data)
    except (UsageError, TypeError, ValueError) as error:
        raise UsageError(f"{path}: {error}") from None


def _check_type(field: attrs.Attribute, value: Any) -> None:
    """A UsageError unless ``value`` is of the field's annotated type."""
    allowed = tuple(t for part in str(field.type).split(" | ") for t in _JSON_TYPES[part])
    if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
        name = field.name.replace("_", "-")
        raise UsageError(f"search option {name} has the wrong type: {value!r}")
