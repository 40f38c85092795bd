"""Algorithm 1's order and bookkeeping, random search, and the evaluator's cache and budget checks,
on a tiny space with fake costs and a fake fitness (no networks are built)."""

import itertools

import numpy as np
import pytest

from neuronas.arch import Architecture, Cell, Macro
from neuronas.budgets import Budgets
from neuronas.builtins.strategies import RandomSearch, TwoPhaseSearch
from neuronas.contracts import SearchContext
from neuronas.search.config import SearchConfig
from neuronas.search.evaluator import Evaluator

OPS = ("a", "b")
CELLS = [Cell(ops) for ops in itertools.product(OPS, repeat=3)]  # 3-node cells, 8 in all
MACRO = Macro(width=4, timesteps=2)


class TinySpace:
    name = "tiny"
    description = "8 three-node cells over ops a, b."
    ops = OPS

    def enumerate(self):
        return iter(CELLS)

    def sample(self, rng):
        return CELLS[int(rng.integers(len(CELLS)))]


def count_b(cell):
    return sum(op == "b" for op in cell.ops)


class FakeCosts:
    """Memory grows with b's in cell A; area with b's in cell B; the rest is always fine."""

    def __call__(self, arch):
        return {
            "params": 1 + 10 * count_b(arch.cell_a) + count_b(arch.cell_b),
            "area_mm2": 5 * count_b(arch.cell_b),
            "latency_ms": 1.0,
            "energy_uj": 1.0,
        }


class FakeScorer:
    def __init__(self, scores):
        self.scores = scores
        self.calls = []

    def groups(self, archs):
        return [archs[i : i + 3] for i in range(0, len(archs), 3)]

    def score_group(self, archs):
        self.calls.extend(archs)
        return [(self.scores(Architecture.parse(arch)), 0.0) for arch in archs]


class Inline:
    def map(self, fn, items, workers=1):
        return (fn(item) for item in items)


def make(scores, budgets, **options):
    config = SearchConfig(budgets=budgets, **options)
    scorer = FakeScorer(scores)
    evaluator = Evaluator(config, FakeCosts(), scorer, Inline())
    context = SearchContext(
        evaluator=evaluator,
        space=TinySpace(),
        macro=MACRO,
        options=config,
        rng=np.random.default_rng(0),
    )
    return context, scorer


def budgets(memory=None, area=None):
    return Budgets(max_params=memory, max_area_mm2=area, max_latency_ms=None, max_energy_uj=None)


def arch(cell_a, cell_b):
    return Architecture(cell_a, cell_b, MACRO).to_string()


def test_two_phase_follows_algorithm_1():
    # score favours b's in cell A strongly and a's in cell B mildly
    def scores(a):
        return 10 * count_b(a.cell_a) - count_b(a.cell_b)

    # memory <= 21 allows one b in cell A when B = A (1 + 10 + 1 = 12; two b's: 23)
    context, scorer = make(scores, budgets(memory=21, area=100))
    outcome = TwoPhaseSearch().search(context)
    history = context.evaluator.history
    phase1 = [e for e in history if e.phase == "1"]
    phase2 = [e for e in history if e.phase == "2"]
    assert [e.arch for e in phase1] == [arch(c, c) for c in CELLS]  # Algorithm 1 order
    assert all(e.checks == ("memory",) for e in phase1)
    assert [e.arch for e in phase1 if e.scored] == [
        arch(c, c) for c in CELLS if 1 + 11 * count_b(c) <= 21
    ]
    winner_a = Cell(("a", "a", "b"))  # first cell with one b reaches score 9; later ties do not win
    # phase 2: cell A fixed, every cell B; (A*, A*) was scored in phase 1 and is not re-scored
    assert [e for e in history if e.phase == "2"] == phase2
    assert len(phase2) == len(CELLS) - 1
    assert all(e.arch.startswith(f"a={winner_a};") for e in phase2)
    assert outcome.best.arch == arch(winner_a, Cell(("a", "a", "a")))
    assert outcome.best.score == 10
    assert outcome.notes == ()
    assert len(scorer.calls) == len(set(scorer.calls))  # nothing scored twice


def test_two_phase_carries_the_best_score_into_phase_2():
    # every phase-2 candidate scores below the phase-1 winner: Algorithm 1 keeps the phase-1 pick
    def scores(a):
        return 100 if a.cell_a == a.cell_b else 1

    context, _ = make(scores, budgets(memory=1000, area=1000))
    outcome = TwoPhaseSearch().search(context)
    assert outcome.best.arch == arch(CELLS[0], CELLS[0])
    assert outcome.best.phase == "1"


def test_two_phase_returns_a_feasible_candidate_where_algorithm_1_would_not():
    # the phase-1 winner (all b) breaks the area budget, which phase 1 does not check
    def scores(a):
        if a.cell_a == a.cell_b == CELLS[-1]:
            return 100
        return count_b(a.cell_b) + 0.5 * (a.cell_a == CELLS[-1])

    context, _ = make(scores, budgets(memory=1000, area=10))
    outcome = TwoPhaseSearch().search(context)
    assert outcome.best.feasible
    assert outcome.best.arch == arch(CELLS[-1], Cell(("a", "b", "b")))
    (note,) = outcome.notes
    assert "Algorithm 1 would return" in note and "area" in note


def test_two_phase_with_nothing_under_the_memory_budget_skips_phase_2():
    context, scorer = make(lambda a: 1.0, budgets(memory=0.5))
    outcome = TwoPhaseSearch().search(context)
    assert outcome.best is None
    assert scorer.calls == []
    assert {e.phase for e in context.evaluator.history} == {"1"}
    assert all(e.rejected_by == ("memory",) for e in context.evaluator.history)


def test_random_search_scores_each_sample_once_and_keeps_the_best():
    context, scorer = make(
        lambda a: count_b(a.cell_a) + count_b(a.cell_b), budgets(area=10), candidates=30
    )
    outcome = RandomSearch().search(context)
    history = context.evaluator.history
    assert len({e.arch for e in history}) == len(history) < 30  # duplicates are cache hits
    assert sorted(scorer.calls) == sorted(e.arch for e in history if e.scored)
    feasible = [e for e in history if e.feasible]
    assert outcome.best.score == max(e.score for e in feasible)
    assert all(e.score is None for e in history if not e.feasible)


def test_random_search_without_constraints_scores_everything():
    context, _ = make(
        lambda a: count_b(a.cell_b), budgets(area=1), candidates=20, constraints=False
    )
    outcome = RandomSearch().search(context)
    assert all(e.scored for e in context.evaluator.history)
    assert outcome.best.score == 3 and not outcome.best.feasible


def test_violations_are_relative_and_named():
    evaluation_budgets = Budgets(
        max_params=100, max_area_mm2=10, max_latency_ms=None, max_energy_uj=2
    )
    violations = evaluation_budgets.violations(
        {"params": 150, "area_mm2": 10, "latency_ms": 1e9, "energy_uj": 1}
    )
    assert violations == {"memory": 0.5, "area": 0.0, "energy": -0.5}


@pytest.mark.parametrize(
    ("text", "value"), [("10M", 1e7), ("1.5k", 1500.0), ("500", 500.0), ("none", None)]
)
def test_budget_quantities(text, value):
    assert Budgets(max_params=text).max_params == value


@pytest.mark.parametrize("text", ["-5", "ten", "0", "1X"])
def test_bad_budgets_are_usage_errors(text):
    from neuronas.errors import UsageError

    with pytest.raises(UsageError, match="max_params"):
        Budgets(max_params=text)


def test_random_search_with_same_cells_uses_one_cell_for_a_and_b():
    context, _ = make(lambda a: 0.0, budgets(), candidates=12, same_cells=True)
    RandomSearch().search(context)
    history = context.evaluator.history
    assert history and all(
        Architecture.parse(e.arch).cell_a == Architecture.parse(e.arch).cell_b for e in history
    )
    context, _ = make(lambda a: 0.0, budgets(), candidates=12)
    RandomSearch().search(context)
    assert any(
        Architecture.parse(e.arch).cell_a != Architecture.parse(e.arch).cell_b
        for e in context.evaluator.history
    )
