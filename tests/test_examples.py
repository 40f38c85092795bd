"""The paper's case studies in examples/ run at their --smoke size and print their tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parents[1] / "examples"


def run_example(name: str, *args: str) -> list[str]:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--smoke", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.splitlines()


def table(lines: list[str], first_header: str) -> list[list[str]]:
    """The rows (cells split on 2+ spaces) of the table whose header starts with ``first_header``."""
    start = next(i for i, line in enumerate(lines) if line.split("  ")[0] == first_header)
    rows = []
    for line in lines[start:]:
        if not line.strip():
            break
        rows.append([cell.strip() for cell in line.split("  ") if cell.strip()])
    assert set(rows[1][0]) == {"-"}
    return [rows[0], *rows[2:]]


def test_op_significance_tabulates_both_scenarios():
    header, *rows = table(run_example("op_significance.py"), "scenario")
    assert header == [
        "scenario",
        "space",
        "ops",
        "scored",
        "best fitness",
        "memory (weights)",
        "time (s)",
    ]
    assert [(row[0], row[1]) for row in rows] == [
        ("1", "all 5 ops"),
        ("1", "without zero"),
        ("1", "without skip"),
        ("1", "without conv1x1"),
        ("1", "without conv3x3"),
        ("1", "without avgpool3x3"),
        ("2", "3 ops (conv3x3)"),
        ("2", "conv3x3 -> conv5x5"),
        ("2", "conv3x3 -> conv7x7"),
    ]
    for row in rows:
        assert row[0] == "2" or row[1] == "all 5 ops" or row[1].split()[-1] not in row[2]
        assert row[3] == "3"
        float(row[4])
        assert int(row[5].replace(",", "")) > 0


def test_qafe_study_selects_by_the_quantized_score():
    lines = run_example("qafe_study.py")
    header, *candidates = table(lines, "candidate")
    assert header == ["candidate", "score FxP32", "score FxP8", "rank FxP32", "rank FxP8"]
    assert len(candidates) == 4
    header, fxp32, ptq, qafe = table(lines, "setting")
    assert header == ["setting", "selected by", "candidate", "weights", "score"]
    assert [fxp32[0], ptq[0], qafe[0]] == ["FxP32", "FxP8-PTQ", "FxP8-QaFE"]
    assert fxp32[2] == ptq[2]  # PTQ quantizes the FxP32 pick after the fact
    assert float(qafe[4]) >= float(ptq[4])  # QaFE picks the best quantized score
    fxp8_scores = {row[0]: float(row[2]) for row in candidates}
    assert float(qafe[4]) == max(fxp8_scores.values())
    assert float(ptq[4]) == fxp8_scores[ptq[2]]


def test_precision_sweep_tabulates_costs_per_precision_and_the_baseline():
    header, *rows = table(run_example("precision_sweep.py", "--bits", "4", "8"), "method")
    assert header[:3] == ["method", "weights", "fitness"]
    assert header[3:] == [
        "memory (weights)",
        "memory (KiB)",
        "area (mm^2)",
        "latency (ms)",
        "energy (uJ)",
        "budgets",
        "evaluated",
        "search time (s)",
    ]
    assert [(row[0], row[1]) for row in rows] == [
        ("NeuroNAS", "FxP4"),
        ("NeuroNAS", "FxP8"),
        ("SNASNet (random)", "FxP32"),
    ]
    for row in rows:
        bits = int(row[1].removeprefix("FxP"))
        weights = int(row[3].replace(",", ""))
        assert float(row[4]) == round(weights * bits / 8 / 1024, 1)
        assert all(float(value) > 0 for value in row[5:8])
