"""The evaluator every strategy calls: cheap costs and budget checks first, the fitness only if they pass.

Per candidate: derive layer shapes, ask the hardware model for area, latency and energy, count the
weights (memory), record each budget as a named relative violation (<= 0 feasible), and only when the
checks the strategy asks for pass, build the network, quantize it (QaFE) and score it. Results are
cached by the canonical architecture string, so no candidate is scored twice in a run, and every new
evaluation is appended to the run journal.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import attrs

from neuronas.arch import Architecture
from neuronas.budgets import BUDGET_NAMES
from neuronas.contracts import (
    Evaluation,
    FitnessMetric,
    GroupScorer,
    ScoringSettings,
    SearchSpace,
)
from neuronas.devices import numerics
from neuronas.errors import UsageError
from neuronas.plugin import guard, manager
from neuronas.search.config import SearchConfig
from neuronas.search.journal import Journal
from neuronas.seeds import derive_seed


def journal_evaluations(
    journal: Journal, config: SearchConfig, check_arch: Callable[[str], object]
) -> list[Evaluation]:
    """The evaluations an interrupted run journaled, each record checked: its shape, that this run
    wrote it (its ``run`` fingerprint is the config's), and ``check_arch`` (which raises a
    UsageError for an architecture of another space or macro network)."""
    fingerprint = config.fingerprint()
    evaluations = []
    for line, record in journal.numbered_records():
        where = f"{journal.path}, line {line}"
        evaluation = Evaluation.from_record(record, where)
        if record.get("run") != fingerprint:
            raise UsageError(
                f"{where} was written by another run (its settings differ from config.json, or "
                "an older neuronas wrote it); a journal holds one run's records only"
            )
        try:
            check_arch(evaluation.arch)
        except UsageError as error:
            raise UsageError(f"{where}: {error}") from None
        evaluations.append(evaluation)
    return evaluations


def initial_weights_seed(seed: int, init: str, arch: str) -> int:
    """The seed a candidate's network is built from: the run's own (``init="shared"``, so shared
    layers get identical weights) or one derived from it and the architecture (``independent``)."""
    if init == "shared":
        return seed
    return derive_seed(seed, "independent-init", arch)


@attrs.frozen
class CandidateScorer:
    """Build, quantize (QaFE) and score each candidate from scratch; picklable so executors can ship
    it. The `neuronas.contracts.GroupScorer` a search uses when its metric offers none.

    Executors receive groups of candidates (``score_group``), so that a remote executor pays its
    overhead once per group.
    """

    settings: ScoringSettings
    group_size: int = 8

    def init_seed(self, arch: str) -> int:
        return initial_weights_seed(self.settings.seed, self.settings.init, arch)

    def groups(self, archs: Sequence[str]) -> list[list[str]]:
        """Split candidates (in order) into the groups an executor hands out."""
        return [list(archs[i : i + self.group_size]) for i in range(0, len(archs), self.group_size)]

    def score_group(self, archs: Sequence[str]) -> list[tuple[float, float]]:
        """(score, seconds) for each candidate of the group, in order."""
        return list(self.iter_group(archs))

    def iter_group(self, archs: Sequence[str]) -> Iterator[tuple[float, float]]:
        """`score_group` one candidate at a time (in-process executors journal each at once)."""
        for arch in archs:
            yield self(arch)

    def __call__(self, arch: str) -> tuple[float, float]:
        import torch

        settings = self.settings
        started = time.perf_counter()
        space = manager.get_component("space", settings.space)
        model = guard.call(
            "space", space, "build", Architecture.parse(arch), seed=self.init_seed(arch)
        )
        guard.call(
            "quantizer",
            manager.get_component("quantizer", settings.quantizer),
            "quantize",
            model,
            settings.weight_bits,
            rounding=settings.rounding,
            seed=derive_seed(settings.seed, "rounding", arch),
        )
        # built, initialised and quantized on the CPU, the same everywhere
        model.to(settings.device)
        metric = manager.get_component("fitness", settings.fitness)
        with torch.no_grad(), numerics(settings.device, settings.precision):
            result = guard.call(
                "fitness",
                metric,
                "score",
                model,
                list(settings.batches),
                carry_state=settings.carry_state,
            )
        return float(result.value), time.perf_counter() - started


def offered_scorer(
    settings: ScoringSettings, space: SearchSpace, metric: FitnessMetric
) -> GroupScorer | str:
    """The group scorer ``metric`` offers for ``settings`` (exact reuse), or why there is none.

    The metric decides, through its optional ``group_scorer`` (`neuronas.contracts.FitnessMetric`),
    so a third-party metric can offer its own reuse and the search knows no plugin by name.
    """
    if not callable(getattr(metric, "group_scorer", None)):
        return f"fitness {metric.name!r} offers no group scorer, so nothing is shared"
    return guard.call("fitness", metric, "group_scorer", settings, space)


CostFunction = Callable[[Architecture], dict[str, float]]


class Evaluator:
    """Evaluates candidates for strategies; see the module docstring for the order of work."""

    def __init__(
        self,
        config: SearchConfig,
        costs: CostFunction,
        scorer: GroupScorer,
        executor: Any,
        journal: Journal | None = None,
        higher_is_better: bool = True,
        check_arch: Callable[[str], object] = lambda arch: None,
    ) -> None:
        """What ``journal`` already holds (an interrupted run's evaluations) is loaded, every
        record checked (`journal_evaluations`, with ``check_arch``)."""
        self.config = config
        self.costs = costs
        self.scorer = scorer
        self.executor = executor
        self.journal = journal
        self.higher_is_better = higher_is_better
        self.fingerprint = config.fingerprint()
        self.history: list[Evaluation] = (
            journal_evaluations(journal, config, check_arch) if journal is not None else []
        )
        self.cache: dict[str, Evaluation] = {e.arch: e for e in self.history}

    def better(self, score: float | None, than: float | None) -> bool:
        """Whether ``score`` beats ``than`` in the metric's direction (``None`` beats nothing)."""
        if score is None or math.isnan(score):
            return False
        if than is None:
            return True
        return score > than if self.higher_is_better else score < than

    def evaluate(self, arch: Architecture, phase: str, checks: Sequence[str]) -> Evaluation:
        return self.evaluate_many([arch], phase, checks)[0]

    def evaluate_many(
        self, archs: Iterable[Architecture], phase: str, checks: Sequence[str] = BUDGET_NAMES
    ) -> list[Evaluation]:
        """Evaluate candidates in order; fitness runs through the executor for those that pass.

        Records reach the journal in candidate order, each as soon as it is known.
        """
        checks = tuple(b for b in checks if self.config.budgets.limit(b) is not None)
        keys = [arch.to_string() for arch in archs]
        plan: dict[str, Evaluation] = {}  # rejected or cached: known without scoring
        to_score: dict[str, Evaluation] = {}  # passes its checks, score pending
        for key in keys:
            if key in plan or key in to_score:
                continue
            started = time.perf_counter()
            cached = self.cache.get(key)
            if cached is not None:
                costs, violations = dict(cached.costs), dict(cached.violations)
            else:
                costs = self.costs(Architecture.parse(key))
                violations = self.config.budgets.violations(costs)
            passes = all(violations.get(b, -1.0) <= 0 for b in checks)
            evaluation = Evaluation(
                key, phase, costs, violations, checks, None, time.perf_counter() - started
            )
            if cached is not None and (cached.scored or not passes):
                plan[key] = attrs.evolve(
                    evaluation, score=cached.score if passes else None, cached=True, seconds=0.0
                )
            elif passes:
                to_score[key] = evaluation
            else:
                plan[key] = evaluation
        groups = self.scorer.groups(list(to_score))
        # an in-process executor hands back each group's generator, so every candidate reaches
        # the journal as soon as it is scored; other executors return whole groups
        streams = getattr(self.executor, "in_process", False)
        score_group = getattr(self.scorer, "iter_group", None) if streams else None
        score_group = score_group or self.scorer.score_group
        scores = (
            result
            for group in self.executor.map(score_group, groups, self.config.workers)
            for result in group
        )
        results: dict[str, Evaluation] = {}
        for key in keys:
            if key in results:
                continue
            if key in to_score:
                score, seconds = next(scores)
                pending = to_score[key]
                evaluation = attrs.evolve(pending, score=score, seconds=pending.seconds + seconds)
            else:
                evaluation = plan[key]
            results[key] = evaluation if evaluation.cached else self._record(evaluation)
        return [results[key] for key in keys]

    def _record(self, evaluation: Evaluation) -> Evaluation:
        self.cache[evaluation.arch] = evaluation
        self.history.append(evaluation)
        if self.journal is not None:
            self.journal.append({**evaluation.to_record(), "run": self.fingerprint})
        manager.fire("neuronas_candidate_evaluated", evaluation=evaluation)
        return evaluation

    def best_feasible(self) -> Evaluation | None:
        """The best scored candidate that meets every budget."""
        best = None
        for evaluation in self.history:
            if evaluation.feasible and self.better(evaluation.score, best.score if best else None):
                best = evaluation
        return best

    def least_violating(self) -> Evaluation | None:
        return min(self.history, key=lambda e: e.worst_violation, default=None)
