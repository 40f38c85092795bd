"""The paper's figures for a sweep, as PNGs: the found network's cost per precision against the
budgets (Fig. 12, with memory), the search time per precision (Fig. 13) and, when the picks were
trained, the test accuracy per precision and per epoch (Fig. 11)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neuronas.budgets import BUDGETS
from neuronas.sweep.config import SweepConfig

FIGURES = {
    "cost": "sweep-cost.png",
    "search_time": "sweep-search-time.png",
    "accuracy": "sweep-accuracy.png",
}
_NEURONAS = "#1f77b4"
_BASELINE = "#ff7f0e"
_OVER = "#d62728"
#: Values (bars and budgets) spanning more than this factor get a log axis.
_LOG_FROM = 30.0
#: The budget units as the figures print them.
_UNITS = {"mm^2": "mm²", "uJ": "µJ"}
_PRECISION_AXIS = "weight precision (fixed point, bits)"

Rows = Sequence[Mapping[str, Any]]


def _is_baseline(row: Mapping[str, Any]) -> bool:
    return row["key"].startswith("baseline-")


def _tick(row: Mapping[str, Any]) -> str:
    precision = f"FxP{row['weight_bits']}"
    return f"SNASNet\n{precision}" if _is_baseline(row) else precision


def _colour(row: Mapping[str, Any]) -> str:
    return _BASELINE if _is_baseline(row) else _NEURONAS


def _short(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.3g}M"
    if value >= 1e3:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _legend(figure: Any, config: SweepConfig, extra: Sequence[Any] = ()) -> None:
    from matplotlib.patches import Patch

    search = config.search
    checked = ", budgets checked" if search.constraints else ", budgets not checked"
    handles = [
        Patch(
            facecolor=_NEURONAS,
            label=f"NeuroNAS ({search.strategy} over {search.space}, QaFE{checked})",
        )
    ]
    if config.baseline is not None:
        label = (
            f"SNASNet baseline (random over {config.baseline}, {config.baseline_candidates} "
            "candidates, FxP32, budgets not checked)"
        )
        handles.append(Patch(facecolor=_BASELINE, label=label))
    handles.extend(extra)
    figure.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=8)


def _title(config: SweepConfig, what: str) -> str:
    search = config.search
    return (
        f"{what} per weight precision: {search.dataset}, width {search.width}, T = "
        f"{search.timesteps}, hardware {search.hardware}"
    )


def _bars(
    axes: Any,
    rows: Rows,
    values: Sequence[float | None],
    hatches: Sequence[bool],
    also: Sequence[float] = (),
    log: bool = True,
    headroom: float = 1.2,
) -> Any:
    """One bar per row (none where the value is missing, marked 'none fits'), on a log axis (if
    ``log``) when the bars and ``also`` (budgets the axis must show) span more than `_LOG_FROM`;
    ``headroom`` leaves room above a linear axis's highest bar for its label."""
    x = np.arange(len(rows))
    present = [i for i, value in enumerate(values) if value is not None]
    bars = axes.bar(
        x[present],
        [values[i] for i in present],
        color=[_colour(rows[i]) for i in present],
        edgecolor=[_OVER if hatches[i] else "black" for i in present],
        linewidth=0.8,
    )
    for bar, i in zip(bars, present, strict=True):
        if hatches[i]:
            bar.set_hatch("//")
    shown = [value for value in (*(values[i] for i in present), *also) if value > 0]
    if log and shown and max(shown) / min(shown) > _LOG_FROM:
        axes.set_yscale("log")
        axes.set_ylim(min(shown) / 3, max(shown) * 4)
    elif shown:
        axes.set_ylim(0, max(shown) * headroom)
    for i, value in enumerate(values):
        if value is None:
            axes.annotate(
                "none fits",
                xy=(i, 0.02),
                xycoords=axes.get_xaxis_transform(),
                ha="center",
                va="bottom",
                rotation=90,
                fontsize=8,
                color=_OVER,
            )
    axes.set_xticks(x, [_tick(row) for row in rows], fontsize=8)
    axes.set_xlim(-0.6, len(rows) - 0.4)
    axes.grid(True, axis="y", alpha=0.3)
    return bars


def _budget_line(
    axes: Any, values: Sequence[float | None], limits: Sequence[float], label: str
) -> None:
    """The dashed budget, one segment per bar (a memory budget in KiB differs per precision),
    labelled above its end over the lower of the outer bars (its right end when the steps rise)."""
    x = np.arange(len(limits))
    axes.hlines(limits, x - 0.5, x + 0.5, colors="black", linestyles="--", linewidth=1.2)
    first, last = (value or 0.0 for value in (values[0], values[-1]))
    right = limits[-1] > limits[0] or last <= first
    axes.annotate(
        label,
        xy=(len(limits) - 0.45, limits[-1]) if right else (-0.55, limits[0]),
        xytext=(0, 3),
        textcoords="offset points",
        ha="right" if right else "left",
        va="bottom",
        fontsize=8,
    )


def _panel(rows: Rows, config: SweepConfig, budget: Any) -> tuple[list, list | None, str, str]:
    """A cost panel's bar values, budget per bar (None: no budget), y label and budget label.
    Memory is drawn in KiB at each row's precision, its budget (weights) converted likewise."""
    limit = config.search.budgets.limit(budget.name)
    if budget.name == "memory":
        values = [row["memory_kib"] for row in rows]
        limits = None if limit is None else [limit * r["weight_bits"] / 8 / 1024 for r in rows]
        text = f"budget {_short(limit)} weights at each precision" if limit else ""
        return values, limits, "memory of the weights (KiB)", text
    unit = _UNITS.get(budget.unit, budget.unit)
    values = [row[budget.cost_key] for row in rows]
    limits = None if limit is None else [limit] * len(rows)
    text = f"budget {_short(limit)} {unit}" if limit else ""
    return values, limits, f"{budget.name} ({unit})", text


def cost_figure(rows: Rows, config: SweepConfig, out: Path) -> Path:
    """Memory, area, latency and energy of each row's pick, bars against the dashed budgets."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    figure = Figure(figsize=(12, 8), dpi=100, layout="constrained")
    panels = figure.subplots(2, 2)
    for axes, budget in zip(panels.flat, BUDGETS, strict=True):
        values, limits, ylabel, label = _panel(rows, config, budget)
        over = [budget.name in row["over_budget"] for row in rows]
        bars = _bars(axes, rows, values, over, also=limits or ())
        axes.bar_label(
            bars, labels=[_short(bar.get_height()) for bar in bars], fontsize=7, padding=2
        )
        if limits is not None:
            _budget_line(axes, values, limits, label)
        axes.set_ylabel(ylabel)
        axes.set_title(budget.name if limits else f"{budget.name} (no budget)", fontsize=10)
    for axes in panels[-1]:
        axes.set_xlabel(_PRECISION_AXIS)
    extra = [Line2D([], [], color="black", linestyle="--", label="budget")]
    if any(row["over_budget"] for row in rows):
        over = Patch(facecolor="white", edgecolor=_OVER, hatch="//", label="over its budget")
        extra.insert(0, over)
    _legend(figure, config, extra)
    figure.suptitle(_title(config, "Cost of the found network"), fontsize=11)
    figure.savefig(out)
    return out


def search_time_figure(rows: Rows, config: SweepConfig, out: Path) -> Path:
    """Each row's search time in seconds, with the speed-up over the baseline when there is one."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    figure = Figure(figsize=(10, 5.5), dpi=100, layout="constrained")
    axes = figure.subplots()
    times = [row["search_time_s"] for row in rows]
    bars = _bars(axes, rows, times, [row["resumed"] for row in rows], headroom=1.3)
    baseline = next((row["search_time_s"] for row in rows if _is_baseline(row)), None)
    labels = []
    for row in rows:
        label = f"{row['search_time_s']:.3g} s"
        if baseline and not _is_baseline(row) and row["search_time_s"] > 0:
            ratio = baseline / row["search_time_s"]
            label += f"\n{ratio:.3g}x faster" if ratio >= 1 else f"\n{1 / ratio:.3g}x slower"
        labels.append(label)
    axes.bar_label(bars, labels=labels, fontsize=8, padding=2)
    if baseline:
        axes.set_title(
            "bars: search time, and how much faster or slower than the SNASNet baseline", fontsize=9
        )
    axes.set_xlabel(_PRECISION_AXIS)
    axes.set_ylabel("search time (s)")
    extra = []
    if any(row["resumed"] for row in rows):
        label = "resumed: time of the last session only"
        extra.append(Patch(facecolor="white", edgecolor=_OVER, hatch="//", label=label))
    _legend(figure, config, extra)
    figure.suptitle(_title(config, "Search time"), fontsize=11)
    figure.savefig(out)
    return out


def accuracy_figure(rows: Rows, config: SweepConfig, out: Path) -> Path:
    """Test accuracy of each trained pick at its precision, and per epoch."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(13, 5.5), dpi=100, layout="constrained")
    final, epochs = figure.subplots(1, 2, width_ratios=(1, 1.3))
    accuracies = [
        None if row["test_accuracy"] is None else 100 * row["test_accuracy"] for row in rows
    ]
    bars = _bars(final, rows, accuracies, [False] * len(rows), log=False)
    final.bar_label(
        bars, labels=[f"{bar.get_height():.1f}%" for bar in bars], fontsize=8, padding=2
    )
    final.set_ylim(0, 105)
    final.set_xlabel(_PRECISION_AXIS)
    final.set_ylabel("test accuracy (%) at its precision")
    final.set_title("after training", fontsize=10)
    shades = colormaps["viridis"](np.linspace(0.0, 0.85, max(1, len(rows))))
    for index, row in enumerate(rows):
        history = row["epoch_test_accuracy"]
        if not history:
            continue
        colour = _BASELINE if _is_baseline(row) else shades[index]
        epochs.plot(
            range(1, len(history) + 1),
            [100 * value for value in history],
            marker="o",
            markersize=3,
            color=colour,
            label=_tick(row).replace("\n", " "),
        )
    epochs.xaxis.set_major_locator(MaxNLocator(integer=True))
    epochs.set_xlabel("epoch")
    epochs.set_ylabel("test accuracy (%)")
    epochs.set_ylim(0, 100)
    epochs.set_title("per epoch (quantization-aware at each precision)", fontsize=10)
    epochs.grid(True, alpha=0.3)
    epochs.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    _legend(figure, config)
    figure.suptitle(_title(config, "Test accuracy"), fontsize=11)
    figure.savefig(out)
    return out


def write_figures(out_dir: Path, config: SweepConfig, rows: Rows) -> dict[str, Path]:
    """The figures the rows allow (accuracy only when a pick was trained), by name."""
    paths = {
        "cost": cost_figure(rows, config, out_dir / FIGURES["cost"]),
        "search_time": search_time_figure(rows, config, out_dir / FIGURES["search_time"]),
    }
    if any(row["test_accuracy"] is not None for row in rows):
        paths["accuracy"] = accuracy_figure(rows, config, out_dir / FIGURES["accuracy"])
    return paths
