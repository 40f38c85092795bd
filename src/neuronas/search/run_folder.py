"""A run folder: ``config.json`` (written first, so a run can be resumed), ``journal.jsonl`` (one
record per evaluated candidate), ``result.json`` and ``best_arch.txt``; how to name and read one.

Torch-free, so commands that only read a run folder (``report``) start fast.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import platform
from pathlib import Path
from typing import Any

from neuronas.errors import UsageError
from neuronas.folders import PLAUSIBLE, mapping, number, read_json
from neuronas.search.config import SearchConfig


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("neuronas", "torch", "spikingjelly", "numpy"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def default_run_dir() -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"run-{stamp}"


#: What a run folder holds; a folder with any of these holds a run.
RUN_FILES = ("config.json", "journal.jsonl", "result.json", "best_arch.txt")


def read_run_config(run_dir: Path) -> SearchConfig:
    """The config a run folder was started with, checked (a UsageError naming the file)."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise UsageError(
            f"{run_dir} is not a neuronas run folder: it has no config.json (a run folder is what "
            "`neuronas run --out DIR` writes)"
        )
    saved = read_json(path, "a run's config.json")
    try:
        return SearchConfig.from_dict(saved.get("config"))
    except UsageError as error:
        raise UsageError(f"{path}: {error}") from None


def read_result(run_dir: Path) -> dict[str, Any] | None:
    """A run folder's result.json (None while the run has not finished), its fields checked."""
    path = Path(run_dir) / "result.json"
    if not path.exists():
        return None
    result = read_json(path, "a run's result.json")
    for key in ("best", "least_violating"):
        entry = result.get(key)
        if entry is None:
            continue
        where = f"{path}: {key}"
        mapping(entry, where)
        if not isinstance(entry.get("arch"), str):
            raise UsageError(f"{where} must hold an arch string, got {entry.get('arch')!r}")
        score = entry.get("score")
        if score is not None and score not in ("inf", "-inf"):
            number(score, f"{where}: score", limit=PLAUSIBLE)
    notes = result.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(note, str) for note in notes):
        raise UsageError(f"{path}: notes must be a list of strings")
    if result.get("search_time_s") is not None:
        number(result["search_time_s"], f"{path}: search_time_s", 0.0)
    return result


def resume_hint(run_dir: Path) -> str:
    return (
        f"every candidate journaled so far is kept: continue with `neuronas run --resume {run_dir}`"
    )
