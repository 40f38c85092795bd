"""The run journal: one JSON object per evaluated candidate, flushed and fsynced per record.

A run killed mid-write leaves at most one partial last line; reopening drops it, so a resumed run
re-evaluates only that candidate.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from neuronas.errors import UsageError
from neuronas.folders import dumps, writing


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._numbered: list[tuple[int, Any]] = []
        if self.path.exists():
            self._numbered, complete = _complete_records(self.path)
            if complete != self.path.stat().st_size:
                with self.path.open("r+b") as handle:
                    handle.truncate(complete)
        self._file = self.path.open("a", encoding="utf-8")

    @property
    def records(self) -> list[Any]:
        return [record for _line, record in self._numbered]

    def numbered_records(self) -> list[tuple[int, Any]]:
        """(line number, record) of every record, for errors that name the line."""
        return list(self._numbered)

    @staticmethod
    def read(path: Path) -> list[Any]:
        """The complete records of a journal, without opening it for writing (a partial last line,
        of a writer busy right now, is left out)."""
        return [record for _line, record in Journal.read_numbered(path)]

    @staticmethod
    def read_numbered(path: Path) -> list[tuple[int, Any]]:
        """(line number, record) of the complete records, without opening it for writing."""
        return _complete_records(Path(path))[0]

    def append(self, record: dict[str, Any]) -> None:
        with writing(self.path):
            self._file.write(dumps(record, sort_keys=True) + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())
        self._numbered.append((self._numbered[-1][0] + 1 if self._numbered else 1, record))

    def close(self) -> None:
        self._file.close()


def _complete_records(path: Path) -> tuple[list[tuple[int, Any]], int]:
    """(line number, record) of every complete line, and the byte length of the complete lines."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    complete = data[: data.rfind(b"\n") + 1]
    try:
        text = complete.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text; it is not a neuronas journal") from None
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line)))
        except (ValueError, RecursionError) as error:  # ValueError: also a too long integer
            raise UsageError(
                f"{path}: line {number} is not a journal record (not valid JSON: "
                f"{getattr(error, 'msg', error)}); the journal is corrupt"
            ) from None
    return records, len(complete)
