"""What a search returns and writes to ``result.json``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from neuronas.arch import Architecture
from neuronas.contracts import Evaluation
from neuronas.search.config import SearchConfig


@attrs.frozen
class SearchResult:
    """What a search found, how it got there, and everything needed to reproduce it."""

    best: Evaluation | None
    config: SearchConfig
    candidates_evaluated: int
    candidates_scored: int
    rejected: Mapping[str, int]
    search_time_s: float
    evaluation_time_s: float
    notes: tuple[str, ...]
    versions: Mapping[str, str]
    hardware_params: Mapping[str, Any]
    least_violating: Evaluation | None
    resumed: bool
    run_dir: Path | None = None
    #: the device the candidates were scored on (``config.device`` resolved)
    device: str = "cpu"

    @property
    def feasible(self) -> bool:
        return self.best is not None and self.best.feasible

    @property
    def architecture(self) -> Architecture | None:
        return Architecture.parse(self.best.arch) if self.best else None

    def to_dict(self) -> dict[str, Any]:
        def describe(evaluation: Evaluation | None) -> dict[str, Any] | None:
            if evaluation is None:
                return None
            record = evaluation.to_record()
            return {
                "arch": record["arch"],
                "score": record["score"],
                "costs": record["costs"],
                "violations": record["violations"],
                "feasible": record["feasible"],
                "phase": record["phase"],
            }

        return {
            "best": describe(self.best),
            "feasible": self.feasible,
            "least_violating": None if self.feasible else describe(self.least_violating),
            "candidates_evaluated": self.candidates_evaluated,
            "candidates_scored": self.candidates_scored,
            "rejected": dict(self.rejected),
            "search_time_s": self.search_time_s,
            "evaluation_time_s": self.evaluation_time_s,
            "resumed": self.resumed,
            "device": self.device,
            "notes": list(self.notes),
            "config": self.config.to_dict(),
            "hardware_params": dict(self.hardware_params),
            "versions": dict(self.versions),
        }
