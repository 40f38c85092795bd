"""`neuronas run` / `neuronas.search` end to end on a tiny space: the run folder, determinism,
resume after Ctrl-C and kill -9, and clear errors with meaningful exit codes."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import types

import pytest

import neuronas
from neuronas.cli import build_cli
from neuronas.errors import NoFeasibleArchitecture
from neuronas.plugin import hookimpl
from neuronas.snn.space import CellSearchSpace

TINY = dict(
    space="tiny-2op",
    dataset="digits",
    width=4,
    timesteps=2,
    hidden=16,
    population=2,
    fitness_batch=16,
    fitness_batches=2,
)
CLI_TINY = [
    "--space", "tiny-2op", "--dataset", "digits", "--width", "4", "--timesteps", "2",
    "--hidden", "16", "--population", "2", "--fitness-batch", "16", "--fitness-batches", "2",
]  # fmt: skip

TINY_PLUGIN_SOURCE = """
from neuronas.plugin import hookimpl
from neuronas.snn.space import CellSearchSpace


@hookimpl
def neuronas_register_search_spaces(register):
    register(
        CellSearchSpace(
            name="tiny-2op", description="3-node cells over skip and conv3x3", ops=("skip", "conv3x3"), nodes=3
        )
    )
"""


def tiny_space_plugin():
    module = types.ModuleType("tiny_space")

    @hookimpl
    def neuronas_register_search_spaces(register):
        register(
            CellSearchSpace(name="tiny-2op", description="tiny", ops=("skip", "conv3x3"), nodes=3)
        )

    module.neuronas_register_search_spaces = neuronas_register_search_spaces
    return module


@pytest.fixture(autouse=True)
def tiny_space(fresh_plugins):
    neuronas.register_plugin(tiny_space_plugin(), name="tiny-space")


def journal(run_dir):
    return [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]


def test_two_phase_writes_the_run_folder(tmp_path):
    result = neuronas.search(out=tmp_path / "run", **TINY)
    run_dir = tmp_path / "run"
    saved = json.loads((run_dir / "result.json").read_text())
    records = journal(run_dir)
    assert result.feasible and saved["feasible"]
    assert (
        saved["best"]["arch"] == result.best.arch == (run_dir / "best_arch.txt").read_text().strip()
    )
    assert set(saved["best"]["costs"]) == {"params", "area_mm2", "latency_ms", "energy_uj"}
    # 8 cells: 8 candidates in phase 1, then 7 new ones in phase 2 ((A*, A*) is cached)
    assert saved["candidates_evaluated"] == len(records) == 15
    assert [r["phase"] for r in records] == ["1"] * 8 + ["2"] * 7
    assert saved["candidates_scored"] == sum(r["score"] is not None for r in records) == 15
    assert set(records[0]) == {
        "arch", "phase", "costs", "violations", "checks", "feasible", "score", "seconds", "run"
    }  # fmt: skip
    assert saved["config"]["space"] == "tiny-2op" and saved["config"]["seed"] == 0
    assert saved["hardware_params"]["timesteps"] == 2
    assert saved["hardware_params"]["weight_bits"] == 8
    assert {"neuronas", "torch", "spikingjelly", "numpy", "python"} <= set(saved["versions"])
    assert saved["rejected"] == {"memory": 0, "area": 0, "latency": 0, "energy": 0}


def test_same_seed_same_result_and_another_seed_differs(tmp_path):
    first = neuronas.search(out=tmp_path / "a", **TINY)
    second = neuronas.search(out=tmp_path / "b", **TINY)
    assert first.best.arch == second.best.arch and first.best.score == second.best.score
    assert [r["score"] for r in journal(tmp_path / "a")] == [
        r["score"] for r in journal(tmp_path / "b")
    ]
    neuronas.search(out=tmp_path / "c", seed=1, **TINY)
    assert [r["score"] for r in journal(tmp_path / "c")] != [
        r["score"] for r in journal(tmp_path / "a")
    ]


def test_budgets_reject_and_count(tmp_path):
    # the stem alone has 1 * 4 * 9 = 36 weights, so a 10-weight budget rejects everything
    with pytest.raises(NoFeasibleArchitecture) as caught:
        neuronas.search(out=tmp_path / "run", budgets={"max_params": 10}, **TINY)
    error = caught.value
    assert "no candidate meets every budget" in str(error) and "memory" in str(error)
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["feasible"] is False and saved["best"] is None
    assert saved["least_violating"]["violations"]["memory"] > 0
    assert saved["rejected"]["memory"] == 8 and saved["candidates_scored"] == 0


def test_ctrl_c_then_resume_rescores_nothing_and_ends_the_same(tmp_path):
    reference = neuronas.search(out=tmp_path / "reference", **TINY)

    class Interrupt:
        seen = 0

        @hookimpl
        def neuronas_candidate_evaluated(self, evaluation):
            Interrupt.seen += 1
            if Interrupt.seen == 6:
                raise KeyboardInterrupt

    neuronas.register_plugin(Interrupt(), name="interrupt")
    with pytest.raises(KeyboardInterrupt):
        neuronas.search(out=tmp_path / "run", **TINY)
    neuronas.plugin.get_host().unregister("interrupt")
    before = journal(tmp_path / "run")
    assert len(before) == 6

    scored_again = []

    class Watch:
        @hookimpl
        def neuronas_candidate_evaluated(self, evaluation):
            scored_again.append(evaluation.arch)

    neuronas.register_plugin(Watch(), name="watch")
    resumed = neuronas.search(resume=tmp_path / "run")
    after = journal(tmp_path / "run")
    assert after[:6] == before
    assert not {r["arch"] for r in before} & set(scored_again)
    assert [r["arch"] for r in after] == [r["arch"] for r in journal(tmp_path / "reference")]
    assert resumed.best.arch == reference.best.arch and resumed.best.score == reference.best.score
    assert resumed.resumed


def test_kill_9_then_resume(tmp_path):
    script = tmp_path / "search.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys, time, types
            import neuronas
            from neuronas.plugin import hookimpl

            tiny = types.ModuleType("tiny")
            exec({TINY_PLUGIN_SOURCE!r}, tiny.__dict__)
            neuronas.register_plugin(tiny, name="tiny-space")

            class Slow:
                @hookimpl
                def neuronas_candidate_evaluated(self, evaluation):
                    time.sleep(0.5)

            neuronas.register_plugin(Slow(), name="slow")
            neuronas.search(out=sys.argv[1], **{TINY!r})
            """
        )
    )
    run_dir = tmp_path / "run"
    process = subprocess.Popen([sys.executable, str(script), str(run_dir)])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        path = run_dir / "journal.jsonl"
        if path.exists() and path.read_text().count("\n") >= 3:
            break
        time.sleep(0.1)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with (run_dir / "journal.jsonl").open("a") as handle:
        handle.write('{"arch": "a=|conv')  # a record cut short by the kill
    kept = (run_dir / "journal.jsonl").read_text().splitlines()[:-1]
    assert 3 <= len(kept) < 15
    result = neuronas.search(resume=run_dir)
    records = journal(run_dir)
    assert [json.dumps(r, sort_keys=True) for r in records[: len(kept)]] == kept
    assert len(records) == 15 and len({r["arch"] for r in records}) == 15
    reference = neuronas.search(out=tmp_path / "reference", **TINY)
    assert result.best.arch == reference.best.arch and result.best.score == reference.best.score


def run_cli(args):
    """The exit code a shell would see; output goes to capsys."""
    try:
        build_cli().main(args=args, prog_name="neuronas", standalone_mode=True)
    except SystemExit as exit_:
        return exit_.code
    return 0


def test_cli_run_prints_the_table_and_json(tmp_path, capsys):
    code = run_cli(["run", *CLI_TINY, "--out", str(tmp_path / "run"), "--json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((tmp_path / "run" / "result.json").read_text())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hardware", "spikefloww"], "valid names: "),
        (["--strategy", "two-phaze"], "Did you mean 'two-phase'?"),
        (["--max-area", "-3"], "max_area_mm2 (--max-area) must be a positive number"),
        (["--max-params", "lots"], "is not a number"),
        (["--weight-bits", "64"], "weight-bits must be between 2 and 32"),
    ],
)
def test_cli_bad_input_is_a_usage_error(tmp_path, capsys, args, message):
    code = run_cli(["run", *CLI_TINY, "--out", str(tmp_path / "run"), *args])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cli_nothing_feasible_exits_3(tmp_path, capsys):
    code = run_cli(["run", *CLI_TINY, "--out", str(tmp_path / "run"), "--max-params", "10"])
    assert code == 3
    captured = capsys.readouterr()
    assert "no candidate meets every budget" in captured.err
    assert "least violating" in captured.out


class ProtocolOnlySpace:
    """The tiny space seen only through the SearchSpace protocol, as a third-party space is."""

    name = "protocol-only"
    description = "the tiny space, without CellSearchSpace's extra methods"

    def __init__(self):
        self._space = CellSearchSpace(
            name="inner", description="", ops=("skip", "conv3x3"), nodes=3
        )
        self.ops = self._space.ops

    def enumerate(self):
        return self._space.enumerate()

    def sample(self, rng):
        return self._space.sample(rng)

    def is_valid(self, cell):
        return self._space.is_valid(cell)

    def build(self, arch, seed=None):
        return self._space.build(arch, seed)

    def layer_shapes(self, arch, include_classifier=False):
        return self._space.layer_shapes(arch, include_classifier)


def test_a_space_with_only_the_protocol_resumes(tmp_path):
    class Plugin:
        @hookimpl
        def neuronas_register_search_spaces(self, register):
            register(ProtocolOnlySpace())

    neuronas.register_plugin(Plugin(), name="protocol-only")
    options = {**TINY, "space": "protocol-only"}
    first = neuronas.search(out=tmp_path / "run", **options)
    resumed = neuronas.search(resume=tmp_path / "run")
    assert resumed.best.arch == first.best.arch and resumed.resumed


def test_cli_resume_refuses_other_options_and_non_runs(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert run_cli(["run", "--resume", str(tmp_path / "empty")]) == 2
    assert "has no config.json" in capsys.readouterr().err
    assert run_cli(["run", "--resume", str(tmp_path / "empty"), "--seed", "3"]) == 2
    assert "do not combine it with --seed" in capsys.readouterr().err


def test_cli_refuses_to_overwrite_a_run(tmp_path, capsys):
    assert run_cli(["run", *CLI_TINY, "--out", str(tmp_path / "run"), "--json"]) == 0
    capsys.readouterr()
    assert run_cli(["run", *CLI_TINY, "--out", str(tmp_path / "run")]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_cli_hardware_parameters_from_toml_and_set(tmp_path, capsys):
    toml = tmp_path / "chip.toml"
    toml.write_text('[hardware]\ncrossbar_size = 128\ndevice = "sram"\n')
    args = ["run", *CLI_TINY, "--out", str(tmp_path / "run"), "--json"]
    code = run_cli([*args, "--hardware-config", str(toml), "--set", "crossbar_size=32"])
    assert code == 0
    params = json.loads(capsys.readouterr().out)["hardware_params"]
    assert params["crossbar_size"] == 32 and params["device"] == "sram"
    assert run_cli([*args[:-3], "--out", str(tmp_path / "bad"), "--set", "crossbar=8"]) == 2
    assert "Did you mean 'crossbar_size'?" in capsys.readouterr().err


def test_cli_network_options_reach_every_candidate(tmp_path, capsys):
    args = ["run", *CLI_TINY, "--out", str(tmp_path / "run"), "--json"]
    extra = ["--batchnorm", "pooled", "--dropout", "0.25", "--weight-init", "snasnet"]
    assert run_cli([*args, *extra]) == 0
    saved = json.loads(capsys.readouterr().out)
    assert saved["config"]["batchnorm"] == "pooled" and saved["config"]["dropout"] == 0.25
    for record in journal(tmp_path / "run"):
        assert record["arch"].endswith(";bn=pooled;dropout=0.25;init=snasnet")


def test_the_snasnet_spaces_score_snasnets_network_by_default(tmp_path):
    result = neuronas.search(
        out=tmp_path / "run",
        **{**TINY, "space": "snasnet-backward"},
        strategy="random",
        candidates=3,
        same_cells=True,
    )
    macro = result.architecture.macro
    assert (macro.dropout, macro.weight_init, macro.batchnorm) == (0.5, "snasnet", "per-step")
    assert result.architecture.cell_a == result.architecture.cell_b
    assert any("backward (temporal feedback) edges" in note for note in result.notes)


def test_kill_9_inside_a_reuse_group_loses_only_what_was_in_flight(tmp_path):
    # the first reuse group of the tiny space holds 4 candidates, here scored a second each; a
    # killed run keeps every candidate scored before the kill, not only whole groups
    script = tmp_path / "search.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys, time, types
            import neuronas
            from neuronas import reuse

            tiny = types.ModuleType("tiny")
            exec({TINY_PLUGIN_SOURCE!r}, tiny.__dict__)
            neuronas.register_plugin(tiny, name="tiny-space")
            score = reuse._GroupRun.score

            def slow(self, arch, signatures):
                time.sleep(1.0)
                return score(self, arch, signatures)

            reuse._GroupRun.score = slow
            neuronas.search(out=sys.argv[1], reuse=True, **{TINY!r})
            """
        )
    )
    run_dir = tmp_path / "run"
    process = subprocess.Popen([sys.executable, str(script), str(run_dir)])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        path = run_dir / "journal.jsonl"
        if path.exists() and path.read_text().count("\n") >= 1:
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    kept = journal(run_dir)
    assert 1 <= len(kept) < 4 and {r["phase"] for r in kept} == {"1"}
    result = neuronas.search(resume=run_dir)
    assert len(journal(run_dir)) == 15 and journal(run_dir)[: len(kept)] == kept
    reference = neuronas.search(out=tmp_path / "reference", **TINY)
    assert result.best.arch == reference.best.arch and result.best.score == reference.best.score


RUN_TOML = """
space = "tiny-2op"
dataset = "digits"
strategy = "random"
candidates = 4
width = 4
timesteps = 2
hidden = 16
population = 2
fitness_batch = 16
seed = 5

[budgets]
max_energy_uj = 800

[hardware_params]
crossbar_size = 128
"""


def saved_config(run_dir):
    return json.loads((run_dir / "config.json").read_text())["config"]


def test_run_takes_its_options_from_a_toml_file_and_the_command_line_wins(tmp_path, capsys):
    (tmp_path / "run.toml").write_text(RUN_TOML)
    args = ["run", "--config", str(tmp_path / "run.toml"), "--seed", "7", "--max-area", "900"]
    assert (
        run_cli([*args, "--set", "pes_per_tile=4", "--out", str(tmp_path / "run"), "--quiet"]) == 0
    )
    saved = saved_config(tmp_path / "run")
    assert (saved["strategy"], saved["candidates"], saved["width"], saved["seed"]) == (
        "random", 4, 4, 7,
    )  # fmt: skip
    assert saved["budgets"] == {
        "max_params": 10e6, "max_area_mm2": 900.0, "max_latency_ms": 500.0, "max_energy_uj": 800.0,
    }  # fmt: skip
    assert saved["hardware_params"] == {"crossbar_size": 128, "pes_per_tile": "4"}
    assert saved["fitness_batches"] == 2  # neither file nor command line: the default


def test_a_run_folders_config_json_repeats_the_run(tmp_path, capsys):
    (tmp_path / "run.toml").write_text(RUN_TOML)
    assert (
        run_cli(
            ["run", "--config", str(tmp_path / "run.toml"), "--out", str(tmp_path / "a"), "--quiet"]
        )
        == 0
    )
    again = ["run", "--config", str(tmp_path / "a" / "config.json"), "--out", str(tmp_path / "b")]
    assert run_cli([*again, "--quiet"]) == 0
    assert saved_config(tmp_path / "a") == saved_config(tmp_path / "b")
    first, second = (json.loads((tmp_path / d / "result.json").read_text()) for d in "ab")
    assert first["best"] == second["best"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("widht = 4", "unknown search option(s): widht"),
        ('width = "x"', "search option width has the wrong type"),
        ("[budgets]\nmax_area = 3", "unknown budget(s): max_area"),
        ("[x", "is not valid TOML"),
    ],
)
def test_a_bad_config_file_is_one_line_naming_it(tmp_path, capsys, text, message):
    (tmp_path / "run.toml").write_text(text)
    assert (
        run_cli(["run", "--config", str(tmp_path / "run.toml"), "--out", str(tmp_path / "r")]) == 2
    )
    err = capsys.readouterr().err
    assert "run.toml" in err and message in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_config_with_resume_is_refused(tmp_path, capsys):
    (tmp_path / "run.toml").write_text(RUN_TOML)
    assert (
        run_cli(
            ["run", "--config", str(tmp_path / "run.toml"), "--out", str(tmp_path / "a"), "--quiet"]
        )
        == 0
    )
    assert (
        run_cli(["run", "--resume", str(tmp_path / "a"), "--config", str(tmp_path / "run.toml")])
        == 2
    )
    assert "do not combine it with --config" in capsys.readouterr().err


def test_run_options_are_the_configs_fields_with_their_defaults():
    """`neuronas run`'s options are made from SearchConfig's fields, so none can drift."""
    from neuronas.builtins.search import config_from_options, run_command
    from neuronas.search.config import SearchConfig

    ctx = run_command.make_context("run", [])
    assert config_from_options(ctx.params, ctx) == SearchConfig()
    ctx = run_command.make_context(
        "run", ["--no-constraints", "--reset-between-batches", "--no-reuse"]
    )
    config = config_from_options(ctx.params, ctx)
    assert (config.constraints, config.carry_state, config.reuse) == (False, False, False)
