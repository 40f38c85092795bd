"""`check_strategy`: the `neuronas.contracts.SearchStrategy` contract, rule by rule.

The strategy searches the default space against a stand-in evaluator whose costs and scores are
hashes of each architecture string: thousands of candidates a second, the same every time, and
about half of them over some budget.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from neuronas.arch import Architecture
from neuronas.budgets import BUDGET_NAMES, COST_KEYS
from neuronas.contracts import Evaluation, SearchContext, SearchStrategy, StrategyOutcome
from neuronas.testing import networks
from neuronas.testing.core import Checker, Conformance, check_members, label

#: Every rule `check_strategy` holds a strategy to, in the order it checks them.
STRATEGY_RULES: dict[str, str] = {
    "members": "name, description and search, as neuronas.contracts.SearchStrategy",
    "searches": "search(context) runs against the evaluator it is given",
    "returns-outcome": "search returns a StrategyOutcome: best None or an Evaluation, notes strings",
    "proposes": "it proposes candidates of the context's space and macro network",
    "best-evaluated": "the best it returns is one of the evaluations the evaluator gave it",
    "best-feasible": "when a scored candidate meets every budget, the best it returns does too",
    "deterministic": "the same seed proposes the same candidates and returns the same best",
}

#: The fraction of a budget a stand-in cost uses ranges over [0, 1.25): about 1 in 5 breaks it.
OVER_BUDGET = 1.25


def _fractions(arch: str, count: int) -> list[float]:
    digest = hashlib.sha256(arch.encode()).digest()
    return [int.from_bytes(digest[4 * i : 4 * i + 4], "little") / 2**32 for i in range(count)]


@attrs.define
class StandInEvaluator:
    """A `neuronas.contracts.CandidateEvaluator` with hashed costs and scores; it records every
    proposed candidate."""

    higher_is_better: bool = True
    history: list[Evaluation] = attrs.field(factory=list)
    proposed: list[Architecture] = attrs.field(factory=list)
    cache: dict[str, Evaluation] = attrs.field(factory=dict)

    def better(self, score: float | None, than: float | None) -> bool:
        if score is None or math.isnan(score):
            return False
        return than is None or (score > than if self.higher_is_better else score < than)

    def evaluate(self, arch: Architecture, phase: str, checks: Sequence[str]) -> Evaluation:
        return self.evaluate_many([arch], phase, checks)[0]

    def evaluate_many(
        self, archs: Iterable[Architecture], phase: str, checks: Sequence[str] = BUDGET_NAMES
    ) -> list[Evaluation]:
        results = []
        for arch in archs:
            self.proposed.append(arch)
            key = arch.to_string()
            *used, score = _fractions(key, len(BUDGET_NAMES) + 1)
            violations = {b: OVER_BUDGET * u - 1.0 for b, u in zip(BUDGET_NAMES, used, strict=True)}
            passes = all(violations[b] <= 0 for b in checks)
            costs = {COST_KEYS[b]: OVER_BUDGET * u for b, u in zip(BUDGET_NAMES, used, strict=True)}
            evaluation = Evaluation(
                key, phase, costs, violations, tuple(checks), score if passes else None, 0.0
            )
            cached = self.cache.get(key)
            if cached is not None and (cached.scored or not passes):
                evaluation = attrs.evolve(cached, phase=phase, cached=True)
            else:
                self.cache[key] = evaluation
                self.history.append(evaluation)
            results.append(evaluation)
        return results

    def best_feasible(self) -> Evaluation | None:
        best = None
        for evaluation in self.history:
            if evaluation.feasible and self.better(evaluation.score, best.score if best else None):
                best = evaluation
        return best


def _search(check: Checker, strategy: Any, space: Any, options: Any, seed: int):
    import numpy as np

    evaluator = StandInEvaluator()
    context = SearchContext(
        evaluator, space, networks.SMALL_MACRO, options, np.random.default_rng(seed)
    )
    outcome = check.run("searches", f"a search with seed {seed}", strategy.search, context)
    return evaluator, outcome


def check_strategy(strategy: Any, *, space: Any = None, options: Any = None) -> Conformance:
    """Hold ``strategy`` to every rule of `STRATEGY_RULES`; a broken rule is a `ConformanceError`.

    It searches ``space`` (the default search space if None) with ``options`` (a
    `neuronas.SearchConfig`; None: the defaults with 50 candidates) against a `StandInEvaluator`.
    """
    from neuronas.search.config import SearchConfig

    check = Checker(label("search strategy", strategy), STRATEGY_RULES)
    check_members(check, strategy, SearchStrategy)
    space = space if space is not None else networks.default_space()
    options = options if options is not None else SearchConfig(candidates=50)
    evaluator, outcome = _search(check, strategy, space, options, seed=0)
    where = "a search with seed 0"
    check.ensure(
        "returns-outcome",
        isinstance(outcome, StrategyOutcome),
        where,
        f"returned a {type(outcome).__name__}, not a neuronas.contracts.StrategyOutcome",
    )
    best = outcome.best
    check.ensure(
        "returns-outcome",
        best is None or isinstance(best, Evaluation),
        where,
        f"best is a {type(best).__name__}",
    )
    check.ensure(
        "returns-outcome",
        isinstance(outcome.notes, tuple) and all(isinstance(n, str) for n in outcome.notes),
        where,
        f"notes={outcome.notes!r}: expected a tuple of strings",
    )
    check.ensure("proposes", bool(evaluator.proposed), where, "it proposed no candidate")
    for arch in evaluator.proposed:
        check.ensure(
            "proposes",
            arch.macro == networks.SMALL_MACRO,
            where,
            f"{arch} is not of the context's macro network",
        )
        for cell in (arch.cell_a, arch.cell_b):
            check.ensure(
                "proposes", space.is_valid(cell), where, f"cell {cell} is not in the space"
            )
    if best is not None:
        check.ensure(
            "best-evaluated",
            any(best == e or attrs.evolve(best, cached=False) == e for e in evaluator.history),
            where,
            f"best {best.arch} is not an evaluation the evaluator returned",
        )
    feasible = evaluator.best_feasible()
    if feasible is not None:
        check.ensure(
            "best-feasible",
            best is not None and best.feasible and best.scored,
            where,
            f"{feasible.arch} meets every budget, yet the strategy returned "
            + ("nothing" if best is None else f"{best.arch}, which breaks one"),
        )
    again, repeated = _search(check, strategy, space, options, seed=0)
    check.ensure(
        "deterministic",
        again.proposed == evaluator.proposed and getattr(repeated, "best", None) == outcome.best,
        "two searches with seed 0",
        "the candidates or the best differ",
    )
    return check.report()
