"""`neuronas sweep`: a search per precision and SNASNet's baseline, the trained picks, the table in
three forms and the figures (opened and looked at); resume after an interrupt; bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner
from PIL import Image

import neuronas
from neuronas.budgets import Budgets
from neuronas.cli import build_cli
from neuronas.folders import FolderBusy, locked
from neuronas.plugin import hookimpl
from neuronas.search.config import SearchConfig
from neuronas.snn import CellSearchSpace
from neuronas.sweep import SweepConfig, SweepObserver, run_sweep


class TinySpaces:
    @hookimpl
    def neuronas_register_search_spaces(self, register):
        register(CellSearchSpace("tiny-sweep", "3-node skip/conv3x3", ("skip", "conv3x3"), nodes=3))
        register(
            CellSearchSpace(
                "tiny-snasnet", "3-node zero/skip/conv3x3", ("zero", "skip", "conv3x3"), nodes=3
            )
        )


@pytest.fixture(autouse=True)
def tiny_spaces(fresh_plugins):
    neuronas.register_plugin(TinySpaces(), name="tiny-sweep-spaces")


SMALL = ["--space", "tiny-sweep", "--width", "2", "--hidden", "8", "--timesteps", "2"]
SMALL += ["--population", "2", "--fitness-batch", "8", "--max-area", "3", "--quiet"]


def tiny_config(**changes) -> SweepConfig:
    search = SearchConfig(
        space="tiny-sweep", width=2, hidden=8, timesteps=2, population=2, fitness_batch=8
    )
    values = dict(search=search, weight_bits=(4, 8), baseline="tiny-snasnet", baseline_candidates=5)
    return SweepConfig(**{**values, **changes})


def test_a_sweep_from_the_command_line_writes_its_table_and_figures(tmp_path):
    out = tmp_path / "sweep"
    args = ["sweep", "--weight-bits", "4,8", "--baseline", "tiny-snasnet"]
    args += ["--baseline-candidates", "6", "--train-epochs", "1", "--train-batch-size", "128"]
    result = CliRunner().invoke(build_cli(), [*args, *SMALL, "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "sweep.json").read_text())
    rows = summary["rows"]
    assert [(r["method"], r["weight_bits"], r["space"]) for r in rows] == [
        ("NeuroNAS", 4, "tiny-sweep"),
        ("NeuroNAS", 8, "tiny-sweep"),
        ("SNASNet (random)", 32, "tiny-snasnet"),
    ]
    neuronas_rows, baseline = rows[:2], rows[2]
    assert all(r["feasible"] and r["strategy"] == "two-phase" for r in neuronas_rows)
    assert (
        baseline["strategy"] == "random" and 1 <= baseline["evaluated"] <= 6
    )  # repeats are cache hits
    baseline_run = json.loads((out / "runs" / baseline["key"] / "config.json").read_text())
    assert baseline_run["config"]["constraints"] is False
    assert baseline_run["config"]["same_cells"] is True
    assert baseline_run["config"]["weight_bits"] == 32
    for row in rows:
        assert row["memory_kib"] == row["params"] * row["weight_bits"] / 8 / 1024
        assert 0.0 <= row["test_accuracy"] <= 1.0 and len(row["epoch_test_accuracy"]) == 1
        metrics = json.loads((out / "trainings" / row["key"] / "metrics.json").read_text())
        assert metrics["config"]["weight_bits"] == row["weight_bits"]  # QAT at its precision
    # the 3 mm^2 budget binds: the baseline does not check it
    assert ("area" in baseline["over_budget"]) == (baseline["area_mm2"] > 3)
    text = (out / "sweep.txt").read_text()
    assert result.output.startswith(text)
    header = text.splitlines()[0].split("  ")
    assert [cell.strip() for cell in header if cell.strip()][-1] == "test accuracy"
    with (out / "sweep.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert [row["key"] for row in table] == [row["key"] for row in rows]
    assert float(table[0]["area_mm2"]) == pytest.approx(rows[0]["area_mm2"])
    for name, size in (
        ("sweep-cost.png", (1200, 800)),
        ("sweep-search-time.png", (1000, 550)),
        ("sweep-accuracy.png", (1300, 550)),
    ):
        assert Image.open(out / name).size == size
        assert summary["figures"][
            name.removeprefix("sweep-").removesuffix(".png").replace("-", "_")
        ]


class StopAfterSearches(SweepObserver):
    def __init__(self, count):
        self.count = count

    def search_started(self, row, index, total):
        if index > self.count:
            raise KeyboardInterrupt


def test_an_interrupted_sweep_resumes_without_searching_again(tmp_path):
    config = tiny_config()
    reference = run_sweep(config, tmp_path / "reference")
    with pytest.raises(KeyboardInterrupt):
        run_sweep(config, tmp_path / "sweep", observer=StopAfterSearches(1))
    first = (tmp_path / "sweep" / "runs" / "neuronas-fxp4" / "result.json").read_text()
    assert not (tmp_path / "sweep" / "runs" / "neuronas-fxp8").exists()
    resumed = run_sweep(SweepConfig(), tmp_path / "sweep", resume=True)
    assert (tmp_path / "sweep" / "runs" / "neuronas-fxp4" / "result.json").read_text() == first

    def numbers(summary):
        return [(r["key"], r["arch"], r["score"], r["area_mm2"]) for r in summary["rows"]]

    assert numbers(resumed) == numbers(reference)
    again = CliRunner().invoke(build_cli(), ["sweep", "--out", str(tmp_path / "sweep")])
    assert again.exit_code == 2 and "already holds a sweep" in again.output


def test_a_sweep_folder_in_use_is_refused(tmp_path):
    with locked(tmp_path / "sweep", "run"), pytest.raises(FolderBusy, match="in use"):
        run_sweep(tiny_config(), tmp_path / "sweep")
    assert not (tmp_path / "sweep" / "sweep-config.json").exists()


def test_a_precision_where_nothing_fits_is_a_row_that_says_so(tmp_path):
    config = tiny_config(
        search=SearchConfig(
            space="tiny-sweep", width=2, hidden=8, timesteps=2, population=2, fitness_batch=8,
            budgets=Budgets(max_area_mm2=0.001),
        ),
        baseline=None,
        weight_bits=(8,),
    )  # fmt: skip
    summary = run_sweep(config, tmp_path / "sweep")
    (row,) = summary["rows"]
    assert row["found"] is False and row["arch"] is None
    assert "nothing meets the budgets" in (tmp_path / "sweep" / "sweep.txt").read_text()
    assert set(summary["figures"]) == {"cost", "search_time"}  # nothing trained: no accuracy


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--weight-bits", "4,x"], "not a comma-separated list of integers"),
        (["--weight-bits", "8,8"], "names a precision twice"),
        (["--weight-bits", "8,1"], "from 2 to 32"),
        (["--baseline", "snasnett"], "Did you mean 'snasnet'?"),
        (["--event-size", "4"], "applies to event-camera datasets"),
        (["--train-lr", "-1"], "--train-lr must be >= 0"),
        (["--resume", "s"], "has no sweep-config.json"),
    ],
)
def test_bad_sweep_input_is_one_line_and_exit_code_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    if "--resume" in args:
        (tmp_path / "s").mkdir()  # a folder, but not a sweep's
    out = [] if "--resume" in args else ["--out", "s"]
    result = CliRunner().invoke(build_cli(), ["sweep", *args, *out])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    folder = tmp_path / "s"
    assert not folder.exists() or not any(
        folder.iterdir()
    )  # refused before a folder or lock is made


def test_the_sweep_command_imports_neither_torch_nor_matplotlib():
    code = (
        "import sys, neuronas.builtins.sweep; "
        "print(sorted({'torch', 'matplotlib'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
