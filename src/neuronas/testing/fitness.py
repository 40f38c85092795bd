"""`check_fitness_metric`: the `neuronas.contracts.FitnessMetric` contract, rule by rule."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from neuronas.contracts import FitnessMetric, FitnessScore
from neuronas.testing import networks
from neuronas.testing.core import Checker, Conformance, check_members, is_real, label

#: Every rule `check_fitness_metric` holds a metric to, in the order it checks them.
FITNESS_RULES: dict[str, str] = {
    "members": "name, description, higher_is_better and score, as neuronas.contracts.FitnessMetric",
    "direction": "higher_is_better is a bool (the search compares scores with it)",
    "scores": "score(model, batches, carry_state=...) runs on a fresh candidate inside "
    "torch.no_grad(), as the search calls it, with carry_state True and False",
    "returns-score": "score returns a FitnessScore",
    "score-value": "value is a number, -inf or inf allowed, never NaN; per_batch a tuple of "
    "numbers; settings a mapping",
    "deterministic": "the same network and batches give the same value, also when scored twice "
    "(the metric clears the state it leaves)",
    "weights-untouched": "scoring leaves the network's weights as they were",
}


def _same(a: float, b: float) -> bool:
    """Equal to the last bits a different summation order may change; -inf equals -inf."""
    return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def check_fitness_metric(metric: Any, *, space: Any = None) -> Conformance:
    """Hold ``metric`` to every rule of `FITNESS_RULES`; a broken rule is a `ConformanceError`.

    The metric scores small candidates of ``space`` (the default search space if None) on two
    seeded batches of 8 random 1x8x8 images. Needs torch.
    """
    import torch

    check = Checker(label("fitness metric", metric), FITNESS_RULES)
    check_members(check, metric, FitnessMetric)
    direction = metric.higher_is_better
    check.ensure(
        "direction",
        isinstance(direction, bool),
        "metric.higher_is_better",
        f"higher_is_better={direction!r}",
    )
    space = space if space is not None else networks.default_space()
    batches = networks.input_batches()

    def score(model: torch.nn.Module, carry_state: bool, where: str) -> FitnessScore:
        with torch.no_grad():
            result = check.run(
                "scores", where, metric.score, model, list(batches), carry_state=carry_state
            )
        check.ensure(
            "returns-score",
            isinstance(result, FitnessScore),
            where,
            f"returned a {type(result).__name__}, not a neuronas.contracts.FitnessScore",
        )
        value = result.value
        check.ensure(
            "score-value",
            is_real(value) and not math.isnan(value),
            where,
            f"value={value!r}",
        )
        check.ensure(
            "score-value",
            isinstance(result.per_batch, tuple) and all(is_real(v) for v in result.per_batch),
            where,
            f"per_batch={result.per_batch!r}: expected a tuple of numbers",
        )
        check.ensure(
            "score-value",
            isinstance(result.settings, Mapping),
            where,
            f"settings={result.settings!r}: expected a mapping",
        )
        return result

    for carry_state in (True, False):
        where = f"a fresh candidate (seed 0), carry_state={carry_state}"
        model = networks.small_network(space, seed=0)
        weights = {name: value.detach().clone() for name, value in model.named_parameters()}
        first = score(model, carry_state, where)
        changed = [
            name
            for name, value in model.named_parameters()
            if not torch.equal(value.detach(), weights[name])
        ]
        check.ensure(
            "weights-untouched",
            not changed,
            where,
            f"{', '.join(changed[:3])} changed",
        )
        twice = score(model, carry_state, f"{where}, scored a second time")
        check.ensure(
            "deterministic",
            _same(twice.value, first.value),
            f"{where}, scored a second time",
            f"value {twice.value!r}, the first time {first.value!r}",
        )
        rebuilt = score(networks.small_network(space, seed=0), carry_state, f"{where}, rebuilt")
        check.ensure(
            "deterministic",
            _same(rebuilt.value, first.value),
            f"{where}, built again",
            f"value {rebuilt.value!r}, the first network's {first.value!r}",
        )
    return check.report()
