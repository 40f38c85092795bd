"""The executors: order, streaming, worker setup, errors that cross processes, dead workers and resume,
and the same search result from local, process and Ray."""

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

import neuronas
from neuronas.arch import Architecture, Cell, Macro
from neuronas.budgets import Budgets
from neuronas.builtins.executors import (
    ExecutorError,
    LocalExecutor,
    ProcessExecutor,
    RayExecutor,
    RemoteError,
    WorkerComponentError,
    available_cpus,
    wants_gpu,
)
from neuronas.contracts import ScoringSettings
from neuronas.errors import UsageError
from neuronas.plugin import get_component, hookimpl, register_plugin
from neuronas.search.config import SearchConfig
from neuronas.search.evaluator import CandidateScorer, Evaluator
from neuronas.search.journal import Journal

TESTS = str(Path(__file__).parent)

# --- a probe: one picklable fn whose item says what to do in the worker ----------------------------

UNPICKLED: list[int] = []  # per process: how many times a Probe was unpickled there


def _unpickle_probe():
    UNPICKLED.append(1)
    return Probe()


class Unpicklable(Exception):
    def __init__(self, code, detail):
        super().__init__(f"code {code}: {detail}")


class Probe:
    def __reduce__(self):
        return (_unpickle_probe, ())

    def __call__(self, item):
        action, argument = item
        if action == "echo":
            delay, value = argument
            time.sleep(delay)
            return value
        if action == "setup":
            import torch

            return os.getpid(), len(UNPICKLED), torch.get_num_threads()
        if action == "component":
            return get_component("fitness", argument).name
        if action == "unpicklable":
            raise Unpicklable(7, argument)
        raise AssertionError(action)


@pytest.fixture(scope="module")
def pool():
    executor = ProcessExecutor()
    yield executor
    executor.close()


def test_process_yields_in_item_order_when_later_items_finish_first(pool):
    items = [("echo", (0.4 if i == 0 else 0.0, i)) for i in range(6)]
    assert list(pool.map(Probe(), items, workers=2)) == list(range(6))


def test_process_workers_unpickle_fn_once_and_split_the_cpus(pool):
    first = list(pool.map(Probe(), [("setup", None)] * 8, workers=2))
    again = list(pool.map(Probe(), [("setup", None)] * 4, workers=2))
    assert {unpickled for _, unpickled, _ in first + again} == {1}  # once per worker, not per task
    # same fn: the pool is reused, so both maps ran on the same two workers (a new pool would add
    # two more; which worker took a task in the first map depends on the load)
    assert len({pid for pid, _, _ in first + again}) <= 2
    assert {threads for _, _, threads in first} == {max(1, available_cpus() // 2)}
    assert os.getpid() not in {pid for pid, _, _ in first}


def test_an_error_that_cannot_be_unpickled_arrives_as_its_text(pool):
    with pytest.raises(RemoteError, match=r"Unpicklable: code 7: broken"):
        list(pool.map(Probe(), [("unpicklable", "broken")], workers=2))


class OnlyHere:
    name = "only-here"
    description = "A fitness metric registered from Python, so only this process has it."
    higher_is_better = True

    def score(self, model, batches, *, carry_state=True):
        raise AssertionError("not called")


class RunTimePlugin:
    @hookimpl
    def neuronas_register_fitness_metrics(self, register):
        register(OnlyHere())


def test_a_plugin_registered_at_run_time_is_named_when_workers_lack_it(pool):
    register_plugin(RunTimePlugin(), name="run-time-plugin")
    assert list(LocalExecutor().map(Probe(), [("component", "only-here")])) == ["only-here"]
    with pytest.raises(WorkerComponentError) as caught:
        list(pool.map(Probe(), [("component", "only-here")], workers=2))
    message = str(caught.value)
    assert "cannot find fitness metric 'only-here'" in message
    assert "registered from Python" in message and "--executor local" in message
    assert "run-time-plugin" in message


def test_ctrl_c_stops_the_workers_at_once():
    executor = ProcessExecutor()
    (pid, _, _) = next(executor.map(Probe(), [("setup", None)], workers=1))
    previous = signal.signal(signal.SIGALRM, signal.default_int_handler)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    started = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            list(executor.map(Probe(), [("echo", (60, 0))], workers=1))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the worker is gone, not left running its 60 s task
    assert time.perf_counter() - started < 20


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


KILLED_PARENT = """
import os, signal
from neuronas.builtins.executors import ProcessExecutor
from test_executors import Probe
pids = {pid for pid, _, _ in ProcessExecutor().map(Probe(), [("setup", None)] * 4, workers=2)}
print(*pids, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_workers_exit_when_their_parent_is_killed():
    import subprocess

    child = subprocess.run(
        [sys.executable, "-c", KILLED_PARENT], cwd=TESTS, capture_output=True, text=True
    )
    pids = [int(pid) for pid in child.stdout.split()]
    assert pids, child.stderr
    deadline = time.monotonic() + 2  # docs/executors.md promises 2 s (Linux: at once)
    while any(map(running, pids)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(map(running, pids))


# --- dead workers and the journal ---------------------------------------------------------------

OPS = ("a", "b")
MACRO = Macro(width=4, timesteps=2)
ARCHS = [Architecture(Cell((x, y, "a")), Cell((y, x, "b")), MACRO) for x in OPS for y in OPS] + [
    Architecture(Cell((x, "b", y)), Cell(("a", x, y)), MACRO) for x in OPS for y in OPS
]


class FakeCosts:
    def __call__(self, arch):
        return {"params": 1, "area_mm2": 1.0, "latency_ms": 1.0, "energy_uj": 1.0}


class CrashingScorer:
    """Scores by string length; logs each scored arch; kills its process on ``crash_on`` once."""

    def __init__(self, log: Path, marker: Path, crash_on: str, delay: float = 0.0):
        self.log, self.marker, self.crash_on, self.delay = log, marker, crash_on, delay

    def groups(self, archs):
        return [archs[i : i + 2] for i in range(0, len(archs), 2)]

    def score_group(self, archs):
        if self.crash_on in archs and self.marker.exists():
            self.marker.unlink()
            time.sleep(self.delay)
            os._exit(1)
        with self.log.open("a") as handle:
            handle.writelines(arch + "\n" for arch in archs)
        return [(float(len(arch) + i), 0.0) for i, arch in enumerate(archs)]


def unconstrained():
    return SearchConfig(budgets=Budgets(None, None, None, None), workers=2)


def scored_lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_a_dead_process_worker_fails_clearly_and_resume_rescores_nothing_journaled(tmp_path):
    keys = [arch.to_string() for arch in ARCHS]
    log, marker, path = tmp_path / "scored.txt", tmp_path / "crash", tmp_path / "journal.jsonl"
    marker.touch()
    scorer = CrashingScorer(log, marker, crash_on=keys[4], delay=1.0)  # group 2 of 4
    executor = ProcessExecutor()
    journal = Journal(path)
    with pytest.raises(ExecutorError, match=r"worker process .* died.*--resume"):
        Evaluator(unconstrained(), FakeCosts(), scorer, executor, journal).evaluate_many(
            ARCHS, "random", ()
        )
    journal.close()
    executor.close()
    journaled = [record["arch"] for record in Journal(path).records]
    assert journaled == keys[:4]  # the groups before the dead one, in order

    before = len(scored_lines(log))
    journal = Journal(path)
    evaluator = Evaluator(unconstrained(), FakeCosts(), scorer, LocalExecutor(), journal)
    results = evaluator.evaluate_many(ARCHS, "random", ())
    journal.close()
    assert scored_lines(log)[before:] == keys[4:]  # only what the journal lacked
    assert [record["arch"] for record in Journal(path).records] == keys
    assert [r.score for r in results] == [float(len(k) + i % 2) for i, k in enumerate(keys)]


# --- Ray ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    path = os.pathsep.join([TESTS, *sys.path])
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    yield ray
    ray.shutdown()


def test_ray_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(UsageError, match=r"pip install 'neuronas\[ray\]'"):
        list(RayExecutor().map(Probe(), [("echo", (0, 1))]))


def test_nothing_to_score_starts_nothing(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    assert list(RayExecutor().map(Probe(), [])) == []  # Ray is not even imported


def test_ray_workers_lacking_a_run_time_plugin_name_it(ray_cluster):
    register_plugin(RunTimePlugin(), name="run-time-plugin")
    with pytest.raises(WorkerComponentError, match=r"fitness metric 'only-here'.*run-time-plugin"):
        list(RayExecutor().map(Probe(), [("component", "only-here")]))


def test_ray_streams_in_order_and_keeps_a_scorer_error_intact(ray_cluster):
    executor = RayExecutor()
    items = [("echo", (0.3 if i == 0 else 0.0, i)) for i in range(5)]
    assert list(executor.map(Probe(), items, workers=2)) == list(range(5))
    with pytest.raises(RemoteError, match="code 7"):
        list(executor.map(Probe(), [("unpicklable", "x")]))


def test_a_dead_ray_worker_is_retried_and_nothing_is_lost(ray_cluster, tmp_path):
    keys = [arch.to_string() for arch in ARCHS]
    log, marker, path = tmp_path / "scored.txt", tmp_path / "crash", tmp_path / "journal.jsonl"
    marker.touch()
    scorer = CrashingScorer(log, marker, crash_on=keys[4])
    journal = Journal(path)
    evaluator = Evaluator(unconstrained(), FakeCosts(), scorer, RayExecutor(), journal)
    results = evaluator.evaluate_many(ARCHS, "random", ())
    journal.close()
    assert not marker.exists()  # the worker did die once
    assert sorted(scored_lines(log)) == sorted(keys)  # the dead group was scored on retry
    assert [record["arch"] for record in Journal(path).records] == keys
    assert [r.score for r in results] == [float(len(k) + i % 2) for i, k in enumerate(keys)]


def test_a_ray_task_out_of_retries_fails_clearly_keeping_the_journal(ray_cluster, tmp_path):
    keys = [arch.to_string() for arch in ARCHS]
    log, marker, path = tmp_path / "scored.txt", tmp_path / "crash", tmp_path / "journal.jsonl"
    marker.touch()
    scorer = CrashingScorer(log, marker, crash_on=keys[4])
    journal = Journal(path)
    evaluator = Evaluator(unconstrained(), FakeCosts(), scorer, RayExecutor(max_retries=0), journal)
    with pytest.raises(ExecutorError, match=r"after 0 retries \(WorkerCrashedError\).*--resume"):
        evaluator.evaluate_many(ARCHS, "random", ())
    journal.close()
    assert [record["arch"] for record in Journal(path).records] == keys[:4]


class FakeRay:
    def __init__(self, resources):
        self.resources = resources

    def cluster_resources(self):
        return self.resources


@pytest.mark.parametrize(
    ("resources", "options", "workers", "on_gpu", "expected"),
    [
        ({"CPU": 8}, {}, 1, False, (1.0, 0.0, 8)),  # no GPUs: none requested; one task per CPU
        ({"CPU": 8}, {}, 3, False, (1.0, 0.0, 3)),  # --workers caps the tasks in flight
        ({"CPU": 8, "GPU": 2}, {}, 1, True, (1.0, 1.0, 2)),  # a GPU per task: as many as GPUs
        ({"CPU": 8, "GPU": 2}, {}, 1, False, (1.0, 0.0, 8)),  # a CPU scorer reserves no GPU
        ({"CPU": 8, "GPU": 2}, {"gpus_per_task": 0.5, "cpus_per_task": 2}, 1, True, (2, 0.5, 4)),
    ],
)
def test_ray_task_resources(resources, options, workers, on_gpu, expected):
    executor, ray = RayExecutor(**options), FakeRay(resources)
    cpus, gpus = executor.task_resources(ray, wants_gpu=on_gpu)
    assert (cpus, gpus, executor.in_flight(ray, workers, cpus, gpus)) == expected


def test_only_a_scorer_on_cuda_wants_a_gpu():
    base = dict(
        space="neuronas-3op", fitness="hamming-logdet", quantizer="fixed-point", weight_bits=8,
        rounding="nearest", seed=0, init="shared", carry_state=True, batches=(),
    )  # fmt: skip
    assert not wants_gpu(CandidateScorer(ScoringSettings(**base)).score_group)
    assert wants_gpu(CandidateScorer(ScoringSettings(**base, device="cuda:1")).score_group)


def test_ray_task_resources_from_the_environment(monkeypatch):
    monkeypatch.setenv("NEURONAS_RAY_CPUS_PER_TASK", "4")
    monkeypatch.setenv("NEURONAS_RAY_GPUS_PER_TASK", "0.25")
    assert RayExecutor().task_resources(FakeRay({"CPU": 8})) == (4.0, 0.25)
    monkeypatch.setenv("NEURONAS_RAY_GPUS_PER_TASK", "one")
    with pytest.raises(UsageError, match="NEURONAS_RAY_GPUS_PER_TASK='one' is not a number"):
        RayExecutor().task_resources(FakeRay({"CPU": 8}))


# --- the search result does not depend on the executor ------------------------------------------

TINY = {
    "strategy": "random",
    "candidates": 12,  # two groups of the evaluator's 8
    "width": 4,
    "timesteps": 2,
    "hidden": 16,
    "fitness_batch": 16,
    "dataset": "digits",
}


def outcome(run_dir: Path) -> dict:
    result = json.loads((run_dir / "result.json").read_text())
    journal = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    return {
        "best": (result["best"]["arch"], result["best"]["score"]),
        "counts": (result["candidates_evaluated"], result["candidates_scored"], result["rejected"]),
        "journal": [(record["arch"], record["score"]) for record in journal],
    }


@pytest.fixture(scope="module")
def local_outcome(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("local")
    neuronas.search(out=run_dir, executor="local", **TINY)
    return outcome(run_dir)


def test_process_pool_finds_what_local_finds(tmp_path, local_outcome):
    neuronas.search(out=tmp_path, executor="process", workers=2, **TINY)
    get_component("executor", "process").close()
    assert outcome(tmp_path) == local_outcome


def test_ray_finds_what_local_finds(ray_cluster, tmp_path, local_outcome):
    neuronas.search(out=tmp_path, executor="ray", workers=2, **TINY)
    assert outcome(tmp_path) == local_outcome


def test_local_scores_with_workers_threads_and_restores_the_count():
    import torch

    before = torch.get_num_threads()
    seen = list(LocalExecutor().map(lambda item: (item, torch.get_num_threads()), [1, 2], 2))
    assert seen == [(1, 2), (2, 2)]
    assert torch.get_num_threads() == before
