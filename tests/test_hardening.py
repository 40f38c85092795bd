"""Bad input, hostile files and misbehaving plugins: one clear line and a documented exit code each,
no record doubled or foreign in a journal, no run folder overwritten without being asked.

Exit codes: 1 a plugin failed, 2 bad input, 3 nothing feasible, 4 folder in use, 5 folder not
writable, 130 Ctrl-C, 143 SIGTERM (docs/user-guide.md).
"""

import errno
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import attrs
import pytest
import torch

import neuronas
from neuronas.cli import build_cli
from neuronas.contracts import FitnessScore, HardwareCost
from neuronas.folders import locked
from neuronas.plugin import hookimpl, manager
from neuronas.search import journal as journal_module
from neuronas.snn.space import CellSearchSpace

SPACE = CellSearchSpace("tiny-hard", "3-node skip/conv3x3", ("skip", "conv3x3"), nodes=3)
TINY = [
    "--space", "tiny-hard", "--width", "4", "--timesteps", "2", "--hidden", "16",
    "--population", "2", "--fitness-batch", "8", "--fitness-batches", "2",
]  # fmt: skip


class TinySpace:
    @hookimpl
    def neuronas_register_search_spaces(self, register):
        register(SPACE)


@pytest.fixture(autouse=True)
def tiny_space(fresh_plugins):
    neuronas.register_plugin(TinySpace(), name="tiny-hard-space")


def run_cli(args, capsys=None):
    try:
        build_cli().main(args=args, prog_name="neuronas", standalone_mode=True)
    except SystemExit as exit_:
        code = exit_.code
    else:
        code = 0
    return code


def one_line(capsys):
    """The one error line on stderr (a progress display may print beside it), no traceback."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert "Traceback (most recent call last)" not in err and len(lines) == 1, err
    return lines[0]


def records(run_dir):
    return [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]


@pytest.fixture
def finished_run(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert run_cli(["run", *TINY, "--out", str(run_dir), "--json"]) == 0
    capsys.readouterr()
    return run_dir


# --- run folders and journals --------------------------------------------------------------------


def test_a_locked_run_folder_refuses_run_resume_and_train(finished_run, tmp_path, capsys):
    with locked(finished_run):
        assert run_cli(["run", "--resume", str(finished_run)]) == 4
        assert "is in use by another neuronas run" in one_line(capsys)
        fresh = tmp_path / "fresh"
        with locked(fresh):
            assert run_cli(["run", *TINY, "--out", str(fresh)]) == 4
            assert f"pid {os.getpid()}" in one_line(capsys)
    train_dir = tmp_path / "train"
    with locked(train_dir, "training"):
        args = ["train", "--arch", records(finished_run)[0]["arch"], "--space", "tiny-hard"]
        assert run_cli([*args, "--epochs", "1", "--out", str(train_dir)]) == 4
        assert "in use by another neuronas training" in one_line(capsys)


def test_a_second_process_on_the_same_folder_fails_and_doubles_nothing(finished_run):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from neuronas.folders import locked\n"
         "with locked(sys.argv[1]):\n    print('held', flush=True); time.sleep(30)",
         str(finished_run)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    try:
        before = (finished_run / "journal.jsonl").read_text()
        code = run_cli(["run", "--resume", str(finished_run)])
        assert code == 4 and (finished_run / "journal.jsonl").read_text() == before
    finally:
        holder.kill()
        holder.wait()
    assert run_cli(["run", "--resume", str(finished_run)]) == 0  # the OS dropped the lock


def test_a_folder_with_a_runs_files_is_not_overwritten_unless_asked(finished_run, capsys):
    (finished_run / "journal.jsonl").unlink()
    saved = (finished_run / "result.json").read_text()
    assert run_cli(["run", *TINY, "--out", str(finished_run)]) == 2
    message = one_line(capsys)
    assert "already holds a run (config.json, result.json, best_arch.txt)" in message
    assert "--overwrite" in message and (finished_run / "result.json").read_text() == saved
    assert run_cli(["run", *TINY, "--out", str(finished_run), "--overwrite", "--json"]) == 0
    assert len(records(finished_run)) == 15


def _resume_with(run_dir, line, capsys):
    with (run_dir / "journal.jsonl").open("a") as handle:
        handle.write(line + "\n")
    code = run_cli(["run", "--resume", str(run_dir)])
    return code, one_line(capsys)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: [1, 2, 3], "line 16 must be an object, got list"),
        (lambda r: {"arch": "x"}, "line 16 lacks phase, costs"),
        (lambda r: {**r, "score": "abc"}, "line 16: score must be a number, got 'abc'"),
        (lambda r: {**r, "costs": [1, 2]}, "line 16: costs must be an object"),
        (lambda r: {**r, "violations": {"area": "big"}}, "violation area must be a number"),
        (lambda r: {**r, "costs": {**r["costs"], "area_mm2": -1}}, "cost area_mm2 must be >= 0"),
        (lambda r: {**r, "score": 10**400}, "score is too large for a float"),
        (lambda r: {**r, "arch": "garbage"}, "line 16: architecture string part 1"),
        (
            lambda r: {**r, "arch": r["arch"].replace("skip", "avgpool3x3")},
            "is not in search space 'tiny-hard'",
        ),
        (
            lambda r: {**r, "arch": r["arch"].replace("width=4", "width=6")},
            "is not of this run's network",
        ),
        (lambda r: {**r, "run": "0" * 16}, "line 16 was written by another run"),
        (lambda r: {k: v for k, v in r.items() if k != "run"}, "was written by another run"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_resume_refuses_a_foreign_or_malformed_record_naming_its_line(
    finished_run, capsys, mutate, message
):
    last = records(finished_run)[-1]
    code, line = _resume_with(finished_run, json.dumps(mutate(last)), capsys)
    assert code == 2 and message in line and "journal.jsonl, line 16" in line


def test_a_journal_of_another_seed_or_width_is_foreign(tmp_path, capsys):
    for name, options in (("seed0", ["--seed", "0"]), ("seed1", ["--seed", "1"])):
        assert run_cli(["run", *TINY, *options, "--out", str(tmp_path / name), "--json"]) == 0
    capsys.readouterr()
    (tmp_path / "seed1" / "journal.jsonl").write_text(
        (tmp_path / "seed0" / "journal.jsonl").read_text()
    )
    assert run_cli(["run", "--resume", str(tmp_path / "seed1")]) == 2
    assert "line 1 was written by another run" in one_line(capsys)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "config.json is not valid JSON"),
        ("[1, 2]", "holds a JSON list, not an object"),
        ('{"config": {"budgets": "big"}}', "budgets must be an object"),
        ('{"config": {"width": "wide"}}', "search option width has the wrong type"),
        ('{"config": [1]}', "search options must be an object"),
    ],
)
def test_a_broken_config_json_is_one_line(finished_run, capsys, content, message):
    (finished_run / "config.json").write_text(content)
    assert run_cli(["run", "--resume", str(finished_run)]) == 2
    assert message in one_line(capsys)
    assert run_cli(["report", str(finished_run)]) == 2
    assert message in one_line(capsys)


def test_a_full_disk_is_one_line_and_leaves_a_valid_journal(tmp_path, capsys, monkeypatch):
    written = []
    real_fsync = os.fsync

    def fsync(descriptor):  # the journal's sixth record does not reach the disk
        if len(written) == 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(descriptor)
        real_fsync(descriptor)

    monkeypatch.setattr(journal_module.os, "fsync", fsync)
    run_dir = tmp_path / "run"
    assert run_cli(["run", *TINY, "--out", str(run_dir)]) == 5
    line = one_line(capsys)
    assert f"cannot write {run_dir}: the disk is full" in line and "--resume" in line
    assert 5 <= len(records(run_dir)) <= 6  # the sixth line may be on disk, unsynced
    monkeypatch.setattr(journal_module.os, "fsync", real_fsync)
    assert run_cli(["run", "--resume", str(run_dir), "--json"]) == 0
    assert len(records(run_dir)) == 15


def test_out_that_cannot_be_a_folder_is_one_line(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert run_cli(["run", *TINY, "--out", str(a_file)]) == 2
    assert "is a file, not a folder" in one_line(capsys)
    assert run_cli(["run", *TINY, "--out", str(a_file / "run")]) == 2
    assert f"lies under {a_file}, which is a file" in one_line(capsys)
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o500)
    try:
        # root writes anywhere but into /proc, a read-only file system
        target = read_only if not os.access(read_only, os.W_OK) else Path("/proc/neuronas")
        assert run_cli(["run", *TINY, "--out", str(target / "run")]) == 2
        assert "cannot create it" in one_line(capsys)
    finally:
        read_only.chmod(0o700)


# --- numbers and names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "clock_mhz=1e-320"], "expected a number from 1e-06 to 1e+09"),
        (["--set", "crossbar_size=" + "9" * 400], "expected an integer from 1 to 2147483647"),
        (["--width", "10000000"], "width must be at most 8,192"),
        (["--resume", ".", "--overwrite"], "do not combine it with --space"),
    ],
)
def test_numbers_a_user_types_are_bounded(tmp_path, capsys, args, message):
    assert run_cli(["run", *TINY, "--out", str(tmp_path / "run"), *args]) == 2
    assert message in one_line(capsys)


def test_cost_json_never_holds_bare_infinity_and_huge_networks_are_refused(capsys):
    cell = "|conv3x3~0|+|skip~0|conv3x3~1|+|skip~0|avgpool3x3~1|conv3x3~2|"
    assert run_cli(["cost", f"a={cell};b={cell}", "--set", "clock_mhz=1e-320", "--json"]) == 2
    assert "clock_mhz" in one_line(capsys)
    big = f"a={cell};b={cell};width=8192;hidden=1000000"
    assert run_cli(["show", big]) == 2
    line = one_line(capsys)
    assert "weights" in line and "GiB of memory" in line


def test_a_toml_file_that_is_not_utf8_is_one_line(tmp_path, capsys):
    toml = tmp_path / "chip.toml"
    toml.write_bytes(b"crossbar_size = 64\n# \xff\xfe\n")
    assert (
        run_cli(["run", *TINY, "--out", str(tmp_path / "r"), "--hardware-config", str(toml)]) == 2
    )
    assert "is not UTF-8 text" in one_line(capsys)


def test_disabling_a_plugin_that_does_not_exist_says_so(capsys):
    from neuronas.cli import main

    with pytest.raises(SystemExit) as caught:
        main(["--disable-plugin", "serch", "plugins"])
    assert caught.value.code == 2
    line = one_line(capsys)
    assert "unknown plugin to disable 'serch'" in line and "Did you mean 'search'?" in line


def test_disabling_through_the_environment_is_checked_as_the_option_is(capsys, monkeypatch):
    from neuronas.cli import main

    monkeypatch.setenv("NEURONAS_DISABLE_PLUGINS", "report,strategis")
    with pytest.raises(SystemExit) as caught:
        main(["plugins"])
    assert caught.value.code == 2
    line = one_line(capsys)
    assert "unknown plugin to disable 'strategis'" in line and "Did you mean 'strategies'?" in line


# --- checkpoints ---------------------------------------------------------------------------------


@pytest.fixture
def checkpoint(finished_run, tmp_path, capsys):
    arch = records(finished_run)[0]["arch"]
    out = tmp_path / "train"
    args = ["train", "--arch", arch, "--space", "tiny-hard", "--epochs", "1", "--out", str(out)]
    assert run_cli([*args, "--batch-size", "256", "--json"]) == 0
    capsys.readouterr()
    return out / "checkpoint.pt"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("epoch", "abc", "epoch must be a whole number"),
        ("rng", {}, "random-number states are incomplete"),
        ("metrics", 5, "metrics must be a list"),
        ("optimizer", {"state": {}}, "at least one parameter group"),
    ],
)
def test_a_damaged_checkpoint_is_one_line_in_evaluate_and_resume(
    checkpoint, capsys, field, value, message
):
    payload = torch.load(checkpoint, weights_only=True)
    payload[field] = value
    torch.save(payload, checkpoint)
    assert run_cli(["evaluate", str(checkpoint)]) == 2
    assert message in one_line(capsys)
    assert run_cli(["train", "--resume", "--out", str(checkpoint.parent)]) == 2
    assert message in one_line(capsys)


def test_a_payload_checkpoint_is_not_a_neuronas_checkpoint(tmp_path, capsys):
    class Payload:
        def __reduce__(self):
            return (print, ("ran",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "neuronas-checkpoint", "x": Payload()}, path)
    assert run_cli(["evaluate", str(path)]) == 2
    line = one_line(capsys)
    assert "not a readable neuronas checkpoint" in line and "weights_only" not in line


# --- misbehaving plugins -------------------------------------------------------------------------


@attrs.define
class BadHardware:
    """A hardware model that misbehaves in the way ``mode`` says."""

    mode: str
    name: str = "bad-hw"
    description: str = "misbehaves"

    def make_config(self, overrides=None):
        return dict(overrides or {})

    def estimate(self, layers, config):
        if self.mode == "raises":
            raise ValueError("constants table is empty")
        if self.mode == "string":
            return "12 mm^2"
        values = {"negative": -1.0, "nan": math.nan, "text": "1"}
        return HardwareCost(values.get(self.mode, 1.0), 1.0, 1.0, 1, 1, (1.0,))


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("raises", "failed in estimate(): ValueError: constants table is empty"),
        ("string", "estimate() returned a str instead of a neuronas.contracts.HardwareCost"),
        ("negative", "estimate() returned area_mm2=-1.0 (costs must be finite numbers >= 0)"),
        ("nan", "estimate() returned area_mm2=nan"),
        ("text", "estimate() returned area_mm2='1'"),
    ],
)
def test_a_hardware_model_that_fails_or_returns_garbage_is_named(tmp_path, capsys, mode, message):
    model = BadHardware(mode)

    class Plugin:
        @hookimpl
        def neuronas_register_hardware(self, register):
            register(model)

    neuronas.register_plugin(Plugin(), name="bad-hw-plugin")
    assert run_cli(["run", *TINY, "--hardware", "bad-hw", "--out", str(tmp_path / "r")]) == 1
    line = one_line(capsys)
    assert "hardware model 'bad-hw' (plugin 'bad-hw-plugin')" in line and message in line
    assert "--debug" in line


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (math.nan, "score nan"),
        ("high", "score 'high'"),
        (RuntimeError("boom"), "RuntimeError: boom"),
    ],
)
def test_a_fitness_that_fails_or_returns_garbage_is_named_and_the_journal_stays_valid(
    tmp_path, capsys, value, message
):
    calls = []

    @attrs.define
    class Metric:
        name: str = "bad-fit"
        description: str = "misbehaves"
        higher_is_better: bool = True

        def score(self, model, batches, **options):
            calls.append(1)
            if len(calls) < 10:  # nine candidates are scored, and journaled each as it is
                return FitnessScore(1.0, (1.0,))
            if isinstance(value, Exception):
                raise value
            return FitnessScore(value, (value,))

    class Plugin:
        @hookimpl
        def neuronas_register_fitness_metrics(self, register):
            register(Metric())

    neuronas.register_plugin(Plugin(), name="bad-fit-plugin")
    run_dir = tmp_path / "r"
    assert run_cli(["run", *TINY, "--fitness", "bad-fit", "--out", str(run_dir)]) == 1
    line = one_line(capsys)
    assert "fitness metric 'bad-fit' (plugin 'bad-fit-plugin')" in line and message in line
    assert len(records(run_dir)) == 9 and f"--resume {run_dir}" in line


def test_an_observer_that_raises_is_named_and_debug_shows_the_traceback(tmp_path, capsys):
    class Observer:
        @hookimpl
        def neuronas_candidate_evaluated(self, evaluation):
            raise KeyError("missing column")

    neuronas.register_plugin(Observer(), name="broken-observer")
    assert run_cli(["run", *TINY, "--out", str(tmp_path / "r")]) == 1
    line = one_line(capsys)
    assert "plugin 'broken-observer' failed in its neuronas_candidate_evaluated hook" in line
    assert run_cli(["--debug", "run", *TINY, "--out", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "missing column" in err


def test_plugins_lists_a_plugin_whose_component_has_no_name(monkeypatch, capsys):
    import importlib.metadata
    import types

    module = types.ModuleType("nameless")

    @hookimpl
    def neuronas_register_hardware(register):
        register(types.SimpleNamespace(description="x", make_config=None, estimate=None))

    module.neuronas_register_hardware = neuronas_register_hardware

    class EntryPoint:
        name, dist = "nameless", None

        def load(self):
            return module

    real = importlib.metadata.entry_points
    monkeypatch.setattr(
        importlib.metadata,
        "entry_points",
        lambda group=None, **k: [
            *real(group=group, **k),
            *([EntryPoint()] if group == "neuronas" else []),
        ],
    )
    manager.reset()
    with pytest.warns(manager.PluginLoadWarning):
        assert run_cli(["plugins", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert [f["name"] for f in described["failed"]] == ["nameless"]
    assert "without a valid 'name'" in described["failed"][0]["error"]


def install_entry_point(site, name, module, source=""):
    """A fake installed distribution in ``site`` with a 'neuronas' entry point ``name = module``."""
    dist = site / f"{name.replace('-', '_')}_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[neuronas]\n{name} = {module}\n")
    if source:
        (site / f"{module}.py").write_text(source)
    return {**os.environ, "PYTHONPATH": str(site)}


NEURONAS = [sys.executable, "-c", "from neuronas.cli import main; main()"]


def test_strict_mode_is_one_line_and_exit_1(tmp_path):
    env = install_entry_point(tmp_path / "site", "broken", "no_such_module")
    env["NEURONAS_STRICT_PLUGINS"] = "1"
    done = subprocess.run([*NEURONAS, "plugins"], env=env, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "plugin 'broken' (broken-plugin 1.0) failed to load" in done.stderr


# --- report and train on hostile run folders -----------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: {**r, "costs": {**r["costs"], "energy_uj": 1e308}}, "is not plausible"),
        (lambda r: {**r, "costs": {**r["costs"], "energy_uj": -1e308}}, "must be >= 0"),
        (lambda r: {**r, "costs": {**r["costs"], "energy_uj": "1"}}, "must be a number"),
        (lambda r: {**r, "violations": {"area": "x"}}, "violation area must be a number"),
        (lambda r: {**r, "score": 10**400}, "too large for a float"),
    ],
)
def test_report_on_a_hostile_journal_is_one_line(finished_run, capsys, edit, message):
    lines = (finished_run / "journal.jsonl").read_text().splitlines()
    lines[2] = json.dumps(edit(json.loads(lines[2])))
    (finished_run / "journal.jsonl").write_text("\n".join(lines) + "\n")
    assert run_cli(["report", str(finished_run)]) == 2
    line = one_line(capsys)
    assert message in line and "journal.jsonl, line 3" in line


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1]", "result.json holds a JSON list"),
        ('{"best": "a=b"}', "best must be an object"),
        ('{"best": {"arch": 5}}', "must hold an arch string"),
    ],
)
def test_report_and_train_on_a_hostile_result_json(finished_run, capsys, content, message):
    (finished_run / "result.json").write_text(content)
    assert run_cli(["report", str(finished_run)]) == 2
    assert message in one_line(capsys)
    assert run_cli(["train", str(finished_run), "--epochs", "1"]) == 2
    assert one_line(capsys)


@pytest.mark.parametrize("content", ["7", "[]", '{"config": 5}'])
def test_report_on_a_hostile_config_json(finished_run, capsys, content):
    (finished_run / "config.json").write_text(content)
    assert run_cli(["report", str(finished_run)]) == 2
    assert "config.json" in one_line(capsys)


def test_budgets_of_the_wrong_type_in_config_json_are_one_line_for_report(finished_run, capsys):
    saved = json.loads((finished_run / "config.json").read_text())
    saved["config"]["budgets"]["max_area_mm2"] = "big"
    (finished_run / "config.json").write_text(json.dumps(saved))
    assert run_cli(["report", str(finished_run)]) == 2
    assert "is not a number" in one_line(capsys)


# --- options files -------------------------------------------------------------------------------


TRAIN_ARCH = "a=|conv3x3~0|+|skip~0|conv3x3~1|;b=|conv3x3~0|+|skip~0|conv3x3~1|;width=4;timesteps=2"


def test_a_json_number_too_long_to_read_is_one_line(finished_run, tmp_path, capsys):
    huge = "1" + "0" * 5000  # more digits than Python turns into an int
    options = tmp_path / "run.json"
    options.write_text(f'{{"seed": {huge}}}')
    assert run_cli(["run", "--config", str(options), *TINY, "--out", str(tmp_path / "r")]) == 2
    assert "number too long" in one_line(capsys)
    layers = tmp_path / "layers.json"
    layers.write_text(f'{{"layers": [], "params": {{"crossbar_size": {huge}}}}}')
    assert run_cli(["cost", "--layers", str(layers)]) == 2
    assert "number too long" in one_line(capsys)
    with (finished_run / "journal.jsonl").open("a") as journal:
        journal.write(f'{{"score": {huge}}}\n')
    assert run_cli(["report", str(finished_run)]) == 2
    assert "is not a journal record" in one_line(capsys)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"budgets": null}', "budgets must be an object, got None"),
        ('{"init": "weird"}', "init must be one of shared, independent, got 'weird'"),
    ],
)
def test_search_options_null_budgets_or_an_unknown_init_are_one_line(
    tmp_path, capsys, content, message
):
    options = tmp_path / "run.json"
    options.write_text(content)
    assert run_cli(["run", "--config", str(options), *TINY, "--out", str(tmp_path / "r")]) == 2
    assert message in one_line(capsys)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("epochs = 1.7\n", "epochs must be an integer, got 1.7"),  # not trained for 1 epoch
        ("[epochs]\nx = 1\n", "epochs must be an integer, got {'x': 1}"),
        ('augment = "no"\n', "augment must be true or false, got 'no'"),
        ("ptq_bits = 4\n", "ptq_bits must be a list of integers, got 4"),
        ('ptq_bits = ["4"]\n', "ptq_bits must be an integer, got '4'"),
        ("lr = true\n", "lr must be a number, got True"),
        ("arch = 5\n", "arch must be a string, got 5"),
    ],
)
def test_training_options_of_the_wrong_type_are_one_line(tmp_path, capsys, content, message):
    options = tmp_path / "train.toml"
    options.write_text(content)
    args = ["train", "--config", str(options), "--arch", TRAIN_ARCH, "--out", str(tmp_path / "t")]
    assert run_cli(args) == 2
    assert message in one_line(capsys)
    assert not (tmp_path / "t").exists()


def test_study_of_a_run_folder_with_a_broken_config_json_is_one_line(finished_run, capsys):
    (finished_run / "config.json").write_text("{not json")
    assert run_cli(["study", str(finished_run), "--archs", "2", "--epochs", "1"]) == 2
    assert "config.json is not valid JSON" in one_line(capsys)
    (finished_run / "config.json").write_text('{"config": {"width": "wide"}}')
    assert run_cli(["study", str(finished_run), "--archs", "2", "--epochs", "1"]) == 2
    assert "search option width has the wrong type" in one_line(capsys)


def test_study_of_a_run_folder_with_a_garbled_journal_is_one_line(finished_run, capsys):
    with (finished_run / "journal.jsonl").open("a") as journal:
        journal.write("[1, 2]\n")
    assert run_cli(["study", str(finished_run), "--archs", "3", "--epochs", "1"]) == 2
    assert "journal.jsonl, line 16 must be an object, got list" in one_line(capsys)


@pytest.mark.parametrize(
    "args",
    [
        ["sweep", "--weight-bits", "4,,8"],
        ["sweep", "--weight-bits", "8,"],
        ["study", "tiny-hard", "--weight-bits", ",8"],
        ["study", "tiny-hard", "--metrics", "params,,synflow"],
        ["study", "tiny-hard", "--score-batchnorm", "per-step,"],
    ],
)
def test_a_comma_separated_list_with_an_empty_item_is_refused(tmp_path, capsys, args):
    """Not read as the list without it: `4,,8` is a typo of a precision, not the sweep 4,8."""
    out = ["--out", str(tmp_path / "out")]
    tiny = TINY if args[0] == "sweep" else ["--width", "4", "--archs", "2", "--epochs", "1"]
    assert run_cli([*args, *tiny, *out]) == 2
    assert f"{args[-1]!r} has an empty item" in one_line(capsys)
    assert not (tmp_path / "out").exists()


# --- signals -------------------------------------------------------------------------------------


SLOW_PLUGIN = """
import time
from neuronas.plugin import hookimpl
from neuronas.snn.space import CellSearchSpace


@hookimpl
def neuronas_register_search_spaces(register):
    register(CellSearchSpace("tiny-hard", "t", ("skip", "conv3x3"), nodes=3))


@hookimpl
def neuronas_candidate_evaluated(evaluation):
    time.sleep(0.3)
"""


def test_sigterm_ends_a_search_like_ctrl_c_with_exit_143(tmp_path):
    env = install_entry_point(tmp_path / "site", "slow", "slow_plugin", SLOW_PLUGIN)
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [*NEURONAS, "run", *TINY, "--out", str(run_dir)], env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (run_dir / "journal.jsonl").exists() and len(records(run_dir)) >= 2:
            break
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert f"neuronas run --resume {run_dir}" in err and "Traceback" not in err
    assert 2 <= len(records(run_dir)) < 15
