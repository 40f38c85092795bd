"""Conformance checks for plugin authors: call them from your own pytest suite.

Each ``check_*`` function holds one component to the contract of its kind (`neuronas.contracts`),
rule by rule, and raises a `ConformanceError` (an ``AssertionError``) that names the rule it broke
and the input it broke it on; it returns a `Conformance` that lists the rules it checked. Every
built-in component passes its check. docs/testing.md lists the rules of each kind.

    import neuronas.testing
    from my_plugin import MyChip

    def test_my_chip_keeps_the_contract():
        neuronas.testing.check_hardware_model(MyChip())

This module is part of the stable plugin API. Importing it does not import torch; the checks
that build networks (space, fitness, quantizer, dataset) do, when they run.
"""

from neuronas.testing.cli import invoke, reload_plugins
from neuronas.testing.core import Conformance, ConformanceError
from neuronas.testing.datasets import DATASET_RULES, check_dataset
from neuronas.testing.executors import EXECUTOR_RULES, check_executor
from neuronas.testing.fitness import FITNESS_RULES, check_fitness_metric
from neuronas.testing.hardware import HARDWARE_RULES, check_hardware_model, sample_networks
from neuronas.testing.networks import SMALL_MACRO
from neuronas.testing.plugins import PLUGIN_RULES, check_component, check_plugin
from neuronas.testing.quantizers import QUANTIZER_RULES, check_quantizer
from neuronas.testing.spaces import SPACE_RULES, check_search_space
from neuronas.testing.strategies import STRATEGY_RULES, StandInEvaluator, check_strategy

#: The rules of each kind's check, by the kind's name (as `neuronas list kinds` gives it).
RULES = {
    "space": SPACE_RULES,
    "fitness": FITNESS_RULES,
    "quantizer": QUANTIZER_RULES,
    "hardware": HARDWARE_RULES,
    "strategy": STRATEGY_RULES,
    "dataset": DATASET_RULES,
    "executor": EXECUTOR_RULES,
}

__all__ = [
    "DATASET_RULES",
    "EXECUTOR_RULES",
    "FITNESS_RULES",
    "HARDWARE_RULES",
    "PLUGIN_RULES",
    "QUANTIZER_RULES",
    "RULES",
    "SMALL_MACRO",
    "SPACE_RULES",
    "STRATEGY_RULES",
    "Conformance",
    "ConformanceError",
    "StandInEvaluator",
    "check_component",
    "check_dataset",
    "check_executor",
    "check_fitness_metric",
    "check_hardware_model",
    "check_plugin",
    "check_quantizer",
    "check_search_space",
    "check_strategy",
    "invoke",
    "reload_plugins",
    "sample_networks",
]
