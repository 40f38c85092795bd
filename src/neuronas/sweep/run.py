"""Running a precision sweep: every search in its own run folder, every pick's training in its own
training folder, so that an interrupted sweep resumes where it stopped.

The sweep folder holds ``sweep-config.json`` (written first), ``runs/<row>/`` (a `neuronas run` folder
per search), ``trainings/<row>/`` (a `neuronas train` folder per trained pick) and, at the end,
``sweep.json``, ``sweep.csv``, ``sweep.txt`` and the figures (`neuronas.sweep.figures`). The data
are loaded once for all searches and trainings (`neuronas.data.shared_loads`), before the first
search starts, so no row's search time includes loading them.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from neuronas.errors import NoFeasibleArchitecture, UsageError
from neuronas.folders import dumps, locked, read_json, resumable, write_atomic
from neuronas.plugin import get_component
from neuronas.search.run_folder import read_result, read_run_config
from neuronas.sweep.config import Row, SweepConfig

CONFIG_NAME = "sweep-config.json"


class SweepObserver:
    """Callbacks of a sweep (the CLI prints a line for each); every method is optional."""

    def search_started(self, row: Row, index: int, total: int) -> None:
        """Row ``index`` (1-based) of ``total`` starts (or resumes) its search."""

    def training_started(self, row: Row, epochs: int) -> None:
        """The pick of ``row`` starts (or resumes) its training."""


def _check(config: SweepConfig) -> None:
    """A UsageError for any search or training that cannot start, before a folder is made: a bad
    training option must not wait for the searches to end."""
    from neuronas.devices import resolve_device
    from neuronas.search.run import check_names

    for row in config.rows():
        check_names(row.search)
    if config.train_epochs:
        resolve_device(config.train_device)


def _prepare(config: SweepConfig, out_dir: Path, resume: bool) -> SweepConfig:
    path = out_dir / CONFIG_NAME
    if resume:
        try:
            return SweepConfig.from_dict(read_json(path, "a sweep's config").get("config"))
        except UsageError as error:
            raise UsageError(f"{path}: {error}") from None
    if path.exists():
        raise UsageError(
            f"{out_dir} already holds a sweep; continue it with --resume {out_dir} or choose "
            "another --out"
        )
    write_atomic(path, dumps({"config": config.to_dict()}, indent=2))
    return config


def _search(row: Row, folder: Path) -> dict[str, Any]:
    """The row's result.json: read when the search finished, else run (or resumed) to the end."""
    from neuronas.search.run import run_search

    if (folder / "config.json").is_file() and read_run_config(folder) != row.search:
        raise UsageError(f"{folder} holds a search with other options than the sweep's {row.key}")
    if not (folder / "result.json").is_file():
        # nothing feasible: result.json names the least-violating candidate; the table says so
        with contextlib.suppress(NoFeasibleArchitecture):
            run_search(row.search, folder, resume=(folder / "config.json").is_file())
    return read_result(folder)


def _train(config: SweepConfig, row: Row, arch: str, folder: Path, threads: int) -> dict[str, Any]:
    """The metrics of the pick's training: read when it finished, else trained (or resumed) on
    ``threads`` torch threads, as `neuronas train --threads` (more than the free cores crawl)."""
    import torch

    from neuronas.training import CHECKPOINT_NAME, METRICS_NAME, TrainConfig, train

    if (folder / METRICS_NAME).is_file():
        return read_json(folder / METRICS_NAME, "a training's metrics.json")
    train_config = TrainConfig(
        arch=arch,
        dataset=row.search.dataset,
        data_dir=row.search.data_dir,
        space=row.search.space,
        epochs=config.train_epochs,
        batch_size=config.train_batch_size,
        lr=config.train_lr,
        weight_bits=row.bits,
        seed=row.search.seed,
    )
    resume = (folder / CHECKPOINT_NAME).is_file()
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return train(train_config, folder, resume=resume, device=config.train_device).metrics
    finally:
        torch.set_num_threads(previous)


def run_sweep(
    config: SweepConfig,
    out_dir: str | Path,
    resume: bool = False,
    observer: SweepObserver | None = None,
    train_threads: int = 1,
) -> dict[str, Any]:
    """Run (or resume) the sweep in ``out_dir`` (locked meanwhile); returns what sweep.json holds.
    ``train_threads`` is not part of the config: it changes how fast the picks train, not how."""
    from neuronas.data import load_split, shared_loads
    from neuronas.sweep.report import sweep_row, write_sweep

    out_dir = Path(out_dir)
    observer = observer or SweepObserver()
    if resume and not out_dir.is_dir():
        raise UsageError(f"cannot resume {out_dir}: there is no such folder")
    if resume and not (out_dir / CONFIG_NAME).is_file():
        raise UsageError(f"cannot resume {out_dir}: it has no {CONFIG_NAME} of a sweep")
    if not resume:
        _check(config)
    hint = f"every finished search and epoch is kept: continue with `neuronas sweep --resume {out_dir}`"
    with locked(out_dir, "sweep"), resumable(hint), shared_loads():
        config = _prepare(config, out_dir, resume)
        search = config.search
        root = Path(search.data_dir) if search.data_dir else None
        dataset = get_component("dataset", search.dataset)
        load_split(dataset, root, "train", search.timesteps, search.event_size)
        rows = config.rows()
        results = {}
        for index, row in enumerate(rows, start=1):
            observer.search_started(row, index, len(rows))
            results[row.key] = _search(row, out_dir / "runs" / row.key)
        trainings = {}
        for row in rows:
            best = results[row.key].get("best")
            if config.train_epochs and best is not None:
                observer.training_started(row, config.train_epochs)
                folder = out_dir / "trainings" / row.key
                trainings[row.key] = _train(config, row, best["arch"], folder, train_threads)
        table = [sweep_row(row, out_dir, results[row.key], trainings.get(row.key)) for row in rows]
        return write_sweep(out_dir, config, table)
