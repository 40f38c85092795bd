"""Output folders (of runs, trainings, studies): checked before use, locked while in use, written
atomically, and read back with one clear error for anything that is not what neuronas wrote.

- ``prepare_folder``: an --out that is a file, lies under a file, or cannot be written is a usage
  error (exit 2) before anything starts.
- ``locked``: an exclusive OS lock (``flock`` on ``FOLDER/.lock``) held while a command writes the
  folder; the OS drops it when the process dies, so a killed run never leaves a stale lock. A second
  process gets `FolderBusy` (exit 4).
- ``writing``: an OSError while writing (disk full, the folder removed or made read-only) becomes
  `FolderWriteError` (exit 5) naming the file; journals are flushed record by record, so what was
  written before stays valid. ``resumable`` adds how to continue to an error that ends a command
  at run time (exit codes 1 and 5).
- ``read_json``: a file that is missing, unreadable, not UTF-8, not JSON or not an object is a
  usage error naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import tomllib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from neuronas.errors import NeuronasError, UsageError

LOCK_NAME = ".lock"


class FolderBusy(NeuronasError):
    """Another neuronas process is writing the folder."""

    exit_code = 4


class FolderWriteError(NeuronasError):
    """Writing a folder failed after it started (disk full, removed, made read-only)."""

    exit_code = 5


def prepare_folder(folder: Path, option: str = "--out") -> Path:
    """``folder``, created if needed; a UsageError when it cannot be one."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{option} {folder} is a file, not a folder; choose a folder")
    for parent in folder.parents:
        if parent.exists() and not parent.is_dir():
            raise UsageError(f"{option} {folder} lies under {parent}, which is a file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"{option} {folder}: cannot create it ({error.strerror})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {folder} is not writable (read-only?); choose another folder")
    return folder


@contextlib.contextmanager
def locked(folder: Path, what: str = "run") -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (created if needed) for the duration."""
    folder = prepare_folder(folder)
    path = folder / LOCK_NAME
    try:
        handle = path.open("a+")
    except OSError as error:
        raise UsageError(f"cannot lock {folder}: {error.strerror}") from None
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise FolderBusy(
                f"{folder} is in use by another neuronas {what} ({holder}); wait for it to end "
                "or choose another folder"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.close()


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an OSError raised while writing ``path`` into one `FolderWriteError` line."""
    try:
        yield
    except OSError as error:
        reason = "the disk is full" if error.errno == errno.ENOSPC else error.strerror or str(error)
        raise FolderWriteError(f"cannot write {Path(path).parent}: {reason}") from None


#: Exit codes of errors that end a command at run time (a plugin failed, a folder could not be
#: written), after which the work can continue where it stopped.
RESUMABLE_EXIT_CODES = (1, 5)


@contextlib.contextmanager
def resumable(hint: str) -> Iterator[None]:
    """Add ``hint`` (how to continue) to a run-time error raised inside."""
    try:
        yield
    except NeuronasError as error:
        if error.exit_code in RESUMABLE_EXIT_CODES and hint not in str(error):
            error.args = (f"{error}; {hint}",)
        raise


def replace_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """``write`` a temporary file, then move it over ``path``: a crash leaves the old or the new."""
    temporary = path.with_name(path.name + ".tmp")
    with writing(path):
        write(temporary)
        os.replace(temporary, path)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (`replace_atomically`)."""
    replace_atomically(path, lambda temporary: temporary.write_text(text))


def dumps(data: Any, **options: Any) -> str:
    """JSON that is JSON: NaN and infinities are refused (a bug if they reach here)."""
    return json.dumps(data, allow_nan=False, **options)


def read_json(path: Path, what: str) -> dict[str, Any]:
    """The JSON object in ``path``; a UsageError naming the file for anything else."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist; it is not {what}") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise UsageError(f"cannot read {path} ({reason}); it is not {what}") from None
    except (json.JSONDecodeError, RecursionError) as error:
        reason = getattr(error, "msg", "nested too deeply")
        raise UsageError(f"{path} is not valid JSON ({reason}); it is not {what}") from None
    except ValueError:  # an integer of more digits than Python converts
        raise UsageError(f"{path} holds a number too long to read; it is not {what}") from None
    if not isinstance(data, dict):
        raise UsageError(
            f"{path} holds a JSON {type(data).__name__}, not an object; it is not {what}"
        )
    return data


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The TOML document in ``path``; a UsageError naming the file for anything else."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"cannot read {path} ({error.strerror}); it is not {what}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text (TOML is); it is not {what}") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{path} is not valid TOML ({error}); it is not {what}") from None


def read_options_file(path: Path, what: str) -> dict[str, Any]:
    """The options a TOML file holds, or a JSON one (by its suffix); options nested under a
    ``config`` object (a run's config.json, a training's metrics.json) are taken from there. A
    UsageError naming the file for anything unreadable."""
    path = Path(path)
    data = read_json(path, what) if path.suffix == ".json" else read_toml(path, what)
    nested = data.get("config")
    return dict(nested) if isinstance(nested, dict) else data


#: No cost or score neuronas computes comes near this; a value beyond it is not plausible.
PLAUSIBLE = 1e30


def whole_number(value: Any, low: int, high: int) -> bool:
    """Whether ``value`` is an int (not a bool) from ``low`` to ``high``."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def number(
    value: Any, where: str, minimum: float | None = None, limit: float | None = None
) -> float:
    """``value`` as a finite float (not a bool or a string), at least ``minimum``, and no larger
    than ``limit`` in magnitude."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"{where} must be a number, got {value!r}")
    try:
        result = float(value)
    except OverflowError:
        raise UsageError(f"{where} is too large for a float: {str(value)[:20]}...") from None
    if not math.isfinite(result):
        raise UsageError(f"{where} must be finite, got {value!r}")
    if minimum is not None and result < minimum:
        raise UsageError(f"{where} must be >= {minimum:g}, got {value!r}")
    if limit is not None and abs(result) > limit:
        raise UsageError(f"{where} = {value!r} is not plausible (beyond {limit:g})")
    return result


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise UsageError(f"{where} must be an object, got {type(value).__name__}")
    return value
