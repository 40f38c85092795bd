"""`neuronas study`: the statistics against scipy and hand-computed values, and a tiny study end to
end (outputs, resume after an interrupt, a run folder as the source, bad input)."""

import csv
import json
import math
import shutil

import numpy as np
import pytest
from scipy import stats as scipy_stats

import neuronas
from neuronas.cli import build_cli
from neuronas.plugin import hookimpl
from neuronas.snn.space import CellSearchSpace
from neuronas.study import StudyConfig, StudyObserver, run_study, stats

# --- statistics ----------------------------------------------------------------------------------


def test_rank_correlations_equal_scipys_and_skip_non_finite_pairs():
    x = [1.0, 2.0, 3.0, 4.0, 5.0, -math.inf]
    y = [2.0, 1.0, 4.0, 3.0, 5.0, 9.0]
    tau, p = stats.kendall(x, y)
    expected = scipy_stats.kendalltau(x[:5], y[:5])
    assert (tau, p) == pytest.approx((expected.statistic, expected.pvalue))
    assert tau == pytest.approx(0.6)  # 8 concordant, 2 discordant pairs of 10
    rho, _ = stats.spearman(x, y)
    assert rho == pytest.approx(0.8)  # 1 - 6 * (1 + 1 + 1 + 1) / (5 * 24)
    assert math.isnan(stats.kendall([1, 1, 1], [1, 2, 3])[0])


def test_bootstrap_interval_brackets_the_estimate_and_is_seeded():
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    y = x + rng.normal(size=40)
    result = stats.correlation(x, y, "kendall", seed=3)
    assert result.low < result.value < result.high
    assert stats.correlation(x, y, "kendall", seed=3) == result


def test_kendall_difference_is_paired():
    y = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    # a perfect ranking against a reversed one: 1 - (-1) in every resample (ties stay paired)
    both = {"value": 2.0, "low": 2.0, "high": 2.0}
    assert stats.kendall_difference(y, y[::-1], y).to_dict() == pytest.approx(both)
    assert stats.kendall_difference(y, y, y) == stats.Difference(0.0, 0.0, 0.0)
    rng = np.random.default_rng(1)
    accuracy = rng.normal(size=30)
    score, size = accuracy + rng.normal(size=30), accuracy + 2 * rng.normal(size=30)
    result = stats.kendall_difference(score, size, accuracy, seed=2)
    tau = scipy_stats.kendalltau
    assert result.value == pytest.approx(
        tau(score, accuracy).statistic - tau(size, accuracy).statistic
    )
    assert result.low < result.value < result.high
    # pairing: the interval of the difference is narrower than the two taus' intervals allow
    score_tau = stats.correlation(score, accuracy, "kendall", seed=2)
    size_tau = stats.correlation(size, accuracy, "kendall", seed=2)
    assert result.high - result.low < (score_tau.high - score_tau.low) + (
        size_tau.high - size_tau.low
    )


def test_partial_spearman_by_hand():
    # the values are ranks: r = 1 - 6 sum(d^2) / (n (n^2 - 1)) gives 0.8, 0.9 and 0.5
    x = np.array([1, 2, 3, 4, 5], dtype=float)
    y = np.array([2, 1, 4, 3, 5], dtype=float)
    z = np.array([1, 3, 2, 4, 5], dtype=float)
    r_xy, r_xz, r_yz = 0.8, 0.9, 0.5
    assert np.corrcoef(x, y)[0, 1] == pytest.approx(r_xy)
    assert np.corrcoef(x, z)[0, 1] == pytest.approx(r_xz)
    assert np.corrcoef(y, z)[0, 1] == pytest.approx(r_yz)
    expected = (r_xy - r_xz * r_yz) / math.sqrt((1 - r_xz**2) * (1 - r_yz**2))
    value, p_value = stats.partial_spearman(x, y, z)
    assert value == pytest.approx(expected)
    t = expected * math.sqrt(2 / (1 - expected**2))
    assert p_value == pytest.approx(2 * scipy_stats.t.sf(abs(t), 2))


def test_top_hit_rate_and_percentile_rank_by_hand():
    scores = [0.9, 0.1, 0.8, 0.7, -math.inf, 0.2, 0.3, 0.4, 0.5, 0.6, 0.05, 0.01]
    accuracy = [0.5, 0.9, 0.95, 0.1, 0.2, 0.3, 0.4, 0.45, 0.46, 0.47, 0.48, 0.49]
    # top 10% of 12 is 2: by score {0, 2}, by accuracy {2, 1}: one of two
    assert stats.top_hit_rate(scores, accuracy) == 0.5
    assert stats.percentile_rank(0.5, [0.1, 0.5, 0.9, 0.3]) == pytest.approx(0.625)


def test_training_noise_by_hand():
    per_seed = np.array([[0.90, 0.92], [0.80, 0.78], [0.70, 0.75], [0.60, 0.58]])
    noise = stats.training_noise(per_seed)
    assert noise.seed_tau == pytest.approx(1.0) and noise.seed_rho == pytest.approx(1.0)
    assert noise.reliability == pytest.approx(1.0) and noise.ceiling_tau == pytest.approx(1.0)
    assert noise.mean_std == pytest.approx(np.mean(np.std(per_seed, axis=1, ddof=1)))
    swapped = np.array([[0.90, 0.80], [0.80, 0.90], [0.70, 0.60], [0.60, 0.70]])
    noisy = stats.training_noise(swapped)
    rho = scipy_stats.spearmanr(swapped[:, 0], swapped[:, 1]).statistic  # 0.6
    assert noisy.reliability == pytest.approx(2 * rho / (1 + rho))
    assert noisy.ceiling_tau == pytest.approx(
        2 / math.pi * math.asin(math.sqrt(2 * rho / (1 + rho)))
    )


# --- a tiny study end to end ---------------------------------------------------------------------


class TinySpace:
    @hookimpl
    def neuronas_register_search_spaces(self, register):
        register(CellSearchSpace("tiny-study", "3-node skip/conv3x3", ("skip", "conv3x3"), nodes=3))


@pytest.fixture(autouse=True)
def tiny_space(fresh_plugins):
    neuronas.register_plugin(TinySpace(), name="tiny-study-space")


TINY = dict(
    space="tiny-study",
    archs=4,
    metrics=("hamming-logdet", "params"),
    width=4,
    timesteps=2,
    hidden=32,
    population=2,
    fitness_batch=8,
    epochs=2,
    seeds=2,
    batch_size=128,
)


def records(folder):
    return [json.loads(line) for line in (folder / "study.jsonl").read_text().splitlines()]


def test_a_study_writes_its_table_csv_and_plot(tmp_path):
    analysis = run_study(StudyConfig(**TINY), tmp_path / "study")
    folder = tmp_path / "study"
    assert json.loads((folder / "study.json").read_text()) == analysis
    kinds = [r["kind"] for r in records(folder)]
    # 4 x 2 scores, a pick per metric, then 2 seeds of the 4 architectures and of the picks
    assert kinds[:8] == ["score"] * 8 and kinds[8:10] == ["pick"] * 2
    picked = {r["arch"] for r in records(folder) if r["kind"] == "pick"}
    archs = set(json.loads((folder / "config.json").read_text())["architectures"])
    assert kinds.count("training") == 2 * len(archs | picked)
    assert analysis["trained_architectures"] == 4
    assert set(analysis["metrics"]) == {"hamming-logdet", "params"}
    entry = analysis["metrics"]["hamming-logdet"]
    assert {"kendall", "spearman", "top10_hit_rate", "partial_spearman_given_size"} <= set(entry)
    assert analysis["size_baseline"] == "params"
    assert len(analysis["epochs"]) == 2 and analysis["noise"]["seed_tau"] is not None
    assert set(analysis["picks"]) == {"hamming-logdet", "params"}
    assert set(entry["kendall_minus_size"]) == {"value", "low", "high"}
    assert "kendall_minus_size" not in analysis["metrics"]["params"]
    with (folder / "study.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and float(rows[0]["params"]) > 0
    assert (folder / "study.png").read_bytes()[:4] == b"\x89PNG"


class StopAfter(StudyObserver):
    def __init__(self, count):
        self.count = count

    def task_done(self, stage, record):
        self.count -= 1
        if self.count == 0:
            raise KeyboardInterrupt


def test_an_interrupted_study_resumes_to_the_same_numbers(tmp_path):
    config = StudyConfig(**{**TINY, "picks": False})
    reference = run_study(config, tmp_path / "reference")
    for count in (3, 10):  # during the scores, then during the trainings
        with pytest.raises(KeyboardInterrupt):
            run_study(config, tmp_path / "study", resume=count == 10, observer=StopAfter(count))
    resumed = run_study(config, tmp_path / "study", resume=True)
    keys = [
        (r["kind"], r["arch"], r.get("metric"), r.get("seed")) for r in records(tmp_path / "study")
    ]
    assert len(keys) == len(set(keys)) == 4 * 2 + 4 * 2
    assert resumed["metrics"] == reference["metrics"]
    assert resumed["architectures"] == reference["architectures"]


def run_cli(args):
    try:
        build_cli().main(args=args, prog_name="neuronas", standalone_mode=True)
    except SystemExit as exit_:
        return exit_.code
    return 0


def test_cli_study_from_a_run_folder_and_bad_input(tmp_path, capsys):
    run_args = [
        "run", "--space", "tiny-study", "--width", "2", "--timesteps", "2", "--hidden", "8",
        "--population", "2", "--fitness-batch", "8", "--out", str(tmp_path / "run"), "--json",
    ]  # fmt: skip
    assert run_cli(run_args) == 0
    capsys.readouterr()
    study = ["study", str(tmp_path / "run"), "--archs", "3", "--epochs", "1", "--seeds", "1"]
    small = ["--metrics", "params", "--no-picks", "--batch-size", "256", "--json"]
    assert run_cli([*study, *small, "--out", str(tmp_path / "study")]) == 0
    analysis = json.loads(capsys.readouterr().out)
    assert analysis["config"]["source_run"] == str(tmp_path / "run")
    assert analysis["config"]["width"] == 2 and analysis["trained_architectures"] == 3
    assert run_cli([*study, "--metrics", "hamming-logdett", "--out", str(tmp_path / "x")]) == 2
    assert "Did you mean 'hamming-logdet'?" in capsys.readouterr().err
    assert run_cli(["study", "--resume", str(tmp_path / "study"), "--archs", "5"]) == 2
    assert "do not combine it with --archs" in capsys.readouterr().err


def test_resume_with_picks_adds_them_to_a_study_started_without(tmp_path, capsys):
    folder = tmp_path / "study"
    without = run_study(StudyConfig(**{**TINY, "picks": False}), folder)
    before = records(folder)
    assert run_cli(["study", "--resume", str(folder), "--no-picks"]) == 2
    assert "do not combine it with --picks" in capsys.readouterr().err
    assert run_cli(["study", "--resume", str(folder), "--picks", "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    after = records(folder)
    assert after[: len(before)] == before  # nothing scored or trained again
    picks = [r for r in after[len(before) :] if r["kind"] == "pick"]
    assert [r["metric"] for r in picks] == ["hamming-logdet", "params"]
    new_archs = {r["arch"] for r in picks} - {row["arch"] for row in without["architectures"]}
    assert len(after) == len(before) + 2 + 2 * len(new_archs)
    assert json.loads((folder / "config.json").read_text())["config"]["picks"] is True
    assert added["metrics"] == without["metrics"]
    assert set(added["picks"]) == {"hamming-logdet", "params"}


def test_report_gives_the_interim_numbers_of_an_unfinished_study_and_changes_nothing(
    tmp_path, capsys
):
    config = StudyConfig(**{**TINY, "picks": False})
    run_study(config, tmp_path / "reference")
    folder = tmp_path / "study"
    with pytest.raises(KeyboardInterrupt):  # the 8 scores, then 5 of 8 trainings
        run_study(config, folder, observer=StopAfter(13))
    journal = (folder / "study.jsonl").read_bytes()
    assert run_cli(["study", "--report", str(folder), "--json"]) == 0
    interim = json.loads(capsys.readouterr().out)
    assert (folder / "study.jsonl").read_bytes() == journal  # only read
    assert json.loads((folder / "study.json").read_text()) == interim
    # seeds run per architecture in order: 5 trainings finish 2 architectures with both seeds
    assert interim["trained_architectures"] == 2 and "kendall" not in interim["metrics"]["params"]
    assert run_cli(["study", "--report", str(folder)]) == 0
    assert "interim: 2 of 4 architectures trained with every seed" in capsys.readouterr().out
    assert run_cli(["study", "--report", str(tmp_path / "reference")]) == 0
    out = capsys.readouterr().out
    assert "every architecture is trained: 4 of 4" in out
    assert "Kendall tau minus size's (paired 95% interval): hamming-logdet " in out
    assert run_cli(["study", "--report", str(folder), "--archs", "5"]) == 2
    assert "--report uses the options saved in the study folder" in capsys.readouterr().err
    assert run_cli(["study", "--report", str(tmp_path)]) == 2
    assert "cannot report on" in capsys.readouterr().err


def _record(index, **changes):
    def edit(lines):
        lines[index] = json.dumps({**json.loads(lines[index]), **changes})
        return lines

    return edit


HOSTILE_RECORDS = [
    (_record(0, value="big"), "record 1: score 'big' is not a number, null, 'inf' or '-inf'"),
    (_record(0, kind="nope"), "record 1 has kind 'nope'"),
    (_record(0, arch="a=|skip~0|;b=|skip~0|"), "is not one of this study's"),
    (_record(0, metric="synflow"), "is not a study column"),
    (_record(3, test_accuracy=2.0), "record 4: accuracy 2.0 is not a number from 0 to 1"),
    (_record(3, test_accuracy="high"), "accuracy 'high' is not a number from 0 to 1"),
    (_record(3, epochs=[0.5, None]), "accuracy None is not a number from 0 to 1"),
    (_record(3, seed=5), "record 4: seed 5 is not one of 0..0"),
    (lambda lines: [*lines, "[1, 2]"], "record 7 is a JSON list, not a study record"),
]
HOSTILE_CONFIGS = [
    (lambda saved: saved.pop("config"), "config must be the object of the study's options"),
    (lambda saved: saved.__setitem__("architectures", ["zzz"]), "architecture string part 1"),
    (lambda saved: saved["config"].__setitem__("metrics", "params"), "metrics must be a list"),
]


def test_report_and_resume_refuse_a_garbled_study_record_or_config(tmp_path, capsys):
    """A record the study could not have written (a score of a metric it does not compare, an
    accuracy of 2, a seed it does not train) is named, never averaged into study.json."""
    small = {"archs": 3, "metrics": ("params",), "seeds": 1, "epochs": 1, "picks": False}
    run_study(StudyConfig(**{**TINY, **small}), tmp_path / "reference")
    reference = tmp_path / "reference"
    for number, (edit, message) in enumerate(HOSTILE_RECORDS + HOSTILE_CONFIGS):
        folder = tmp_path / f"study{number}"
        shutil.copytree(reference, folder)
        (folder / "study.json").unlink()
        if number < len(HOSTILE_RECORDS):
            lines = edit((folder / "study.jsonl").read_text().splitlines())
            (folder / "study.jsonl").write_text("".join(line + "\n" for line in lines))
        else:
            saved = json.loads((folder / "config.json").read_text())
            edit(saved)
            (folder / "config.json").write_text(json.dumps(saved))
        for command in (["study", "--report", str(folder)], ["study", "--resume", str(folder)]):
            assert run_cli(command) == 2, message
            err = capsys.readouterr().err
            assert message in err and "Traceback" not in err, err
        assert not (folder / "study.json").exists()


def test_report_or_resume_of_a_run_folder_says_it_is_not_a_study(tmp_path, capsys):
    (tmp_path / "config.json").write_text('{"config": {"width": 4}, "versions": {}}')
    for command in ("--report", "--resume"):
        assert run_cli(["study", command, str(tmp_path)]) == 2
        assert "config.json has no architectures; it is not a study folder" in (
            capsys.readouterr().err
        )
