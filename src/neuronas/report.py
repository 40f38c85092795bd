"""A look at a finished (or interrupted) search: fitness against a hardware cost, the Pareto front
(`neuronas.pareto`), and a text summary.

Reads only what ``neuronas run`` writes to its run folder (``config.json``, ``journal.jsonl``,
``result.json`` when the run finished) and never changes those files, so it is safe to run on a
search that is still going. Scored candidates are points (one colour per phase, hollow when they
break a budget their phase did not check); candidates rejected by a budget have no score and are
drawn as ticks along the cost axis; the chosen architecture is a labelled star; the budget is a
line, or an arrow at the edge when it lies far outside the candidates' costs.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from neuronas import pareto
from neuronas.budgets import BUDGET, BUDGET_NAMES, BUDGETS, COST_KEYS, UNITS, Budget
from neuronas.contracts import Evaluation
from neuronas.errors import UsageError
from neuronas.folders import read_json
from neuronas.search.journal import Journal
from neuronas.search.run_folder import read_result, read_run_config

#: ``--x`` choices: the budget whose cost is on the horizontal axis (energy first, the default).
AXES: dict[str, Budget] = {b.axis: b for b in sorted(BUDGETS, key=lambda b: b.name != "energy")}
#: A budget further than this factor beyond the largest cost is shown as an arrow, not a line.
_OFF_SCALE = 3.0
_PHASE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")
_REJECTED_COLOUR = "#7f7f7f"
_BEST_COLOUR = "#d62728"
_LABEL_BOX = {"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}


@attrs.frozen
class RunReport:
    """What a run folder holds: its config, every evaluated candidate, and its result if it ended."""

    run_dir: Path
    config: Mapping[str, Any]
    candidates: tuple[Evaluation, ...]
    result: Mapping[str, Any] | None
    higher_is_better: bool

    @property
    def finished(self) -> bool:
        return self.result is not None

    @property
    def scored(self) -> list[Evaluation]:
        return [c for c in self.candidates if c.score is not None]

    @property
    def rejected(self) -> list[Evaluation]:
        return [c for c in self.candidates if c.score is None]

    def limit(self, budget: str) -> float | None:
        value = (self.config.get("budgets") or {}).get(BUDGET[budget].field)
        return None if value is None else float(value)

    def best(self) -> Evaluation | None:
        """The run's chosen architecture, or (for an unfinished run) the best feasible so far."""
        if self.result is not None:
            chosen = (self.result.get("best") or {}).get("arch")
            return next(
                (c for c in self.candidates if c.arch == chosen and c.score is not None), None
            )
        best = None
        for candidate in self.scored:
            if not candidate.feasible or not math.isfinite(candidate.score):
                continue
            if best is None or (
                candidate.score > best.score
                if self.higher_is_better
                else candidate.score < best.score
            ):
                best = candidate
        return best

    def rejected_per_budget(self) -> dict[str, int]:
        counts = dict.fromkeys(BUDGET_NAMES, 0)
        for candidate in self.candidates:
            for budget in candidate.rejected_by:
                counts[budget] += 1
        return counts


def _read_journal(path: Path, fingerprint: str) -> list[Evaluation]:
    """Every complete record, checked as resume checks them; a partial last line (a search writing
    right now) is left out."""
    if not path.is_file():
        return []
    candidates = []
    for number, record in Journal.read_numbered(path):
        where = f"{path}, line {number}"
        candidates.append(Evaluation.from_record(record, where))
        if record.get("run") != fingerprint:
            raise UsageError(f"{where} was written by another run than config.json describes")
    return candidates


def _higher_is_better(saved: Mapping[str, Any], fitness: str) -> bool:
    """The metric's direction as the run saved it; from its plugin for runs that did not save it
    (higher when the plugin is not loaded)."""
    from neuronas.errors import NeuronasError
    from neuronas.plugin import get_component

    if isinstance(saved.get("higher_is_better"), bool):
        return saved["higher_is_better"]
    try:
        return bool(get_component("fitness", fitness).higher_is_better)
    except NeuronasError:
        return True


def load_run(run_dir: str | Path) -> RunReport:
    """Read a run folder, every file checked; a UsageError that says what is wrong when it is not
    one."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir} is not a folder; give the run folder of `neuronas run --out`")
    config = read_run_config(run_dir)
    saved = read_json(run_dir / "config.json", "a run's config.json")
    result = read_result(run_dir)
    candidates = tuple(_read_journal(run_dir / "journal.jsonl", config.fingerprint()))
    if not candidates:
        raise UsageError(f"nothing to report: {run_dir} holds no evaluated candidate yet")
    return RunReport(
        run_dir=run_dir,
        config=config.to_dict(),
        candidates=candidates,
        result=result,
        higher_is_better=_higher_is_better(saved, config.fitness),
    )


def _number(value: float) -> str:
    return f"{value:,.4g}"


def _status(cost: float | None, limit: float | None) -> str:
    if limit is None:
        return "off"
    if cost is None:
        return "-"
    return "ok" if cost <= limit else "over"


def summary(
    report: RunReport, plot_path: Path | None = None, pareto_path: Path | None = None
) -> dict[str, Any]:
    """The facts of the text summary, as JSON-ready data."""
    best = report.best()
    result = report.result or {}
    budgets = []
    for budget in BUDGET_NAMES:
        key = COST_KEYS[budget]
        limit = report.limit(budget)
        cost = best.costs.get(key) if best else None
        status = _status(cost, limit)
        budgets.append(
            {
                "budget": budget,
                "cost": cost,
                "limit": limit,
                "unit": UNITS[key],
                "status": status,
                "rejected": report.rejected_per_budget()[budget],
            }
        )
    scores = [c.score for c in report.scored]
    return {
        "run_dir": str(report.run_dir),
        "finished": report.finished,
        "strategy": report.config.get("strategy"),
        "space": report.config.get("space"),
        "hardware": report.config.get("hardware"),
        "fitness": report.config.get("fitness"),
        "higher_is_better": report.higher_is_better,
        "weight_bits": report.config.get("weight_bits"),
        "dataset": report.config.get("dataset"),
        "best": None
        if best is None
        else {
            "arch": best.arch,
            "score": best.score,
            "phase": best.phase,
            "costs": dict(best.costs),
        },
        "feasible": best is not None and best.feasible,
        "budgets": budgets,
        "candidates_evaluated": len(report.candidates),
        "candidates_scored": len(scores),
        "candidates_rejected": len(report.rejected),
        "non_finite_scores": sum(1 for s in scores if not math.isfinite(s)),
        "per_phase": dict(Counter(c.phase for c in report.candidates)),
        "search_time_s": result.get("search_time_s"),
        "evaluation_time_s": sum(c.seconds for c in report.candidates),
        "notes": list(result.get("notes", [])),
        "plot": None if plot_path is None else str(plot_path),
        "pareto_front": pareto.fronts(report),
        "pareto_plot": None if pareto_path is None else str(pareto_path),
    }


def summary_text(facts: Mapping[str, Any]) -> str:
    """The summary as a few plain lines (printed, and written to report.txt)."""
    state = "finished" if facts["finished"] else "unfinished (no result.json yet)"
    lines = [
        f"run: {facts['run_dir']} ({state})",
        f"search: {facts['strategy']} over {facts['space']}, hardware {facts['hardware']}, "
        f"FxP{facts['weight_bits']}, dataset {facts['dataset']}",
    ]
    best = facts["best"]
    direction = "higher is better" if facts["higher_is_better"] else "lower is better"
    if best is None:
        lines.append("best: none (no scored candidate meets every budget)")
    else:
        label = "best" if facts["finished"] else "best so far"
        lines.append(f"{label}: {best['arch']}")
        feasible = "meets every budget" if facts["feasible"] else "breaks a budget"
        lines.append(
            f"score: {best['score']:.4f} ({facts['fitness']}, {direction}; phase {best['phase']}, "
            f"{feasible})"
        )
    lines.append(f"{'budget':<8} {'cost':>10} {'limit':>10}  {'unit':<8} {'status':<6} rejected")
    for row in facts["budgets"]:
        cost = "-" if row["cost"] is None else _number(row["cost"])
        limit = "off" if row["limit"] is None else _number(row["limit"])
        lines.append(
            f"{row['budget']:<8} {cost:>10} {limit:>10}  {row['unit']:<8} {row['status']:<6} "
            f"{row['rejected']}"
        )
    phases = ", ".join(f"phase {phase}: {count}" for phase, count in facts["per_phase"].items())
    lines.append(
        f"candidates: {facts['candidates_evaluated']} evaluated, {facts['candidates_scored']} "
        f"scored, {facts['candidates_rejected']} rejected by a budget ({phases})"
    )
    if facts["non_finite_scores"]:
        lines.append(
            f"{facts['non_finite_scores']} scored candidates have a non-finite score "
            "(singular kernel) and are not plotted"
        )
    timing = f"evaluation {facts['evaluation_time_s']:.1f} s"
    if facts["search_time_s"] is not None:
        timing = f"{facts['search_time_s']:.1f} s ({timing})"
    lines.append(f"search time: {timing}")
    front = facts["pareto_front"]
    per_cost = ", ".join(f"{budget} {len(front[COST_KEYS[budget]])}" for budget in BUDGET_NAMES)
    lines.append(
        f"Pareto front of the {front['candidates']} scored candidates that meet every budget: "
        f"{len(front['all'])} non-dominated in score and all four costs; against one cost: "
        f"{per_cost}"
    )
    lines.extend(f"note: {note}" for note in facts["notes"])
    if facts["plot"]:
        lines.append(f"plot: {facts['plot']}")
    if facts["pareto_plot"]:
        lines.append(f"Pareto plot: {facts['pareto_plot']}")
    return "\n".join(lines) + "\n"


def _phase_label(phase: str) -> str:
    return f"phase {phase}" if phase[:1].isdigit() else phase


def plot(report: RunReport, x: str = "energy", out: str | Path | None = None) -> Path:
    """Write the fitness-against-cost scatter as a PNG; returns its path."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    if x not in AXES:
        raise UsageError(f"cannot plot against {x!r}; choose one of {', '.join(AXES)}")
    key, budget, unit = AXES[x].cost_key, AXES[x].name, AXES[x].unit
    out = Path(out) if out is not None else report.run_dir / f"report-{x}.png"
    figure = Figure(figsize=(10, 5), dpi=100, layout="constrained")
    axes = figure.add_subplot()

    plotted = [c for c in report.scored if math.isfinite(c.score)]
    phases = list(dict.fromkeys(c.phase for c in report.candidates))
    handles = []
    for index, phase in enumerate(phases):
        colour = _PHASE_COLOURS[index % len(_PHASE_COLOURS)]
        members = [c for c in plotted if c.phase == phase]
        for feasible in (True, False):
            group = [c for c in members if c.feasible is feasible]
            if group:
                axes.scatter(
                    [c.costs[key] for c in group],
                    [c.score for c in group],
                    s=16,
                    facecolors=colour if feasible else "none",
                    edgecolors=colour,
                    linewidths=0.8,
                    alpha=0.8,
                )
        if members:
            handles.append(
                Line2D([], [], marker="o", linestyle="", color=colour, label=_phase_label(phase))
            )
    if any(not c.feasible for c in plotted):
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                linestyle="",
                markerfacecolor="none",
                markeredgecolor="black",
                label="scored, breaks a budget",
            )
        )

    rejected = report.rejected
    if rejected:
        axes.plot(
            [c.costs[key] for c in rejected],
            [0.02] * len(rejected),
            linestyle="",
            marker="|",
            markersize=12,
            color=_REJECTED_COLOUR,
            alpha=0.6,
            transform=axes.get_xaxis_transform(),
        )
        handles.append(
            Line2D(
                [],
                [],
                marker="|",
                linestyle="",
                markersize=12,
                color=_REJECTED_COLOUR,
                label=f"rejected by a budget, not scored ({len(rejected)})",
            )
        )

    costs = [c.costs[key] for c in report.candidates]
    low, high = min(costs), max(costs)
    log_scale = low > 0 and high / low > 20
    if log_scale:
        axes.set_xscale("log")
    limit = report.limit(budget)
    if limit is not None:
        label = f"{budget} budget {_number(limit)} {unit}"
        if limit <= high * _OFF_SCALE:
            axes.axvline(limit, color="black", linestyle="--", linewidth=1.2)
            handles.append(Line2D([], [], color="black", linestyle="--", label=label))
        else:
            axes.annotate(
                f"{label} \u2192",
                xy=(0.99, 0.97),
                xycoords="axes fraction",
                ha="right",
                va="top",
                fontsize=9,
                bbox=_LABEL_BOX,
            )

    best = report.best()
    if best is not None:
        axes.scatter(
            [best.costs[key]],
            [best.score],
            marker="*",
            s=260,
            color=_BEST_COLOUR,
            edgecolors="black",
            linewidths=0.8,
            zorder=5,
        )
        title = "chosen" if report.finished else "best so far"
        axes.annotate(
            f"{title}: score {best.score:.3f}\n{_number(best.costs[key])} {unit}",
            xy=(best.costs[key], best.score),
            xytext=(12, -4),
            textcoords="offset points",
            va="top",
            fontsize=9,
            color=_BEST_COLOUR,
            bbox=_LABEL_BOX,
            zorder=6,
        )
        handles.append(
            Line2D(
                [],
                [],
                marker="*",
                linestyle="",
                markersize=14,
                color=_BEST_COLOUR,
                label="chosen architecture" if report.finished else "best so far",
            )
        )

    direction = "higher is better" if report.higher_is_better else "lower is better"
    axes.set_xlabel(f"{budget} ({unit}{', log scale' if log_scale else ''})")
    axes.set_ylabel(f"fitness: {report.config.get('fitness', '?')} ({direction})")
    axes.set_title(
        f"{report.run_dir.name}: {len(report.candidates)} candidates, "
        f"{len(report.scored)} scored ({report.config.get('strategy', '?')}, "
        f"{report.config.get('hardware', '?')}, FxP{report.config.get('weight_bits', '?')})",
        fontsize=10,
    )
    axes.grid(True, alpha=0.3)
    figure.legend(handles=handles, fontsize=8, loc="outside right upper")
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    return out


def write_report(
    run_dir: str | Path, x: str = "energy", out: str | Path | None = None
) -> tuple[Path, dict[str, Any], str]:
    """Plot, plot the Pareto front (next to the first PNG, ``-pareto`` added; by default
    ``report-pareto.png``), summarise and write ``report.txt``: (PNG path, summary facts, text)."""
    report = load_run(run_dir)
    path = plot(report, x, out)
    front_path = (
        report.run_dir / "report-pareto.png"
        if out is None
        else path.with_name(f"{path.stem}-pareto.png")
    )
    facts = summary(report, path, pareto.plot(report, front_path))
    text = summary_text(facts)
    (report.run_dir / "report.txt").write_text(text)
    return path, facts, text
