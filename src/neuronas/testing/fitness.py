"""`check_fitness_metric`: the `neuronas.contracts.FitnessMetric` contract, rule by rule."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

from neuronas.arch import Architecture
from neuronas.contracts import FitnessMetric, FitnessScore, GroupScorer, ScoringSettings
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
    "group-scorer": "an optional group_scorer(settings, space) returns a "
    "neuronas.contracts.GroupScorer or the reason it offers none (a non-empty str)",
    "group-scores": "a group scorer's groups keep every candidate, in order, and its scores equal "
    "scoring each candidate from scratch",
}

#: How many candidates (one cell A, the first cells B) a metric's group scorer scores.
GROUP_CANDIDATES = 4


def _same(a: float, b: float) -> bool:
    """Equal to the last bits a different summation order may change; -inf equals -inf."""
    return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def check_fitness_metric(metric: Any, *, space: Any = None) -> Conformance:
    """Hold ``metric`` to every rule of `FITNESS_RULES`; a broken rule is a `ConformanceError`.

    The metric scores small candidates of ``space`` (the default search space if None) on two
    seeded batches of 8 random 1x8x8 images. A metric's group scorer is asked for at 8 bits with
    the ``fixed-point`` quantizer and looks ``space`` up by its name, as in a search, so the space
    must be registered. Needs torch.
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
    _check_group_scorer(check, metric, space, batches)
    return check.report()


def _check_group_scorer(check: Checker, metric: Any, space: Any, batches: list[Any]) -> None:
    """The group scorer a metric offers, if it has the optional method (else nothing to hold)."""
    check.mark("group-scorer")
    check.mark("group-scores")
    if getattr(metric, "group_scorer", None) is None:
        return
    import torch

    from neuronas.quantization import FixedPointQuantizer

    settings = ScoringSettings(
        space=space.name,
        fitness=metric.name,
        quantizer="fixed-point",
        weight_bits=8,
        rounding="nearest",
        seed=0,
        init="shared",
        carry_state=True,
        batches=tuple(batches),
    )
    where = f"group_scorer(settings, space {space.name!r}), 8 bits, shared init"
    scorer = check.run("group-scorer", where, metric.group_scorer, settings, space)
    if isinstance(scorer, str):
        check.ensure("group-scorer", bool(scorer.strip()), where, "the reason is empty")
        return
    check.ensure(
        "group-scorer",
        isinstance(scorer, GroupScorer) and callable(scorer),
        where,
        f"returned a {type(scorer).__name__}, neither a GroupScorer nor a str",
    )
    cells = list(itertools.islice(space.enumerate(), GROUP_CANDIDATES))
    archs = [Architecture(cells[0], cell, networks.SMALL_MACRO).to_string() for cell in cells]
    where = f"{where}, {len(archs)} candidates sharing cell A"
    groups = check.run("group-scores", where, scorer.groups, archs)
    check.ensure(
        "group-scores",
        [arch for group in groups for arch in group] == archs,
        where,
        f"groups() gave {groups!r}",
    )
    scores = [
        score
        for group in groups
        for score, _seconds in check.run("group-scores", where, scorer.score_group, group)
    ]
    expected = []
    for arch in archs:
        model = space.build(Architecture.parse(arch), seed=settings.seed)
        FixedPointQuantizer().quantize(model, settings.weight_bits, rounding=settings.rounding)
        with torch.no_grad():
            expected.append(metric.score(model, list(batches), carry_state=True).value)
    check.ensure(
        "group-scores",
        len(scores) == len(archs) and all(map(_same, scores, expected)),
        where,
        f"scores {scores!r}, from scratch {expected!r}",
    )
