"""One working component per kind, with its tests: the ``$``-templates `neuronas new-plugin` fills.

Each component is small but complete: it passes its `neuronas.testing` check, and the comments say
what to replace with your own.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class ComponentTemplate:
    """What a scaffolded package of one kind holds beyond the files every package has."""

    label: str  # "hardware model"
    module: str  # the component's module: src/<package>/<module>.py
    symbol: str  # what plugin.py imports ($Class is the name in CamelCase)
    instance: str  # what plugin.py registers
    check: str  # the neuronas.testing function its tests call
    summary: str  # the README's first paragraph
    usage: str  # the README's "Use it" commands
    source: str
    tests: str


HARDWARE_MODEL = '''\
"""The ``$name`` hardware model.

Area, latency and energy of a network's weight layers: a starting point for your chip's equations.
Every weight is stored at ``weight_bits`` bits (area); every multiply-accumulate (MAC) of every
timestep costs ``energy_per_mac_pj`` at 8-bit weights, scaled by the weight bits (energy); the chip
does ``macs_per_cycle`` MACs per clock cycle, one layer after the other (latency). Replace the
equations in `estimate` and the parameters in `${Class}Config` with your chip's;
``neuronas.testing.check_hardware_model`` checks the contract.
"""

from __future__ import annotations

import contextlib
import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from neuronas.arch import LayerShape
from neuronas.contracts import HardwareCost
from neuronas.errors import HardwareModelError, UsageError

NAME = "$name"
PJ_PER_UJ = 1e6
UM2_PER_MM2 = 1e6
CYCLES_PER_MS_PER_MHZ = 1e3


def _positive(_instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise UsageError(f"{NAME} parameter {attribute.name}={value!r}: expected a number > 0")


def _parameter(default: float, unit: str, meaning: str) -> Any:
    """A config field; its default's type (int or float) is the type its values must have."""
    return attrs.field(
        default=default, validator=_positive, metadata={"unit": unit, "meaning": meaning}
    )


@attrs.frozen
class ${Class}Config:
    """Every parameter of the model and its default; ``metadata`` holds its unit and meaning."""

    # neuronas run passes these two from its --timesteps and --weight-bits: keep them.
    timesteps: int = _parameter(5, "steps", "SNN timesteps per inference")
    weight_bits: int = _parameter(8, "bits", "bits per stored weight")
    clock_mhz: float = _parameter(200.0, "MHz", "clock frequency")
    macs_per_cycle: int = _parameter(64, "MACs", "multiply-accumulates per clock cycle")
    energy_per_mac_pj: float = _parameter(1.0, "pJ", "one MAC with an 8-bit weight")
    area_per_bit_um2: float = _parameter(0.1, "um^2", "memory area per stored weight bit")


PARAMETERS = {field.name: field for field in attrs.fields(${Class}Config)}


def _number(key: str, value: Any) -> int | float:
    """A parameter's value from JSON or TOML, or from a ``--set key=value`` string."""
    kind = type(PARAMETERS[key].default)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = kind(value.strip())
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, kind | int) or not math.isfinite(value):
        expected = "an integer" if kind is int else "a number"
        raise UsageError(f"{NAME} parameter {key}={value!r}: expected {expected}")
    return kind(value)


@attrs.frozen
class ${Class}Model:
    """Satisfies ``neuronas.contracts.HardwareModel``: the hardware model this package adds."""

    name: str = NAME
    description: str = "MAC-count model: energy per MAC, MACs per cycle, area per weight bit"

    def make_config(
        self,
        overrides: Mapping[str, Any] | None = None,
    ) -> ${Class}Config:
        """The defaults updated by ``overrides``; an unknown key or a bad value is a UsageError."""
        values = {}
        for key, value in (overrides or {}).items():
            if key not in PARAMETERS:
                close = difflib.get_close_matches(key, PARAMETERS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                valid = ", ".join(PARAMETERS)
                raise UsageError(f"unknown {NAME} parameter {key!r}{hint}; valid: {valid}")
            values[key] = _number(key, value)
        return ${Class}Config(**values)

    def estimate(
        self,
        layers: Sequence[LayerShape],
        config: ${Class}Config,
    ) -> HardwareCost:
        per_layer = []
        for index, layer in enumerate(layers):
            if layer.kind == "conv":
                fan_in = layer.in_channels * layer.kernel**2
                outputs = layer.out_channels * layer.out_size**2
            elif layer.kind == "linear":
                fan_in, outputs = layer.in_channels, layer.out_channels
            else:
                raise HardwareModelError(
                    f"{NAME} cannot map layer {index} ({layer.name or layer.kind}) of kind "
                    f"{layer.kind!r}; it maps 'conv' and 'linear' layers"
                )
            macs = fan_in * outputs * config.timesteps
            cycles = macs / config.macs_per_cycle
            mac_pj = config.energy_per_mac_pj * config.weight_bits / 8
            per_layer.append(
                {
                    "name": layer.name or f"layer{index}",
                    "kind": layer.kind,
                    "weights": layer.weights,
                    "macs": macs,
                    "area_mm2": layer.weights
                    * config.weight_bits
                    * config.area_per_bit_um2
                    / UM2_PER_MM2,
                    "latency_ms": cycles / (config.clock_mhz * CYCLES_PER_MS_PER_MHZ),
                    "energy_uj": macs * mac_pj / PJ_PER_UJ,
                }
            )
        energy = tuple(entry["energy_uj"] for entry in per_layer)
        return HardwareCost(
            area_mm2=sum(entry["area_mm2"] for entry in per_layer),
            latency_ms=sum(entry["latency_ms"] for entry in per_layer),
            energy_uj=sum(energy),
            n_pe=1,
            n_tiles=1,
            energy_uj_per_layer=energy,
            per_layer=tuple(per_layer),
            params=attrs.asdict(config),
            n_weights=sum(entry["weights"] for entry in per_layer),
            model=NAME,
        )
'''

HARDWARE_TESTS = '''\
"""The hardware model: the neuronas contract, a case by hand, and its errors."""

import neuronas.testing
import pytest
from neuronas.arch import LayerShape
from neuronas.errors import HardwareModelError, UsageError

from $module import ${Class}Model

MODEL = ${Class}Model()
CONV = LayerShape("conv", in_channels=2, out_channels=4, kernel=3, in_size=8, out_size=8)


def test_keeps_the_hardware_model_contract():
    neuronas.testing.check_hardware_model(MODEL)


def test_one_conv_layer_by_hand():
    # fan-in 2*3*3 = 18, outputs 4*8*8 = 256, MACs 18*256*5 timesteps = 23040
    # energy 23040 * 1 pJ * 8/8 = 23040 pJ; latency 23040 / 64 = 360 cycles at 200 MHz
    # area 72 weights * 8 bits * 0.1 um^2 = 57.6 um^2
    cost = MODEL.estimate([CONV], MODEL.make_config())
    assert cost.energy_uj == pytest.approx(0.02304)
    assert cost.latency_ms == pytest.approx(0.0018)
    assert cost.area_mm2 == pytest.approx(57.6e-6)
    assert cost.n_weights == 72


def test_four_bit_weights_halve_energy_and_area():
    full = MODEL.estimate([CONV], MODEL.make_config())
    half = MODEL.estimate([CONV], MODEL.make_config({"weight_bits": "4"}))
    assert half.energy_uj == pytest.approx(full.energy_uj / 2)
    assert half.area_mm2 == pytest.approx(full.area_mm2 / 2)


def test_errors_name_what_is_wrong():
    with pytest.raises(UsageError, match=r"unknown .* parameter 'timestep'.*'timesteps'"):
        MODEL.make_config({"timestep": 4})
    with pytest.raises(UsageError, match="clock_mhz='fast': expected a number"):
        MODEL.make_config({"clock_mhz": "fast"})
    pool = LayerShape("pool", 4, 4, 2, 8, 4)  # type: ignore[arg-type]
    with pytest.raises(HardwareModelError, match="cannot map layer 0"):
        MODEL.estimate([pool], MODEL.make_config())
'''

SPACE = '''\
"""The ``$name`` search space.

4-node cells with skip, 1x1 and 3x3 convolutions or 3x3 average pooling on each of their 6 edges
(4096 cells), made as a ``neuronas.snn.CellSearchSpace``, the class of the built-in spaces: choose
the operations (``neuronas.snn.BUILTIN_OPS`` has zero, skip, conv1x1, conv3x3, conv5x5, conv7x7,
avgpool3x3), the node count and whether the edge from input to output may be the zero op, and it
enumerates, samples, builds and maps the cells. A space of another shape implements the five methods
of ``neuronas.contracts.SearchSpace`` itself; ``neuronas.testing.check_search_space`` checks either.
"""

from neuronas.snn import CellSearchSpace

SPACE = CellSearchSpace(
    name="$name",
    description="4-node cells over skip, conv1x1, conv3x3 and avgpool3x3 (4096 cells)",
    ops=("skip", "conv1x1", "conv3x3", "avgpool3x3"),
    nodes=4,
)
'''

SPACE_TESTS = '''\
"""The search space: the neuronas contract and its cells."""

import neuronas.testing
from neuronas.arch import Cell

from $module import SPACE


def test_keeps_the_search_space_contract():
    neuronas.testing.check_search_space(SPACE)


def test_it_has_every_cell_of_its_four_ops():
    assert sum(1 for _ in SPACE.enumerate()) == 4**6
    assert SPACE.is_valid(Cell(("conv1x1",) * 6))
    assert not SPACE.is_valid(Cell(("conv5x5",) * 6))
'''

FITNESS = '''\
"""The ``$name`` fitness metric.

How differently a fresh network answers different inputs: a training-free score in the spirit of
NeuroNAS's: a network whose outputs already tell its inputs apart at initialisation tends to train
well. The score is the spread (standard deviation over the inputs of a batch, averaged over the
outputs) of the network's class outputs, averaged over the batches. Replace `score` with your own;
``neuronas.testing.check_fitness_metric`` checks the contract.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import torch
from neuronas.contracts import FitnessScore
from neuronas.errors import UsageError
from spikingjelly.activation_based import functional


@attrs.frozen
class ${Class}Metric:
    """Satisfies ``neuronas.contracts.FitnessMetric``: the fitness metric this package adds."""

    name: str = "$name"
    description: str = "spread of a fresh network's outputs over its inputs; higher is better"
    higher_is_better: bool = True

    def score(
        self, model: torch.nn.Module, batches: Sequence[torch.Tensor], *, carry_state: bool = True
    ) -> FitnessScore:
        """Score ``model`` on ``batches``; ``carry_state=False`` resets it between batches."""
        if not batches or min(len(batch) for batch in batches) < 2:
            raise UsageError(f"the {self.name} metric needs batches of at least 2 inputs")
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        was_training = model.training
        model.eval()  # no dropout: the same network always gets the same score
        functional.reset_net(model)
        per_batch = []
        try:
            for index, batch in enumerate(batches):
                if index and not carry_state:
                    functional.reset_net(model)
                outputs = model(batch.to(device)).float()
                per_batch.append(float(outputs.std(dim=0).mean()))
        finally:
            functional.reset_net(model)  # leave no state for the next caller
            model.train(was_training)
        value = sum(per_batch) / len(per_batch)
        settings = {"metric": self.name, "carry_state": carry_state, "batches": len(batches)}
        return FitnessScore(value, tuple(per_batch), settings)
'''

FITNESS_TESTS = '''\
"""The fitness metric: the neuronas contract and its score."""

import neuronas
import neuronas.testing
import pytest
import torch
from neuronas.errors import UsageError

from $module import ${Class}Metric

METRIC = ${Class}Metric()
CELL = "|conv3x3~0|+|skip~0|conv3x3~1|+|skip~0|skip~1|conv3x3~2|"
ARCH = f"a={CELL};b={CELL};width=8;hidden=16"


def test_keeps_the_fitness_metric_contract():
    neuronas.testing.check_fitness_metric(METRIC)


def test_scores_a_candidate_of_a_search():
    model = neuronas.build_model(ARCH, dataset="digits")
    batches = [torch.randn(8, 1, 8, 8, generator=torch.Generator().manual_seed(0))]
    with torch.no_grad():
        score = METRIC.score(model, batches)
    assert score.value >= 0 and len(score.per_batch) == 1


def test_needs_two_inputs_per_batch():
    model = neuronas.build_model(ARCH, dataset="digits")
    with pytest.raises(UsageError, match="at least 2 inputs"):
        METRIC.score(model, [torch.zeros(1, 1, 8, 8)])
'''

QUANTIZER = '''\
"""The ``$name`` quantizer: symmetric weights, one scale per output channel.

Each conv and linear layer's weights are rounded to ``2**(bits - 1) - 1`` levels on either side of
zero, with a scale per output channel chosen so that the channel's largest weight is a level: no
weight is clipped. Replace `quantize` with your format; ``neuronas.testing.check_quantizer``
checks the contract.
"""

from __future__ import annotations

import attrs
import torch
from neuronas.contracts import QuantizationReport
from neuronas.errors import UsageError
from torch import nn

ROUNDINGS = ("nearest", "floor", "stochastic")
BITS = range(2, 33)


@attrs.frozen
class ${Class}Quantizer:
    """Satisfies ``neuronas.contracts.Quantizer``: the quantizer this package adds."""

    name: str = "$name"
    description: str = "symmetric fixed-point weights with one scale per output channel"

    def quantize(
        self, model: nn.Module, bits: int, rounding: str = "nearest", seed: int = 0
    ) -> QuantizationReport:
        """Quantize the weights of ``model``'s conv and linear layers in place."""
        if rounding not in ROUNDINGS:
            raise UsageError(f"{self.name}: unknown rounding {rounding!r}; valid: {ROUNDINGS}")
        if bits not in BITS:
            raise UsageError(f"{self.name}: weight bits must be 2 to 32, got {bits!r}")
        levels = 2 ** (bits - 1) - 1
        generator = torch.Generator().manual_seed(seed)
        layers, worst = {}, 0.0
        with torch.no_grad():
            for name, module in model.named_modules():
                if not isinstance(module, nn.Conv2d | nn.Linear):
                    continue
                weight = module.weight
                largest = weight.abs().reshape(len(weight), -1).amax(dim=1).clamp_min(1e-30)
                scale = (largest / levels).reshape(-1, *[1] * (weight.dim() - 1))
                scaled = weight / scale
                if rounding == "nearest":
                    codes = torch.round(scaled)
                elif rounding == "floor":
                    codes = torch.floor(scaled)
                else:
                    noise = torch.rand(scaled.shape, generator=generator).to(scaled.device)
                    codes = torch.floor(scaled + noise)
                quantized = codes.clamp(-levels, levels) * scale
                error = float((quantized - weight).abs().max())
                weight.copy_(quantized)
                layers[name] = {"max_abs_error": error}
                worst = max(worst, error)
        return QuantizationReport(bits, rounding, layers, worst)
'''

QUANTIZER_TESTS = '''\
"""The quantizer: the neuronas contract and its levels."""

import neuronas.testing
import pytest
import torch
from neuronas.errors import UsageError

from $module import ${Class}Quantizer

QUANTIZER = ${Class}Quantizer()


def test_keeps_the_quantizer_contract():
    neuronas.testing.check_quantizer(QUANTIZER)


def test_two_bits_leave_three_levels_per_channel():
    layer = torch.nn.Linear(16, 4)
    report = QUANTIZER.quantize(torch.nn.Sequential(layer), 2)
    for row in layer.weight:
        assert len(torch.unique(row)) <= 3
    assert report.max_abs_error > 0


def test_bad_settings_are_usage_errors():
    with pytest.raises(UsageError, match="unknown rounding"):
        QUANTIZER.quantize(torch.nn.Linear(2, 2), 4, rounding="up")
    with pytest.raises(UsageError, match="2 to 32"):
        QUANTIZER.quantize(torch.nn.Linear(2, 2), 1)
'''

STRATEGY = '''\
"""The ``$name`` search strategy.

It samples candidates whose two cells are the same and keeps the best. It draws ``--candidates``
cells from the space with the search's seeded generator, evaluates each as cell A and cell B (the
evaluator checks the budgets first and scores only what meets them), and returns the best candidate
that meets every budget. Replace `search` with your own; ``neuronas.testing.check_strategy`` checks
the contract.
"""

from __future__ import annotations

from neuronas.arch import Architecture
from neuronas.contracts import SearchContext, StrategyOutcome


class ${Class}Strategy:
    """Satisfies ``neuronas.contracts.SearchStrategy``: the strategy this package adds."""

    name = "$name"
    description = "--candidates sampled cells, each as both cell A and cell B; the best feasible"

    def search(self, context: SearchContext) -> StrategyOutcome:
        cells = [context.space.sample(context.rng) for _ in range(context.options.candidates)]
        archs = [Architecture(cell, cell, context.macro) for cell in cells]
        context.evaluator.evaluate_many(archs, phase="$name")
        best = context.evaluator.best_feasible()
        notes = () if best is not None else ("no sampled candidate met every budget",)
        return StrategyOutcome(best, notes)
'''

STRATEGY_TESTS = '''\
"""The search strategy: the neuronas contract, and what it proposes."""

import neuronas
import neuronas.testing
import numpy as np
from neuronas.contracts import SearchContext

from $module import ${Class}Strategy

STRATEGY = ${Class}Strategy()


def test_keeps_the_strategy_contract():
    neuronas.testing.check_strategy(STRATEGY)


def test_proposes_as_many_candidates_as_asked_each_with_one_cell_twice():
    evaluator = neuronas.testing.StandInEvaluator()
    space = neuronas.get_component("space", "neuronas-3op")
    options = neuronas.SearchConfig(candidates=7)
    rng = np.random.default_rng(0)
    STRATEGY.search(SearchContext(evaluator, space, neuronas.testing.SMALL_MACRO, options, rng))
    assert len(evaluator.proposed) == 7
    assert all(arch.cell_a == arch.cell_b for arch in evaluator.proposed)
'''

DATASET = '''\
"""The ``$name`` dataset.

Generated 8x8 grey images of stripes, one stripe frequency per class: a stand-in for your data:
``load`` must return a whole split in memory, images normalised to floats [N, C, H, W] and integer
labels [N]. A dataset read from files takes them from ``root`` (``--data-dir``) and raises
``neuronas.errors.DatasetError`` naming what is missing; ``neuronas.testing.check_dataset`` checks
the contract.
"""

from __future__ import annotations

import math
from pathlib import Path

import attrs
import torch
from neuronas.contracts import DataSplit
from neuronas.errors import UsageError

SIZES = {"train": 400, "test": 100}


@attrs.frozen
class ${Class}Dataset:
    """Satisfies ``neuronas.contracts.Dataset``: the dataset this package adds."""

    name: str = "$name"
    description: str = "generated 8x8 stripes, 4 classes (400 train, 100 test), offline"
    input_shape: tuple[int, int, int] = (1, 8, 8)
    num_classes: int = 4

    def load(self, root: Path | None, split: str) -> DataSplit:
        """``split`` of the data; ``root`` is not needed (the images are generated)."""
        if split not in SIZES:
            raise UsageError(f"unknown split {split!r}; valid splits: {', '.join(SIZES)}")
        generator = torch.Generator().manual_seed(list(SIZES).index(split))
        labels = torch.arange(SIZES[split]) % self.num_classes
        rows = torch.arange(8, dtype=torch.float32).reshape(1, 8, 1)
        stripes = torch.sin(rows * (labels.reshape(-1, 1, 1) + 1) * math.pi / 8)
        images = stripes.expand(-1, 8, 8).unsqueeze(1)
        images = images + 0.3 * torch.randn(images.shape, generator=generator)
        return DataSplit(images.contiguous(), labels, self.num_classes)
'''

DATASET_TESTS = '''\
"""The dataset: the neuronas contract and its splits."""

import neuronas.testing

from $module import ${Class}Dataset

DATASET = ${Class}Dataset()


def test_keeps_the_dataset_contract():
    neuronas.testing.check_dataset(DATASET)


def test_every_class_is_as_common():
    labels = DATASET.load(None, "train").labels
    assert labels.bincount().tolist() == [100] * 4
'''

EXECUTOR = '''\
"""The ``$name`` executor.

It scores candidate groups one after another in this process: the simplest executor there is, to
replace with your pool or cluster: ``map`` must yield ``fn(item)`` for every item, in order. An
executor that runs ``fn`` elsewhere pickles it and sets no ``in_process``; one that calls it here
sets ``in_process = True`` and yields what ``fn`` returns unconsumed, so each candidate is journaled
as soon as it is scored. ``neuronas.testing.check_executor`` checks the contract.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any


class ${Class}Executor:
    """Satisfies ``neuronas.contracts.Executor``: the executor this package adds."""

    name = "$name"
    description = "candidate groups one after another in this process"
    in_process = True

    def map(
        self, fn: Callable[[Any], Any], items: Iterable[Any], workers: int = 1
    ) -> Iterator[Any]:
        for item in items:
            yield fn(item)
'''

EXECUTOR_TESTS = '''\
"""The executor: the neuronas contract."""

import neuronas.testing

from $module import ${Class}Executor


def test_keeps_the_executor_contract():
    neuronas.testing.check_executor(${Class}Executor())
'''

COMPONENTS: dict[str, ComponentTemplate] = {
    "hardware": ComponentTemplate(
        label="hardware model",
        module="model",
        symbol="${Class}Model",
        instance="${Class}Model()",
        check="check_hardware_model",
        summary="It estimates area, latency and energy from the MACs and weights of each layer.",
        usage="""\
$$ neuronas cost '|conv3x3~0|+|skip~0|conv3x3~1|+|skip~0|skip~1|conv3x3~2|' --hardware $name
$$ neuronas run --hardware $name --width 8 --dataset digits --out runs/$name""",
        source=HARDWARE_MODEL,
        tests=HARDWARE_TESTS,
    ),
    "space": ComponentTemplate(
        label="search space",
        module="space",
        symbol="SPACE",
        instance="SPACE",
        check="check_search_space",
        summary="Its cells have skip, 1x1 or 3x3 convolutions or 3x3 average pooling on each edge.",
        usage="""\
$$ neuronas show '|conv1x1~0|+|skip~0|conv3x3~1|+|skip~0|skip~1|avgpool3x3~2|' --space $name
$$ neuronas run --space $name --width 8 --dataset digits --out runs/$name""",
        source=SPACE,
        tests=SPACE_TESTS,
    ),
    "fitness": ComponentTemplate(
        label="fitness metric",
        module="metric",
        symbol="${Class}Metric",
        instance="${Class}Metric()",
        check="check_fitness_metric",
        summary="It scores a fresh network by how differently it answers different inputs.",
        usage="""\
$$ neuronas run --fitness $name --width 8 --dataset digits --out runs/$name
$$ neuronas study --metrics hamming-logdet,$name --archs 10 --epochs 3 --out runs/study""",
        source=FITNESS,
        tests=FITNESS_TESTS,
    ),
    "quantizer": ComponentTemplate(
        label="quantizer",
        module="quantizer",
        symbol="${Class}Quantizer",
        instance="${Class}Quantizer()",
        check="check_quantizer",
        summary="It rounds weights to symmetric fixed-point levels, one scale per output channel.",
        usage="$$ neuronas run --quantizer $name --weight-bits 4 --width 8 --dataset digits "
        "--out runs/$name",
        source=QUANTIZER,
        tests=QUANTIZER_TESTS,
    ),
    "strategy": ComponentTemplate(
        label="search strategy",
        module="strategy",
        symbol="${Class}Strategy",
        instance="${Class}Strategy()",
        check="check_strategy",
        summary="It samples candidates whose two cells are the same and keeps the best feasible.",
        usage="$$ neuronas run --strategy $name --candidates 50 --width 8 --dataset digits "
        "--out runs/$name",
        source=STRATEGY,
        tests=STRATEGY_TESTS,
    ),
    "dataset": ComponentTemplate(
        label="dataset",
        module="dataset",
        symbol="${Class}Dataset",
        instance="${Class}Dataset()",
        check="check_dataset",
        summary="It generates 8x8 images of stripes, one stripe frequency per class.",
        usage="$$ neuronas run --dataset $name --width 8 --out runs/$name",
        source=DATASET,
        tests=DATASET_TESTS,
    ),
    "executor": ComponentTemplate(
        label="executor",
        module="executor",
        symbol="${Class}Executor",
        instance="${Class}Executor()",
        check="check_executor",
        summary="It scores candidate groups one after another in the search's own process.",
        usage="$$ neuronas run --executor $name --width 8 --dataset digits --out runs/$name",
        source=EXECUTOR,
        tests=EXECUTOR_TESTS,
    ),
}
