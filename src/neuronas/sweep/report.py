"""A sweep's table: one row per search, as text, JSON and CSV (the figures: `neuronas.sweep.figures`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from neuronas.budgets import BUDGET_NAMES, COST_KEYS
from neuronas.folders import dumps, write_atomic
from neuronas.sweep.config import Row, SweepConfig

#: The text table's columns; "test accuracy" only when the picks were trained.
COLUMNS = (
    "method",
    "weights",
    "fitness",
    "memory (weights)",
    "memory (KiB)",
    "area (mm^2)",
    "latency (ms)",
    "energy (uJ)",
    "budgets",
    "evaluated",
    "search time (s)",
)
ACCURACY_COLUMN = "test accuracy"
#: The CSV's columns: the JSON row's scalar fields.
CSV_FIELDS = (
    "key",
    "method",
    "space",
    "strategy",
    "weight_bits",
    "found",
    "feasible",
    "over_budget",
    "score",
    "params",
    "memory_kib",
    "area_mm2",
    "latency_ms",
    "energy_uj",
    "evaluated",
    "scored",
    "search_time_s",
    "evaluation_time_s",
    "resumed",
    "test_accuracy",
    "arch",
    "run_dir",
)


def sweep_row(
    row: Row, out_dir: Path, result: Mapping[str, Any], metrics: Mapping[str, Any] | None
) -> dict[str, Any]:
    """What the table says about one search (and its pick's training), JSON-ready."""
    best = result.get("best")
    costs = best["costs"] if best else {}
    violations = best["violations"] if best else {}
    accuracy = None
    if metrics is not None:
        tested = {entry["bits"]: entry for entry in metrics["final"]["quantized"]}
        accuracy = tested[row.bits]["test_accuracy"]
    return {
        "key": row.key,
        "method": row.method,
        "space": row.search.space,
        "strategy": row.search.strategy,
        "weight_bits": row.bits,
        "found": best is not None,
        "feasible": bool(best and best["feasible"]),
        "over_budget": [name for name in BUDGET_NAMES if violations.get(name, 0.0) > 0],
        "score": best["score"] if best else None,
        **{key: costs.get(key) for key in COST_KEYS.values()},
        "memory_kib": costs["params"] * row.bits / 8 / 1024 if best else None,
        "evaluated": result["candidates_evaluated"],
        "scored": result["candidates_scored"],
        "search_time_s": result["search_time_s"],
        "evaluation_time_s": result["evaluation_time_s"],
        "resumed": bool(result.get("resumed")),
        "test_accuracy": accuracy,
        "epoch_test_accuracy": None
        if metrics is None
        else [record["test_accuracy"] for record in metrics["epochs"]],
        "arch": best["arch"] if best else None,
        "run_dir": str(out_dir / "runs" / row.key),
    }


def _number(value: float | str | None, pattern: str = "{:.4g}") -> str:
    """``value`` formatted; a score of "inf" or "-inf" (as JSON holds them) as it is."""
    if value is None:
        return "-"
    return value if isinstance(value, str) else pattern.format(value)


def text_cells(row: Mapping[str, Any], trained: bool) -> list[str]:
    """The text table's cells of one row."""
    time = _number(row["search_time_s"], "{:.1f}") + (" *" if row["resumed"] else "")
    if not row["found"]:
        cells = [row["method"], f"FxP{row['weight_bits']}", "nothing meets the budgets"]
        cells += ["-"] * 6 + [str(row["evaluated"]), time]
    else:
        over = row["over_budget"]
        cells = [
            row["method"],
            f"FxP{row['weight_bits']}",
            _number(row["score"], "{:.3f}"),
            f"{int(row['params']):,}",
            _number(row["memory_kib"], "{:,.1f}"),
            _number(row["area_mm2"]),
            _number(row["latency_ms"]),
            _number(row["energy_uj"]),
            "over: " + ", ".join(over) if over else "ok",
            str(row["evaluated"]),
            time,
        ]
    if trained:
        accuracy = row["test_accuracy"]
        cells.append("-" if accuracy is None else f"{100 * accuracy:.2f}%")
    return cells


def text_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The table as aligned plain text (two spaces between columns), with a line of dashes."""
    trained = any(row["test_accuracy"] is not None for row in rows)
    header = [*COLUMNS, ACCURACY_COLUMN] if trained else list(COLUMNS)
    lines = [header, *(text_cells(row, trained) for row in rows)]
    widths = [max(len(cell) for cell in column) for column in zip(*lines, strict=True)]
    lines.insert(1, ["-" * width for width in widths])
    text = "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
    if any(row["resumed"] for row in rows):
        text += "\n* resumed: the search time of its last session only"
    return text + "\n"


def csv_text(rows: Sequence[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "over_budget": " ".join(row["over_budget"])})
    return buffer.getvalue()


def write_sweep(
    out_dir: Path, config: SweepConfig, rows: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """Write sweep.json, sweep.csv, sweep.txt and the figures; returns what sweep.json holds."""
    from neuronas.sweep import figures

    paths = figures.write_figures(out_dir, config, rows)
    summary = {
        "config": config.to_dict(),
        "rows": list(rows),
        "figures": {name: str(path) for name, path in paths.items()},
    }
    write_atomic(out_dir / "sweep.json", dumps(summary, indent=2))
    write_atomic(out_dir / "sweep.csv", csv_text(rows))
    write_atomic(out_dir / "sweep.txt", text_table(rows))
    return summary
