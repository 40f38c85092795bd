"""`neuronas report RUN_DIR`: the PNG (opened and looked at) and the text summary of a run folder."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from neuronas import plugin
from neuronas.cli import build_cli
from neuronas.report import load_run, summary
from neuronas.search.config import SearchConfig

CELL = "|conv3x3~0|+|skip~0|conv3x3~1|+|skip~0|avgpool3x3~1|conv3x3~2|"
MACRO = "timesteps=5;input=1x8x8;classes=10;hidden=32;population=10;stem_stride=1"
BUDGETS = {"max_params": 5000.0, "max_area_mm2": 6.0, "max_latency_ms": 500.0, "max_energy_uj": 1.6}
COST_KEYS = ("params", "area_mm2", "latency_ms", "energy_uj")
LIMITS = (5000.0, 6.0, 500.0, 1.6)


def arch(tag: int) -> str:
    return f"a={CELL};b={CELL};width={4 + tag};{MACRO}"


def record(tag, phase, costs, checks, score):
    violations = {
        budget: (cost - limit) / limit
        for budget, cost, limit in zip(
            ("memory", "area", "latency", "energy"), costs, LIMITS, strict=True
        )
    }
    return {
        "arch": arch(tag),
        "phase": phase,
        "costs": dict(zip(COST_KEYS, costs, strict=True)),
        "violations": violations,
        "checks": list(checks),
        "feasible": all(value <= 0 for value in violations.values()),
        "score": score,
        "seconds": 0.5,
    }


ALL = ("memory", "area", "latency", "energy")
RECORDS = [
    record(0, "1", (1000, 2.0, 0.4, 0.5), ("memory",), -12.0),
    record(1, "1", (2000, 4.0, 0.6, 1.2), ("memory",), -9.0),
    record(2, "1", (3000, 7.0, 0.9, 1.9), ("memory",), -7.0),  # best score, breaks area and energy
    record(3, "2", (2500, 5.0, 0.7, 1.5), ALL, -8.0),  # the chosen one
    record(4, "2", (2600, 5.5, 0.8, 1.55), ALL, -8.5),
    record(5, "2", (3500, 7.5, 0.9, 1.8), ALL, None),  # rejected by area and energy
    record(6, "2", (3100, 5.9, 0.9, 1.7), ALL, None),  # rejected by energy
]


def make_run(tmp_path, records=RECORDS, finished=True, partial_line=False):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = {
        "strategy": "two-phase",
        "space": "neuronas-3op",
        "hardware": "spikeflow",
        "fitness": "hamming-logdet",
        "weight_bits": 8,
        "dataset": "digits",
        "budgets": BUDGETS,
    }
    (run_dir / "config.json").write_text(json.dumps({"config": config, "versions": {}}))
    fingerprint = SearchConfig.from_dict(config).fingerprint()  # what every record carries
    lines = "".join(json.dumps({**r, "run": fingerprint}) + "\n" for r in records)
    if partial_line:
        lines += '{"arch": "a=|conv3x3'
    (run_dir / "journal.jsonl").write_text(lines)
    if finished:
        result = {
            "best": {"arch": arch(3), "score": -8.0, "phase": "2"},
            "search_time_s": 12.5,
            "notes": ["Algorithm 1 would return another candidate"],
            "config": config,
        }
        (run_dir / "result.json").write_text(json.dumps(result))
    return run_dir


def invoke(*args):
    plugin.reset()
    return CliRunner().invoke(build_cli(), ["report", *args])


def hue_pixels(path):
    """Counts of clearly blue, orange, red and mid-grey pixels (anti-aliasing aside)."""
    pixels = np.asarray(Image.open(path).convert("RGB")).astype(int)
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return {
        "blue": int(((blue - red > 80) & (green > 90) & (green < 170)).sum()),
        "orange": int(((red > 220) & (green > 100) & (green < 170) & (blue < 60)).sum()),
        "red": int(((red > 180) & (green < 70) & (blue < 70)).sum()),
        "grey": int(
            ((abs(red - green) < 6) & (abs(green - blue) < 6) & (red > 110) & (red < 150)).sum()
        ),
    }


def test_report_writes_png_and_summary(tmp_path):
    run_dir = make_run(tmp_path)
    result = invoke(str(run_dir))
    assert result.exit_code == 0, result.output
    png = run_dir / "report-energy.png"
    image = Image.open(png)
    assert image.size == (1000, 500)
    colours = hue_pixels(png)
    assert colours["blue"] > 50  # phase 1 points
    assert colours["orange"] > 50  # phase 2 points
    assert colours["red"] > 100  # the chosen star
    assert colours["grey"] > 20  # ticks of the rejected candidates
    text = (run_dir / "report.txt").read_text()
    assert text == result.output
    assert f"best: {arch(3)}\n" in text
    assert "score: -8.0000 (hamming-logdet, higher is better; phase 2, meets every budget)" in text
    assert "area              5          6  mm^2     ok     1\n" in text
    assert "energy          1.5        1.6  uJ       ok     2\n" in text
    assert "memory        2,500      5,000  weights  ok     0\n" in text
    assert (
        "candidates: 7 evaluated, 5 scored, 2 rejected by a budget (phase 1: 3, phase 2: 4)" in text
    )
    assert "search time: 12.5 s (evaluation 3.5 s)" in text
    assert "note: Algorithm 1 would return another candidate" in text
    assert f"plot: {png}" in text


def test_without_phase_2_points_there_is_no_orange(tmp_path):
    run_dir = make_run(tmp_path, records=RECORDS[:2], finished=False)
    out = tmp_path / "plots" / "area.png"
    result = invoke(str(run_dir), "--x", "area", "--out", str(out))
    assert result.exit_code == 0, result.output
    colours = hue_pixels(out)
    assert colours["blue"] > 50 and colours["red"] > 100
    assert colours["orange"] == 0


def test_unfinished_run_marks_best_feasible_so_far_and_skips_a_partial_line(tmp_path):
    run_dir = make_run(tmp_path, finished=False, partial_line=True)
    result = invoke(str(run_dir), "--json")
    assert result.exit_code == 0, result.output
    facts = json.loads(result.output)
    assert facts["finished"] is False
    # candidate 2 scores higher but breaks area and energy; 3 is the best that meets every budget
    assert facts["best"]["arch"] == arch(3)
    assert facts["candidates_evaluated"] == 7
    assert facts["search_time_s"] is None
    assert facts["plot"] == str(run_dir / "report-energy.png")
    assert "best so far: " in (run_dir / "report.txt").read_text()
    assert (run_dir / "journal.jsonl").read_text().endswith('{"arch": "a=|conv3x3')  # untouched


def test_summary_per_budget_rows_follow_the_config(tmp_path):
    facts = summary(load_run(make_run(tmp_path)))
    rows = {row["budget"]: row for row in facts["budgets"]}
    assert rows["memory"] == {
        "budget": "memory",
        "cost": 2500.0,
        "limit": 5000.0,
        "unit": "weights",
        "status": "ok",
        "rejected": 0,
    }
    assert [rows[b]["rejected"] for b in ("area", "latency", "energy")] == [1, 0, 2]


@pytest.mark.parametrize("x", ["params", "latency"])
def test_every_axis_choice_writes_its_file(tmp_path, x):
    run_dir = make_run(tmp_path)
    assert invoke(str(run_dir), "--x", x).exit_code == 0
    assert Image.open(run_dir / f"report-{x}.png").size == (1000, 500)


def test_a_folder_that_is_not_a_run_is_a_clear_error(tmp_path):
    result = invoke(str(tmp_path))
    assert result.exit_code == 2
    assert "is not a neuronas run folder: it has no config.json" in result.output
    missing = invoke(str(tmp_path / "nowhere"))
    assert missing.exit_code == 2
    assert "is not a folder" in missing.output


def test_a_run_without_candidates_is_a_clear_error(tmp_path):
    run_dir = make_run(tmp_path, records=[], finished=False)
    result = invoke(str(run_dir))
    assert result.exit_code == 2
    assert "holds no evaluated candidate yet" in result.output


def test_a_corrupt_journal_line_is_named(tmp_path):
    run_dir = make_run(tmp_path, finished=False)
    (run_dir / "journal.jsonl").write_text("not json\n")
    result = invoke(str(run_dir))
    assert result.exit_code == 2
    assert "journal.jsonl: line 1 is not a journal record" in result.output


def test_non_dominated_by_hand():
    from neuronas.pareto import non_dominated

    # minimised columns: (1, 5) and (2, 2) and (4, 1) trade off; (3, 3) is dominated by (2, 2);
    # the repeated (2, 2) dominates neither copy
    points = [(1, 5), (3, 3), (2, 2), (4, 1), (2, 2), (5, 5)]
    assert non_dominated(points) == [0, 2, 3, 4]


def test_report_marks_the_pareto_front_of_the_feasible_candidates(tmp_path):
    run_dir = make_run(tmp_path)
    result = invoke(str(run_dir), "--json")
    assert result.exit_code == 0, result.output
    front = json.loads(result.output)["pareto_front"]
    # candidate 2 scores best but breaks budgets; 4 costs more than 3 and scores less
    assert front["candidates"] == 4
    for key in ("params", "area_mm2", "latency_ms", "energy_uj", "all"):
        assert [entry["arch"] for entry in front[key]] == [arch(3), arch(1), arch(0)]
    assert front["area_mm2"][0] == {"arch": arch(3), "score": -8.0, "area_mm2": 5.0}
    png = run_dir / "report-pareto.png"
    assert json.loads(result.output)["pareto_plot"] == str(png)
    assert Image.open(png).size == (1100, 800)
    assert hue_pixels(png)["red"] > 300  # the front's markers and the star in four panels
    text = (run_dir / "report.txt").read_text()
    assert "Pareto front of the 4 scored candidates that meet every budget: 3 non-dominated" in text
    assert invoke(str(run_dir), "--out", str(tmp_path / "x" / "area.png")).exit_code == 0
    assert (tmp_path / "x" / "area-pareto.png").is_file()
