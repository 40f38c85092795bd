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


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.records: list[dict[str, Any]] = []
        if self.path.exists():
            self.records, complete = _complete_records(self.path)
            if complete != self.path.stat().st_size:
                with self.path.open("r+b") as handle:
                    handle.truncate(complete)
        self._file = self.path.open("a", encoding="utf-8")

    @staticmethod
    def read(path: Path) -> list[dict[str, Any]]:
        """The complete records of a journal, without opening it for writing (a partial last line,
        of a writer busy right now, is left out)."""
        return _complete_records(Path(path))[0]

    def append(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, sort_keys=True) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.records.append(record)

    def close(self) -> None:
        self._file.close()


def _complete_records(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Every complete line's record, and the byte length of the complete lines."""
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    records = []
    for number, line in enumerate(complete.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise UsageError(
                f"{path}: line {number} is not valid JSON ({error.msg}); the journal is corrupt "
                "and cannot be resumed"
            ) from None
    return records, len(complete)
