"""neuronas.testing: every built-in passes its check, and each rule catches the component that
breaks it (deliberately broken toy components, one per rule)."""

import math
import random
import re
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

import neuronas.testing
from neuronas.arch import Architecture, Cell, LayerShape
from neuronas.contracts import FitnessScore, HardwareCost, QuantizationReport, StrategyOutcome
from neuronas.errors import HardwareModelError, UsageError
from neuronas.plugin import manager
from neuronas.snn import CellSearchSpace
from neuronas.testing import ConformanceError

# --- every built-in passes ----------------------------------------------------------------------

NEEDS_FILES = {"cifar10", "cifar100", "tinyimagenet", "mnist", "nmnist", "dvsgesture", "cifar10dvs"}
OWN_PROCESSES = {"process", "ray"}  # start workers: slow, see below


def builtin_entries(kind):
    return list(manager.PluginHost(load_entry_points=False).registry.entries(kind))


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        (kind, entry.name)
        for kind in ("hardware", "space", "fitness", "quantizer", "strategy", "dataset", "executor")
        for entry in builtin_entries(kind)
        if entry.name not in NEEDS_FILES | OWN_PROCESSES
    ],
)
def test_every_builtin_passes_its_check(kind, name):
    component = manager.get_component(kind, name)
    report = neuronas.testing.check_component(kind, component)
    assert set(report.rules) == set(neuronas.testing.RULES[kind]), "every rule was checked"


@pytest.mark.slow
def test_process_executor_passes_its_check():
    report = neuronas.testing.check_executor(manager.get_component("executor", "process"))
    assert "order" in report.rules


@pytest.mark.parametrize("name", sorted(NEEDS_FILES))
def test_file_datasets_without_their_files_fail_loads_with_the_reason(name, tmp_path):
    with pytest.raises(ConformanceError, match=r"breaks rule 'loads'.*DatasetError") as error:
        neuronas.testing.check_dataset(manager.get_component("dataset", name), root=tmp_path)
    assert error.value.rule == "loads"


def test_importing_the_kit_does_not_import_torch():
    code = "import sys, neuronas, neuronas.testing; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_every_rule_is_documented():
    text = (Path(__file__).parents[1] / "docs" / "testing.md").read_text()
    every = {**neuronas.testing.RULES, "plugin": neuronas.testing.PLUGIN_RULES}
    for kind, rules in every.items():
        for rule, meaning in rules.items():
            assert f"| `{rule}` | {meaning} |" in text, (kind, rule)


# --- a correct toy hardware model, and one broken copy per rule ---------------------------------

NAMES = ("timesteps", "weight_bits", "pj_per_mac")


@attrs.frozen
class ToyConfig:
    timesteps: int = 5
    weight_bits: int = 8
    pj_per_mac: float = 1.0


def toy_config(overrides):
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(NAMES))
    if unknown:
        raise UsageError(f"unknown toy parameter(s) {', '.join(unknown)}")
    values = {}
    for key, value in overrides.items():
        try:
            values[key] = float(value) if key == "pj_per_mac" else int(value)
        except ValueError:
            raise UsageError(f"toy parameter {key}={value!r}: expected a number") from None
        if values[key] < 1:
            raise UsageError(f"toy parameter {key}={value!r}: expected at least 1")
    return ToyConfig(**values)


@attrs.frozen
class Toy:
    """Energy and latency from MAC counts, area from weight bits: passes every rule."""

    name: str = "toy"
    description: str = "a toy MAC-count model"

    def make_config(self, overrides=None):
        return toy_config(overrides)

    def energy(self, layer, config):
        pixels = layer.out_size**2 if layer.kind == "conv" else 1
        return layer.weights * pixels * config.timesteps * config.weight_bits * config.pj_per_mac

    def estimate(self, layers, config):
        for layer in layers:
            if layer.kind not in ("conv", "linear"):
                raise HardwareModelError(f"toy cannot map a {layer.kind!r} layer")
        energy = tuple(self.energy(layer, config) * 1e-6 for layer in layers)
        return HardwareCost(**self.fields(layers, config, energy))

    def fields(self, layers, config, energy):
        weights = sum(layer.weights for layer in layers)
        return {
            "area_mm2": weights * config.weight_bits * 1e-6,
            "latency_ms": sum(energy) * 1e-3,
            "energy_uj": sum(energy),
            "n_pe": len(layers),
            "n_tiles": 1,
            "energy_uj_per_layer": energy,
            "params": attrs.asdict(config),
            "n_weights": weights,
            "model": self.name,
        }


def test_the_toy_model_passes():
    report = neuronas.testing.check_hardware_model(Toy())
    assert set(report.rules) == set(neuronas.testing.HARDWARE_RULES)
    assert report.component == "hardware model 'toy'"


class MissingField(Toy):
    def estimate(self, layers, config):
        fields = self.fields(layers, config, (1.0,) * len(layers))
        del fields["n_tiles"]
        return HardwareCost(**fields)


class NegativeCost(Toy):
    def estimate(self, layers, config):
        return attrs.evolve(super().estimate(layers, config), area_mm2=-1.0)


class NaNCost(Toy):
    def estimate(self, layers, config):
        cost = super().estimate(layers, config)
        energy = (math.nan,) * len(layers)
        return attrs.evolve(cost, energy_uj=math.nan, energy_uj_per_layer=energy)


class CheaperWithMoreBits(Toy):
    def energy(self, layer, config):
        return super().energy(layer, config) / config.weight_bits**2


class NonDeterministic(Toy):
    def estimate(self, layers, config):
        cost = super().estimate(layers, config)
        return attrs.evolve(cost, latency_ms=cost.latency_ms + random.random())


class IgnoresUnknownKeys(Toy):
    def make_config(self, overrides=None):
        return toy_config({k: v for k, v in (overrides or {}).items() if k in NAMES})


class PerLayerDoesNotAddUp(Toy):
    def estimate(self, layers, config):
        cost = super().estimate(layers, config)
        return attrs.evolve(cost, energy_uj=2 * cost.energy_uj + 1)


class RefusesRunParameters(Toy):
    def make_config(self, overrides=None):
        if "timesteps" in (overrides or {}):
            raise UsageError("unknown toy parameter 'timesteps'")
        return super().make_config(overrides)


class MutableConfig(Toy):
    def make_config(self, overrides=None):
        return dict(attrs.asdict(super().make_config(overrides)))

    def estimate(self, layers, config):
        return super().estimate(layers, ToyConfig(**config))


class CostsAnUnmappableLayer(Toy):
    def estimate(self, layers, config):
        layers = [attrs.evolve(layer, kind="conv") for layer in layers]
        return super().estimate(layers, config)


class CrashesOnAMaxPoolLayer(Toy):
    def estimate(self, layers, config):
        if any(layer.kind == "pool" for layer in layers):
            raise KeyError(layers[0].kind)
        return super().estimate(layers, config)


class ReturnsADict(Toy):
    def estimate(self, layers, config):
        return {"area_mm2": 1.0}


@pytest.mark.parametrize(
    ("model", "rule", "detail"),
    [
        (MissingField(), "required-fields", "missing 1 required .*'n_tiles'"),
        (ReturnsADict(), "required-fields", "returned a dict.*lacks area_mm2, latency_ms"),
        (NegativeCost(), "finite-costs", "area_mm2=-1.0"),
        (NaNCost(), "finite-costs", "energy_uj=nan"),
        (CheaperWithMoreBits(), "weight-bits-monotone", r"fell from .* \(weight_bits=2\)"),
        (NonDeterministic(), "deterministic", "two calls gave different costs"),
        (IgnoresUnknownKeys(), "unknown-parameter", "'no_such_parameter'.*accepted it"),
        (PerLayerDoesNotAddUp(), "sums", "energy_uj_per_layer adds up to"),
        (RefusesRunParameters(), "run-parameters", "unknown toy parameter 'timesteps'"),
        (MutableConfig(), "frozen-config", "returned a dict"),
        (CostsAnUnmappableLayer(), "unmappable-layer", "accepted it"),
        (CrashesOnAMaxPoolLayer(), "unmappable-layer", "raised KeyError"),
    ],
    ids=lambda value: value if isinstance(value, str) else type(value).__name__,
)
def test_each_broken_rule_is_caught_and_named(model, rule, detail):
    with pytest.raises(ConformanceError) as error:
        neuronas.testing.check_hardware_model(model)
    message = str(error.value)
    assert error.value.rule == rule, message
    assert message.startswith(f"hardware model 'toy' breaks rule {rule!r} (")
    assert " on " in message  # the input it broke on
    assert re.search(detail, message), message


def test_the_failure_names_the_network_and_parameters():
    with pytest.raises(ConformanceError) as error:
        neuronas.testing.check_hardware_model(NegativeCost())
    assert error.value.where == "one 3x3 conv with parameters {'timesteps': 5, 'weight_bits': 8}"


def test_a_cost_that_rises_with_size_but_falls_in_latency_can_opt_out():
    class FasterWhenWider(Toy):
        def estimate(self, layers, config):
            cost = super().estimate(layers, config)
            channels = sum(layer.out_channels for layer in layers)
            return attrs.evolve(cost, latency_ms=1.0 / channels)

    with pytest.raises(ConformanceError, match=r"'size-monotone'.*latency_ms fell"):
        neuronas.testing.check_hardware_model(FasterWhenWider())
    report = neuronas.testing.check_hardware_model(
        FasterWhenWider(), monotone=("area_mm2", "energy_uj")
    )
    assert "size-monotone" in report.rules
    with pytest.raises(ValueError, match=r"unknown total"):
        neuronas.testing.check_hardware_model(Toy(), monotone=("speed",))


def test_networks_of_your_own_are_checked_too():
    class BreaksOnBigLayers(Toy):
        def estimate(self, layers, config):
            if any(layer.out_channels > 4096 for layer in layers):
                return attrs.evolve(super().estimate(layers, config), energy_uj=-1.0)
            return super().estimate(layers, config)

    neuronas.testing.check_hardware_model(BreaksOnBigLayers())
    huge = {"huge": (LayerShape("linear", 16, 8192, 1, 1, 1, name="huge"),)}
    with pytest.raises(ConformanceError, match=r"on huge with parameters"):
        neuronas.testing.check_hardware_model(BreaksOnBigLayers(), layers=huge)


# --- other kinds: a broken component per kind is caught -----------------------------------------


def test_a_fitness_metric_that_returns_nan_is_caught():
    @attrs.frozen
    class NaNMetric:
        name: str = "nan"
        description: str = "always NaN"
        higher_is_better: bool = True

        def score(self, model, batches, *, carry_state=True):
            return FitnessScore(math.nan, (math.nan,))

    with pytest.raises(ConformanceError, match=r"'score-value'.*value=nan"):
        neuronas.testing.check_fitness_metric(NaNMetric())


def test_a_fitness_metric_without_carry_state_is_caught():
    @attrs.frozen
    class NoKeyword:
        name: str = "no-keyword"
        description: str = "forgets carry_state"
        higher_is_better: bool = True

        def score(self, model, batches):
            return FitnessScore(1.0, (1.0,))

    with pytest.raises(ConformanceError, match=r"'scores'.*carry_state"):
        neuronas.testing.check_fitness_metric(NoKeyword())


@attrs.frozen
class OffByOne:
    """A group scorer whose scores are not the metric's: the real ones plus one."""

    settings: object

    def groups(self, archs):
        return [list(archs)]

    def score_group(self, archs):
        reuse = manager.get_component("fitness", "hamming-logdet").group_scorer(
            self.settings, manager.get_component("space", self.settings.space)
        )
        return [(score + 1.0, seconds) for score, seconds in reuse.score_group(archs)]

    def __call__(self, arch):
        return self.score_group([arch])[0]


@pytest.mark.parametrize(
    ("offer", "rule", "detail"),
    [
        (lambda settings: None, "group-scorer", "returned a NoneType"),
        (lambda settings: " ", "group-scorer", "the reason is empty"),
        (OffByOne, "group-scores", r"scores \[.*\], from scratch \["),
    ],
    ids=["not-a-scorer", "empty-reason", "other-scores"],
)
def test_a_broken_group_scorer_is_caught(offer, rule, detail):
    from neuronas.fitness import HammingLogDet

    @attrs.frozen
    class Offering(HammingLogDet):
        def group_scorer(self, settings, space):
            return offer(settings)

    with pytest.raises(ConformanceError, match=rf"'{rule}'.*{detail}"):
        neuronas.testing.check_fitness_metric(Offering())


def test_a_quantizer_that_does_nothing_is_caught():
    @attrs.frozen
    class Nothing:
        name: str = "nothing"
        description: str = "leaves the weights alone"

        def quantize(self, model, bits, rounding="nearest", seed=0):
            return QuantizationReport(bits, rounding)

    with pytest.raises(ConformanceError, match=r"'levels'.*distinct weights"):
        neuronas.testing.check_quantizer(Nothing())


def test_a_prepare_qat_that_leaves_the_forward_pass_in_float_is_caught():
    from neuronas.quantization import FixedPointQuantizer

    @attrs.frozen
    class FloatTraining(FixedPointQuantizer):
        def prepare_qat(self, model, bits, rounding="nearest", seed=0):
            return []  # the forward pass keeps seeing float weights

    with pytest.raises(ConformanceError, match=r"'qat'.*differ from the quantized network's"):
        neuronas.testing.check_quantizer(FloatTraining())


def test_a_space_whose_sample_ignores_the_rng_is_caught():
    @attrs.frozen
    class Unseeded(CellSearchSpace):
        def sample(self, rng):
            while True:
                cell = Cell(random.choice(self.ops) for _ in range(6))
                if self.is_valid(cell):
                    return cell

    space = Unseeded(name="unseeded", description="global random", ops=("skip", "conv3x3"))
    with pytest.raises(ConformanceError, match=r"'sample-seeded'"):
        neuronas.testing.check_search_space(space)


def test_a_strategy_that_returns_an_infeasible_best_is_caught():
    class OverBudget:
        name = "over-budget"
        description = "returns the best candidate that breaks a budget"

        def search(self, context):
            cells = list(context.space.enumerate())[:50]
            archs = [Architecture(cell, cell, context.macro) for cell in cells]
            evaluations = context.evaluator.evaluate_many(archs, "x", checks=())
            over = [evaluation for evaluation in evaluations if not evaluation.feasible]
            return StrategyOutcome(max(over, key=lambda evaluation: evaluation.score))

    with pytest.raises(ConformanceError, match=r"'best-feasible'"):
        neuronas.testing.check_strategy(OverBudget())


def test_an_executor_that_loses_order_is_caught():
    class Reversed:
        name = "reversed"
        description = "yields results backwards"

        def map(self, fn, items, workers=1):
            return reversed([fn(item) for item in items])

    with pytest.raises(ConformanceError, match=r"'order'.*gave \[36, 25"):
        neuronas.testing.check_executor(Reversed())


# --- check_plugin: an installed plugin loads and registers what it should ------------------------


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """Install a plugin module as a fake distribution with a 'neuronas' entry point."""

    def install(module_name, source, entry_name="toy-plugin"):
        site = tmp_path / "site"
        dist = site / f"{module_name}-1.0.dist-info"
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {entry_name}\nVersion: 1.0\n")
        (dist / "entry_points.txt").write_text(f"[neuronas]\n{entry_name} = {module_name}\n")
        (site / f"{module_name}.py").write_text(source)
        monkeypatch.syspath_prepend(str(site))
        return entry_name

    return install


TOY_PLUGIN = """
import neuronas


class Toy:
    name = "toy"
    description = "a toy model"

    def make_config(self, overrides=None):
        return None

    def estimate(self, layers, config):
        raise NotImplementedError


@neuronas.hookimpl
def neuronas_register_hardware(register):
    register(Toy())
"""


def test_check_plugin_finds_the_entry_point_and_its_components(installed):
    name = installed("toy_plugin_ok", TOY_PLUGIN)
    report = neuronas.testing.check_plugin(name, {"hardware": ["toy"]})
    assert report.rules == tuple(neuronas.testing.PLUGIN_RULES)
    with pytest.raises(ConformanceError, match=r"'registers'.*expected \{'space': \['toy'\]\}"):
        neuronas.testing.check_plugin(name, {"space": ["toy"]})


def test_check_plugin_reports_a_plugin_that_fails_to_load(installed):
    name = installed("toy_plugin_broken", "import no_such_module_anywhere\n")
    with (
        pytest.warns(manager.PluginLoadWarning),
        pytest.raises(ConformanceError, match=r"'loads'.*no_such_module_anywhere"),
    ):
        neuronas.testing.check_plugin(name, {"hardware": ["toy"]})


def test_check_plugin_says_when_nothing_is_installed():
    with pytest.raises(ConformanceError, match=r"'installed'.*pip install -e"):
        neuronas.testing.check_plugin("not-installed-anywhere", {"hardware": ["x"]})
