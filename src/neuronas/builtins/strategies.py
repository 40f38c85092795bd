"""Built-in search strategies: NeuroNAS's two-phase search (Algorithm 1) and SNASNet's random search."""

from __future__ import annotations

from neuronas.arch import Architecture
from neuronas.budgets import BUDGET_NAMES
from neuronas.contracts import SearchContext, StrategyOutcome
from neuronas.plugin import fire, hookimpl


class TwoPhaseSearch:
    """Algorithm 1 of the paper, with one correction: the returned architecture meets every budget."""

    name = "two-phase"
    description = "NeuroNAS Algorithm 1: cell A (with B = A) under the memory budget, then cell B under all budgets."

    def search(self, context: SearchContext) -> StrategyOutcome:
        evaluator, macro = context.evaluator, context.macro
        cells = list(context.space.enumerate())
        fire("neuronas_phase_started", phase="1", candidates=len(cells))
        best_score = None  # Algorithm 1 starts from -1000; None accepts any score, even below it
        saved_cell_a = None
        chosen = None
        phase1 = evaluator.evaluate_many(
            [Architecture(cell, cell, macro) for cell in cells], phase="1", checks=("memory",)
        )
        for cell, evaluation in zip(cells, phase1, strict=True):
            if evaluation.scored and evaluator.better(evaluation.score, best_score):
                best_score, saved_cell_a, chosen = evaluation.score, cell, evaluation
        fire("neuronas_phase_finished", phase="1", best=chosen)
        if saved_cell_a is not None:
            fire("neuronas_phase_started", phase="2", candidates=len(cells))
            phase2 = evaluator.evaluate_many(
                [Architecture(saved_cell_a, cell, macro) for cell in cells],
                phase="2",
                checks=BUDGET_NAMES,
            )
            for evaluation in phase2:
                if evaluation.scored and evaluator.better(evaluation.score, best_score):
                    best_score, chosen = evaluation.score, evaluation
        fire("neuronas_phase_finished", phase="2", best=chosen)
        if chosen is None or chosen.feasible:
            return StrategyOutcome(chosen)
        corrected = evaluator.best_feasible()
        broken = ", ".join(b for b, v in chosen.violations.items() if v > 0)
        note = (
            f"Algorithm 1 would return {chosen.arch} (phase {chosen.phase}), which breaks the "
            f"{broken} budget(s); returned the best fully feasible candidate instead"
        )
        return StrategyOutcome(corrected, notes=(note,))


class RandomSearch:
    """SNASNet's baseline: sample N architectures, keep the best. Cells A and B are drawn
    independently, or (``same_cells``) one cell serves as both, as SNASNet's search draws them."""

    name = "random"
    description = (
        "SNASNet's random search: N sampled candidates (--candidates), each checked and scored; "
        "--same-cells uses one cell for A and B, as SNASNet does."
    )

    def search(self, context: SearchContext) -> StrategyOutcome:
        options, space, rng = context.options, context.space, context.rng
        archs = []
        for _ in range(options.candidates):
            cell_a = space.sample(rng)
            cell_b = cell_a if options.same_cells else space.sample(rng)
            archs.append(Architecture(cell_a, cell_b, context.macro))
        checks = BUDGET_NAMES if options.constraints else ()
        fire("neuronas_phase_started", phase="random", candidates=len(archs))
        best = None
        for evaluation in context.evaluator.evaluate_many(archs, phase="random", checks=checks):
            if evaluation.scored and context.evaluator.better(
                evaluation.score, best.score if best else None
            ):
                best = evaluation
        fire("neuronas_phase_finished", phase="random", best=best)
        notes = () if options.constraints else ("budgets were not checked (--no-constraints)",)
        return StrategyOutcome(best, notes=notes)


@hookimpl
def neuronas_register_strategies(register):
    register(TwoPhaseSearch())
    register(RandomSearch())
