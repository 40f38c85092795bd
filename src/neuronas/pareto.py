"""The Pareto front of a run's scored candidates: the fitness against each hardware cost.

A candidate is dominated when another scores at least as well and costs no more, and is strictly
better in one of them. The front is taken among the candidates that meet every budget (those a user
can pick), per cost (score against that cost: a step line in its panel) and over all four costs at
once (the set a multi-objective search would return, what Optuna's ``plot_pareto_front`` shows).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from neuronas.budgets import BUDGETS
from neuronas.contracts import Evaluation


class ScoredRun(Protocol):
    """What the front needs of a run (`neuronas.report.RunReport` is one), so that this module
    does not depend on the report that draws it."""

    run_dir: Path
    config: Mapping[str, Any]
    candidates: tuple[Evaluation, ...]
    higher_is_better: bool

    @property
    def scored(self) -> list[Evaluation]: ...

    def limit(self, budget: str) -> float | None: ...

    def best(self) -> Evaluation | None: ...


_FRONT_COLOUR = "#d62728"
_POINT_COLOUR = "#1f77b4"
_OTHER_COLOUR = "#9a9a9a"


def non_dominated(objectives: Sequence[Sequence[float]]) -> list[int]:
    """Indices of the rows no other row dominates, every column minimised."""
    values = np.asarray(objectives, dtype=float).reshape(len(objectives), -1)
    front = []
    for index, row in enumerate(values):
        no_worse = np.all(values <= row, axis=1)
        better = np.any(values < row, axis=1)
        if not np.any(no_worse & better):
            front.append(index)
    return front


def _objectives(candidates: Sequence[Evaluation], keys: Sequence[str], higher: bool) -> list:
    sign = -1.0 if higher else 1.0
    return [[sign * c.score, *(c.costs[key] for key in keys)] for c in candidates]


def fronts(report: ScoredRun) -> dict[str, Any]:
    """The non-dominated feasible candidates per cost key and over all costs (``"all"``), best
    score first; JSON-ready."""
    pool = [c for c in report.scored if c.feasible and math.isfinite(c.score)]
    keys = [budget.cost_key for budget in BUDGETS]

    def describe(members: list[int], shown: Sequence[str]) -> list[dict[str, Any]]:
        ordered = sorted(
            members, key=lambda i: -pool[i].score if report.higher_is_better else pool[i].score
        )
        return [
            {"arch": pool[i].arch, "score": pool[i].score, **{k: pool[i].costs[k] for k in shown}}
            for i in ordered
        ]

    result: dict[str, Any] = {"candidates": len(pool)}
    for key in keys:
        result[key] = describe(
            non_dominated(_objectives(pool, [key], report.higher_is_better)), [key]
        )
    result["all"] = describe(non_dominated(_objectives(pool, keys, report.higher_is_better)), keys)
    return result


def plot(report: ScoredRun, out: str | Path) -> Path:
    """Four panels, the fitness against each cost: every scored candidate, the front marked and
    joined, the budget as a dashed line (or named in the corner when far off the scale), the chosen
    architecture as a star; a PNG at ``out``."""
    from matplotlib.figure import Figure

    out = Path(out)
    scored = [c for c in report.scored if math.isfinite(c.score)]
    feasible = [c for c in scored if c.feasible]
    others = [c for c in scored if not c.feasible]
    figure = Figure(figsize=(11, 8), dpi=100, layout="constrained")
    best = report.best()
    direction = "higher is better" if report.higher_is_better else "lower is better"
    for axes, budget in zip(figure.subplots(2, 2).flat, BUDGETS, strict=True):
        key = budget.cost_key
        if others:
            axes.scatter(
                [c.costs[key] for c in others],
                [c.score for c in others],
                s=14,
                facecolors="none",
                edgecolors=_OTHER_COLOUR,
                linewidths=0.7,
                label="breaks a budget",
            )
        axes.scatter(
            [c.costs[key] for c in feasible],
            [c.score for c in feasible],
            s=14,
            color=_POINT_COLOUR,
            label="meets every budget",
        )
        members = [
            feasible[i]
            for i in non_dominated(_objectives(feasible, [key], report.higher_is_better))
        ]
        members.sort(key=lambda c: c.costs[key])
        axes.plot(
            [c.costs[key] for c in members],
            [c.score for c in members],
            drawstyle="steps-post",
            color=_FRONT_COLOUR,
            linewidth=1.2,
            marker="o",
            markersize=6,
            markerfacecolor="white",
            markeredgewidth=1.5,
            zorder=4,
            label="Pareto front (score against this cost)",
        )
        if best is not None:
            axes.scatter(
                [best.costs[key]],
                [best.score],
                marker="*",
                s=220,
                color=_FRONT_COLOUR,
                edgecolors="black",
                linewidths=0.8,
                zorder=5,
                label="chosen architecture",
            )
        costs = [c.costs[key] for c in report.candidates]
        if min(costs) > 0 and max(costs) / min(costs) > 20:
            axes.set_xscale("log")
        limit = report.limit(budget.name)
        if limit is not None and limit <= 3 * max(costs):
            axes.axvline(limit, color="black", linestyle="--", linewidth=1.0, label="budget")
        elif limit is not None:
            axes.annotate(
                f"budget {limit:,.4g} {budget.unit} \u2192",
                xy=(0.98, 0.04),
                xycoords="axes fraction",
                ha="right",
                fontsize=8,
            )
        axes.set_xlabel(f"{budget.name} ({budget.unit})")
        axes.set_ylabel(f"fitness ({direction})")
        axes.set_title(f"{budget.name}: {len(members)} candidates on the front", fontsize=9)
        axes.grid(True, alpha=0.3)
    labelled: dict[str, Any] = {}
    for axes in figure.axes:
        for handle, label in zip(*axes.get_legend_handles_labels(), strict=True):
            labelled.setdefault(label, handle)
    figure.legend(
        labelled.values(), labelled.keys(), fontsize=8, loc="outside lower center", ncols=5
    )
    figure.suptitle(
        f"{report.run_dir.name}: fitness ({report.config.get('fitness', '?')}) against each cost; "
        f"{len(feasible)} of {len(scored)} scored candidates meet every budget",
        fontsize=10,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    return out
