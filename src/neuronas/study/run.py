"""Running a proxy study: score every architecture, train it with several seeds, journal as it goes.

The study folder holds ``config.json`` (the study's options and its architectures, written first),
``study.jsonl`` (one record per finished score, pick or training, fsynced as each arrives),
``trainings/`` (one ``neuronas train`` folder per architecture and seed, checkpointed every epoch),
``picks/`` (one ``neuronas run`` folder per score column when picks are on) and, at the end,
``study.json``, ``study.csv`` and ``study.png``. Resuming skips every journaled record and continues
an interrupted training from its last checkpoint, so a kill loses at most the epochs in flight.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from neuronas.arch import Architecture, Macro
from neuronas.contracts import ScoringSettings, input_shape_of, score_to_json
from neuronas.errors import UsageError
from neuronas.folders import locked, read_json, resumable, write_atomic
from neuronas.plugin import get_component
from neuronas.search.config import macro_for
from neuronas.search.evaluator import CandidateScorer
from neuronas.search.journal import Journal
from neuronas.seeds import derive_seed
from neuronas.study.config import StudyConfig, column_name

CONFIG_NAME = "config.json"
JOURNAL_NAME = "study.jsonl"


class StudyObserver:
    """Callbacks of a study (the CLI's progress display); every method is optional."""

    def stage_started(self, stage: str, total: int, done: int) -> None:
        """A stage ('scores', 'picks', 'trainings') begins with ``done`` of ``total`` already done."""

    def task_done(self, stage: str, record: Mapping[str, Any]) -> None:
        """One record of ``stage`` was journaled."""


def with_batchnorm(arch: str, mode: str) -> str:
    """``arch`` with its BatchNorm statistics set to ``mode``."""
    parsed = Architecture.parse(arch)
    return attrs.evolve(parsed, macro=attrs.evolve(parsed.macro, batchnorm=mode)).to_string()


@attrs.frozen
class StudyScorer:
    """Scores (arch, metric, bits, batchnorm) tasks as a search would (QaFE); picklable."""

    space: str
    seed: int
    batches: tuple[Any, ...]

    def __call__(self, task: tuple[str, str, int, str]) -> dict[str, Any]:
        arch, metric, bits, mode = task
        scorer = CandidateScorer(
            ScoringSettings(
                space=self.space,
                fitness=metric,
                quantizer="fixed-point",
                weight_bits=bits,
                rounding="nearest",
                seed=self.seed,
                init="shared",
                carry_state=True,
                batches=self.batches,
            )
        )
        value, seconds = scorer(with_batchnorm(arch, mode))
        return {
            "kind": "score",
            "arch": arch,
            "metric": metric,
            "bits": bits,
            "batchnorm": mode,
            "value": score_to_json(value),
            "seconds": seconds,
        }


def training_folder(root: Path, arch: str, seed: int) -> Path:
    digest = hashlib.sha1(arch.encode()).hexdigest()[:12]
    return root / "trainings" / f"{digest}-seed{seed}"


@attrs.frozen
class StudyTrainer:
    """Trains (arch, seed) tasks with the ``neuronas train`` recipe; picklable for executors."""

    root: str
    dataset: str
    data_dir: str | None
    space: str
    epochs: int
    batch_size: int
    lr: float

    def __call__(self, task: tuple[str, int]) -> dict[str, Any]:
        from neuronas.training import CHECKPOINT_NAME, TrainConfig, train

        arch, seed = task
        folder = training_folder(Path(self.root), arch, seed)
        config = TrainConfig(
            arch=arch,
            dataset=self.dataset,
            data_dir=self.data_dir,
            space=self.space,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            seed=seed,
        )
        started = time.perf_counter()
        result = train(config, folder, resume=(folder / CHECKPOINT_NAME).is_file())
        metrics = result.metrics
        quantized = {
            str(row["bits"]): row["test_accuracy"] for row in metrics["final"]["quantized"]
        }
        return {
            "kind": "training",
            "arch": arch,
            "seed": seed,
            "test_accuracy": metrics["final"]["test_accuracy"],
            "quantized_test_accuracy": quantized,
            "epochs": [record["test_accuracy"] for record in metrics["epochs"]],
            "seconds": time.perf_counter() - started,
        }


def draw_architectures(config: StudyConfig, macro: Macro) -> list[str]:
    """``config.archs`` distinct architectures: drawn from the space, or from a run's journal."""
    rng = np.random.default_rng(derive_seed(config.seed, "study-architectures"))
    if config.source_run is not None:
        journal = Path(config.source_run) / "journal.jsonl"
        if not journal.is_file():
            raise UsageError(f"{config.source_run} has no journal.jsonl to take architectures from")
        from neuronas.report import load_run  # its journal checked as `neuronas report` checks it

        run = load_run(config.source_run)
        scored = sorted({c.arch for c in run.candidates if c.score is not None})
        if len(scored) < config.archs:
            raise UsageError(
                f"{config.source_run} scored {len(scored)} architectures; the study needs "
                f"{config.archs} (ask for fewer with --archs)"
            )
        return [scored[i] for i in sorted(rng.choice(len(scored), config.archs, replace=False))]
    space = get_component("space", config.space)
    chosen: list[str] = []
    attempts = 0
    while len(chosen) < config.archs:
        attempts += 1
        if attempts > 100 * config.archs:
            raise UsageError(f"space {config.space!r} has fewer than {config.archs} architectures")
        arch = space.check(Architecture(space.sample(rng), space.sample(rng), macro)).to_string()
        if arch not in chosen:
            chosen.append(arch)
    return chosen


def read_study(out_dir: Path, doing: str = "resume") -> tuple[StudyConfig, list[str]]:
    """The config and architectures a study folder was started with, checked."""
    path = out_dir / CONFIG_NAME
    if not path.is_file():
        raise UsageError(f"cannot {doing} {out_dir}: it has no {CONFIG_NAME} of a study")
    saved = read_json(path, "a study's config.json")
    if "architectures" not in saved:
        raise UsageError(
            f"cannot {doing} {out_dir}: its {CONFIG_NAME} has no architectures; it is not a study "
            "folder (a run folder is given to `neuronas study RUN_DIR`)"
        )
    archs = saved.get("architectures")
    if not isinstance(archs, list) or not all(isinstance(a, str) for a in archs):
        raise UsageError(f"{path}: architectures must be a list of architecture strings")
    if not isinstance(saved.get("config"), dict):
        raise UsageError(f"{path}: config must be the object of the study's options")
    try:
        for arch in archs:
            Architecture.parse(arch)
        return StudyConfig.from_dict(saved["config"]), archs
    except (UsageError, TypeError) as error:
        raise UsageError(f"{path}: {error}") from None


def _fraction(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1


def _score_value(value: Any) -> bool:
    """What score_to_json writes: None, a finite number, or "inf" / "-inf"."""
    if value is None or value in ("inf", "-inf"):
        return True
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_records(
    records: Iterable[Any], path: Path, config: StudyConfig, archs: list[str]
) -> list[dict[str, Any]]:
    """The records of a study's journal, each one this study could have written (a score of one
    of its architectures and columns, a pick, a training of a seed it trains, accuracies in
    [0, 1]); a UsageError naming the first that is not, so that no foreign or garbled record
    becomes a number of study.json."""
    columns = set(config.columns())
    checked = []
    for number, record in enumerate(records, start=1):
        where = f"{path}: record {number}"
        if not isinstance(record, dict):
            raise UsageError(f"{where} is a JSON {type(record).__name__}, not a study record")
        kind = record.get("kind")
        if kind not in ("score", "pick", "training"):
            raise UsageError(f"{where} has kind {kind!r}; a study writes score, pick, training")
        arch = record.get("arch")
        if not isinstance(arch, str) or (kind == "score" and arch not in archs):
            raise UsageError(f"{where}: architecture {arch!r} is not one of this study's")
        if kind in ("score", "pick"):
            column = (record.get("metric"), record.get("bits"), record.get("batchnorm"))
            if column not in columns:
                raise UsageError(f"{where}: metric, bits, batchnorm {column} is not a study column")
            value = record.get("value" if kind == "score" else "score")
            if not _score_value(value):
                raise UsageError(f"{where}: score {value!r} is not a number, null, 'inf' or '-inf'")
        else:
            seed = record.get("seed")
            if isinstance(seed, bool) or seed not in range(config.seeds):
                raise UsageError(f"{where}: seed {seed!r} is not one of 0..{config.seeds - 1}")
            accuracies = [
                record.get("test_accuracy"),
                *(record.get("epochs") if isinstance(record.get("epochs"), list) else [None]),
                *(
                    record.get("quantized_test_accuracy").values()
                    if isinstance(record.get("quantized_test_accuracy"), dict)
                    else [None]
                ),
            ]
            wrong = [value for value in accuracies if not _fraction(value)]
            if wrong:
                raise UsageError(f"{where}: accuracy {wrong[0]!r} is not a number from 0 to 1")
        checked.append(record)
    return checked


def report_study(out_dir: str | Path) -> dict[str, Any]:
    """study.json, study.csv and study.png from what a study folder has journaled so far, without
    scoring or training anything: the interim numbers of a study still running (its journal is
    only read) or stopped before the end. Returns the analysis."""
    from neuronas.study.report import write_study

    out_dir = Path(out_dir)
    config, archs = read_study(out_dir, "report on")
    journal = out_dir / JOURNAL_NAME
    records = Journal.read(journal) if journal.exists() else []
    return write_study(out_dir, config, archs, check_records(records, journal, config, archs))


def _prepare(
    config: StudyConfig, out_dir: Path, resume: bool, add_picks: bool
) -> tuple[StudyConfig, list[str]]:
    if resume:
        saved, archs = read_study(out_dir)
        if add_picks and not saved.picks:
            saved = attrs.evolve(saved, picks=True)
            _write_config(out_dir, saved, archs)
        return saved, archs
    if (out_dir / JOURNAL_NAME).exists():
        raise UsageError(
            f"{out_dir} already holds a study; continue it with --resume {out_dir} or choose "
            "another --out"
        )
    space = get_component("space", config.space)
    dataset = get_component("dataset", config.dataset)
    get_component("executor", config.executor)
    for metric in config.metrics:
        get_component("fitness", metric)
    input_shape = input_shape_of(dataset, config.event_size)
    archs = draw_architectures(config, macro_for(config, space, input_shape, dataset.num_classes))
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_config(out_dir, config, archs)
    return config, archs


def _write_config(out_dir: Path, config: StudyConfig, archs: list[str]) -> None:
    document = {"config": config.to_dict(), "architectures": archs}
    write_atomic(out_dir / CONFIG_NAME, json.dumps(document, indent=2))


def _run_stage(
    name: str,
    fn: Any,
    tasks: list[Any],
    done: int,
    config: StudyConfig,
    journal: Journal,
    observer: StudyObserver,
) -> None:
    observer.stage_started(name, done + len(tasks), done)
    executor = get_component("executor", config.executor)
    for record in executor.map(fn, tasks, config.workers):
        journal.append(record)
        observer.task_done(name, record)


def run_study(
    config: StudyConfig,
    out_dir: str | Path,
    resume: bool = False,
    observer: StudyObserver | None = None,
    add_picks: bool = False,
) -> dict[str, Any]:
    """Run (or resume) a study in ``out_dir`` (locked meanwhile); returns what study.json holds.

    ``add_picks`` on resume turns picks on for a study started without them: its scores and
    trainings stand, the two-phase searches and the picks' trainings are added."""
    out_dir = Path(out_dir)
    observer = observer or StudyObserver()
    if resume and not out_dir.is_dir():
        raise UsageError(f"cannot resume {out_dir}: there is no such folder")
    hint = f"every finished score and training is kept: continue with `neuronas study --resume {out_dir}`"
    with locked(out_dir, "study"), resumable(hint):
        return _run_study(config, out_dir, resume, observer, add_picks)


def _run_study(
    config: StudyConfig, out_dir: Path, resume: bool, observer: StudyObserver, add_picks: bool
) -> dict[str, Any]:
    from neuronas.data import load_split, sample_batches
    from neuronas.study.report import write_study

    config, archs = _prepare(config, out_dir, resume, add_picks)
    dataset = get_component("dataset", config.dataset)
    root = Path(config.data_dir) if config.data_dir else None
    batches = sample_batches(
        load_split(dataset, root, "train", config.timesteps, config.event_size),
        config.fitness_batch,
        config.fitness_batches,
        derive_seed(config.seed, "batches"),
    )
    journal = Journal(out_dir / JOURNAL_NAME)
    try:
        records = check_records(journal.records, journal.path, config, archs)
        done_scores = {
            (r["arch"], r["metric"], r["bits"], r["batchnorm"])
            for r in records
            if r["kind"] == "score"
        }
        tasks = [
            (arch, metric, bits, mode) for arch in archs for metric, bits, mode in config.columns()
        ]
        scorer = StudyScorer(config.space, config.seed, tuple(batches))
        todo = [task for task in tasks if task not in done_scores]
        _run_stage("scores", scorer, todo, len(tasks) - len(todo), config, journal, observer)
        if config.picks:
            _run_picks(config, out_dir, journal, observer)
        picked = [r["arch"] for r in journal.records if r["kind"] == "pick"]
        trained = {(r["arch"], r["seed"]) for r in journal.records if r["kind"] == "training"}
        tasks = [
            (arch, seed) for arch in _unique([*archs, *picked]) for seed in range(config.seeds)
        ]
        trainer = StudyTrainer(
            str(out_dir),
            config.dataset,
            config.data_dir,
            config.space,
            config.epochs,
            config.batch_size,
            config.lr,
        )
        todo = [task for task in tasks if task not in trained]
        _run_stage("trainings", trainer, todo, len(tasks) - len(todo), config, journal, observer)
        records = list(journal.records)
    finally:
        journal.close()
    return write_study(out_dir, config, archs, records)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _run_picks(
    config: StudyConfig, out_dir: Path, journal: Journal, observer: StudyObserver
) -> None:
    """A two-phase search under every score column; its pick is journaled and trained later."""
    from neuronas.errors import NoFeasibleArchitecture
    from neuronas.search.config import SearchConfig
    from neuronas.search.run import run_search

    columns = config.columns()
    done = {
        (r["metric"], r["bits"], r["batchnorm"]) for r in journal.records if r["kind"] == "pick"
    }
    observer.stage_started("picks", len(columns), len(done))
    for metric, bits, mode in columns:
        if (metric, bits, mode) in done:
            continue
        search = SearchConfig(
            strategy="two-phase",
            space=config.space,
            fitness=metric,
            weight_bits=bits,
            dataset=config.dataset,
            data_dir=config.data_dir,
            event_size=config.event_size,
            width=config.width,
            timesteps=config.timesteps,
            hidden=config.hidden,
            population=config.population,
            batchnorm=mode,
            dropout=config.dropout,
            weight_init=config.weight_init,
            fitness_batch=config.fitness_batch,
            fitness_batches=config.fitness_batches,
            executor=config.executor,
            workers=config.workers,
            seed=config.seed,
        )
        folder = out_dir / "picks" / column_name(metric, bits, mode, config).replace(" ", "_")
        resume = (folder / CONFIG_NAME).is_file()
        try:
            result = run_search(search, folder, resume=resume)
            best = result.best
        except NoFeasibleArchitecture as error:
            best = error.result.best
        if best is None:
            continue
        record = {
            "kind": "pick",
            "metric": metric,
            "bits": bits,
            "batchnorm": mode,
            "arch": with_batchnorm(best.arch, "per-step"),
            "score": score_to_json(best.score),
        }
        journal.append(record)
        observer.task_done("picks", record)
