"""What a study found: per score column its rank correlations with trained accuracy, the size
baseline, the ceiling that training noise sets, the ranking per epoch, and the two-phase picks;
written as ``study.json``, ``study.csv`` and ``study.png``."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neuronas.contracts import score_from_json
from neuronas.folders import dumps, write_atomic
from neuronas.plugin import get_component
from neuronas.study import stats
from neuronas.study.config import SIZE_METRIC, StudyConfig, column_name

RESULT_NAME, CSV_NAME, PLOT_NAME = "study.json", "study.csv", "study.png"


def _finite(value: float) -> float | None:
    return value if isinstance(value, float | int) and math.isfinite(value) else None


def _oriented(values: Sequence[float], higher_is_better: bool) -> list[float]:
    return [v if higher_is_better else -v for v in values]


def analyse(
    config: StudyConfig, archs: Sequence[str], records: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The study's numbers from its journal records (complete or not)."""
    scores: dict[tuple[str, str, int, str], float] = {}
    trainings: dict[tuple[str, int], Mapping[str, Any]] = {}
    picks = []
    for record in records:
        if record["kind"] == "score":
            key = (record["arch"], record["metric"], record["bits"], record["batchnorm"])
            scores[key] = score_from_json(record["value"])
        elif record["kind"] == "training":
            trainings[(record["arch"], record["seed"])] = record
        elif record["kind"] == "pick":
            picks.append(record)
    trained = [arch for arch in archs if all((arch, s) in trainings for s in range(config.seeds))]
    per_seed = np.array(
        [[trainings[(a, s)]["test_accuracy"] for s in range(config.seeds)] for a in trained]
    ).reshape(len(trained), config.seeds)
    accuracy = per_seed.mean(axis=1) if len(trained) else np.array([])
    columns = config.columns()
    labels = {column: column_name(*column, config) for column in columns}
    size_column = next((c for c in columns if c[0] == SIZE_METRIC), None)
    size = [scores.get((a, *size_column), math.nan) for a in trained] if size_column else None
    metrics: dict[str, Any] = {}
    for column in columns:
        metric = get_component("fitness", column[0])
        values = _oriented(
            [scores.get((a, *column), math.nan) for a in trained], metric.higher_is_better
        )
        entry: dict[str, Any] = {
            "metric": column[0],
            "weight_bits": column[1],
            "batchnorm": column[2],
            "higher_is_better": metric.higher_is_better,
            "architectures": len(trained),
        }
        if len(trained) >= 3:
            entry["kendall"] = stats.correlation(values, accuracy, "kendall", config.seed).to_dict()
            entry["spearman"] = stats.correlation(
                values, accuracy, "spearman", config.seed
            ).to_dict()
            entry["top10_hit_rate"] = stats.top_hit_rate(values, accuracy)
            if size is not None and column != size_column:
                rho, p_value = stats.partial_spearman(values, accuracy, size)
                entry["partial_spearman_given_size"] = {"value": rho, "p_value": p_value}
                entry["kendall_minus_size"] = stats.kendall_difference(
                    values, size, accuracy, config.seed
                ).to_dict()
        metrics[labels[column]] = entry
    epochs = _per_epoch(config, trained, trainings, scores, columns, labels)
    return {
        "config": config.to_dict(),
        "architectures": [_arch_row(config, arch, scores, trainings, labels) for arch in archs],
        "trained_architectures": len(trained),
        "metrics": metrics,
        "size_baseline": labels.get(size_column) if size_column else None,
        "noise": stats.training_noise(per_seed).to_dict() if len(trained) >= 3 else None,
        "epochs": epochs,
        "picks": _picks(config, picks, trainings, accuracy, labels),
    }


def _arch_row(config, arch, scores, trainings, labels) -> dict[str, Any]:
    seeds = [trainings.get((arch, s)) for s in range(config.seeds)]
    accuracies = [r["test_accuracy"] for r in seeds if r is not None]
    return {
        "arch": arch,
        "scores": {labels[c]: _finite(scores.get((arch, *c), math.nan)) for c in labels},
        "test_accuracy": accuracies,
        "mean_test_accuracy": float(np.mean(accuracies)) if accuracies else None,
        "std_test_accuracy": float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else None,
    }


def _per_epoch(config, trained, trainings, scores, columns, labels) -> list[dict[str, Any]]:
    """Per epoch: how the ranking by mean accuracy then agrees with the final one, and each
    column's Kendall tau against the accuracy of that epoch."""
    if len(trained) < 3:
        return []
    curves = np.array(
        [[trainings[(a, s)]["epochs"] for s in range(config.seeds)] for a in trained]
    ).mean(axis=1)
    final = curves[:, -1]
    rows = []
    for epoch in range(curves.shape[1]):
        row: dict[str, Any] = {
            "epoch": epoch + 1,
            "mean_test_accuracy": float(curves[:, epoch].mean()),
            "kendall_with_final": stats.kendall(curves[:, epoch], final)[0],
            "kendall": {},
        }
        for column in columns:
            metric = get_component("fitness", column[0])
            values = _oriented(
                [scores.get((a, *column), math.nan) for a in trained], metric.higher_is_better
            )
            row["kendall"][labels[column]] = stats.kendall(values, curves[:, epoch])[0]
        rows.append(row)
    return rows


def _picks(config, picks, trainings, accuracy, labels) -> dict[str, Any]:
    result = {}
    for pick in picks:
        column = (pick["metric"], pick["bits"], pick["batchnorm"])
        runs = [trainings.get((pick["arch"], s)) for s in range(config.seeds)]
        accuracies = [r["test_accuracy"] for r in runs if r is not None]
        mean = float(np.mean(accuracies)) if accuracies else None
        result[labels.get(column, pick["metric"])] = {
            "arch": pick["arch"],
            "score": pick["score"],
            "test_accuracy": accuracies,
            "mean_test_accuracy": mean,
            "percentile_in_sample": (
                stats.percentile_rank(mean, accuracy)
                if mean is not None and len(accuracy)
                else None
            ),
        }
    return result


def _json_safe(value: Any) -> Any:
    """NaN and infinities as null (JSON has no token for them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


def write_study(
    out_dir: Path, config: StudyConfig, archs: Sequence[str], records: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Analyse and write study.json, study.csv and study.png; returns the analysis."""
    analysis = _json_safe(analyse(config, archs, records))
    write_atomic(out_dir / RESULT_NAME, dumps(analysis, indent=2))
    write_csv(out_dir / CSV_NAME, analysis, config)
    if analysis["trained_architectures"] >= 3:
        plot_study(analysis, out_dir / PLOT_NAME)
    return analysis


def write_csv(path: Path, analysis: Mapping[str, Any], config: StudyConfig) -> None:
    labels = list(analysis["metrics"])
    handle = io.StringIO()
    writer = csv.writer(handle)
    seeds = [f"test_accuracy_seed{s}" for s in range(config.seeds)]
    writer.writerow(["arch", *labels, *seeds, "mean_test_accuracy", "std_test_accuracy"])
    for row in analysis["architectures"]:
        accuracies = row["test_accuracy"] + [None] * (config.seeds - len(row["test_accuracy"]))
        writer.writerow(
            [
                row["arch"],
                *(row["scores"].get(label) for label in labels),
                *accuracies,
                row["mean_test_accuracy"],
                row["std_test_accuracy"],
            ]
        )
    write_atomic(path, handle.getvalue())


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


def plot_study(analysis: Mapping[str, Any], path: Path) -> Path:
    """Score against mean test accuracy per column (seed spread as error bars), and the ranking's
    agreement per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(analysis["metrics"])
    rows = [r for r in analysis["architectures"] if r["mean_test_accuracy"] is not None]
    panels = len(labels) + 1
    columns = min(3, panels)
    lines = math.ceil(panels / columns)
    figure, axes = plt.subplots(lines, columns, figsize=(4.6 * columns, 3.8 * lines), squeeze=False)
    accuracy = np.array([r["mean_test_accuracy"] for r in rows]) * 100
    spread = np.array([r["std_test_accuracy"] or 0.0 for r in rows]) * 100
    for axis, label in zip(axes.flat, labels, strict=False):
        entry = analysis["metrics"][label]
        values = np.array([r["scores"].get(label) for r in rows], dtype=float)
        keep = np.isfinite(values)
        axis.errorbar(
            values[keep], accuracy[keep], yerr=spread[keep], fmt="o", ms=4, alpha=0.8, capsize=2
        )
        tau = (entry.get("kendall") or {}).get("value")
        low = (entry.get("kendall") or {}).get("low")
        high = (entry.get("kendall") or {}).get("high")
        title = f"{label}\ntau {_shown(tau)} [{_shown(low)}, {_shown(high)}]"
        axis.set_title(title, fontsize=10)
        axis.set_xlabel(f"score ({'higher' if entry['higher_is_better'] else 'lower'} is better)")
        axis.set_ylabel("test accuracy, % (mean of seeds)")
        axis.grid(alpha=0.3)
    axis = axes.flat[len(labels)]
    epochs = analysis["epochs"]
    if epochs:
        x = [row["epoch"] for row in epochs]
        axis.plot(
            x, [row["kendall_with_final"] for row in epochs], "k-", lw=2, label="accuracy vs final"
        )
        for label in labels:
            axis.plot(x, [row["kendall"][label] for row in epochs], lw=1, label=label)
        axis.axhline(0, color="grey", lw=0.8)
        axis.set_xlabel("epoch")
        axis.set_ylabel("Kendall tau with accuracy at that epoch")
        axis.set_title("ranking per epoch", fontsize=10)
        axis.legend(fontsize=7)
        axis.grid(alpha=0.3)
    for extra in list(axes.flat)[panels:]:
        extra.axis("off")
    noise = analysis.get("noise") or {}
    figure.suptitle(
        f"{analysis['trained_architectures']} architectures, "
        f"{analysis['config']['dataset']}, {analysis['config']['epochs']} epochs x "
        f"{analysis['config']['seeds']} seeds; seed-to-seed tau {_shown(noise.get('seed_tau'))}, "
        f"ceiling tau {_shown(noise.get('ceiling_tau'))}",
        fontsize=11,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
