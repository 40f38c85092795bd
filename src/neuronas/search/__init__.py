"""Search: the evaluator every strategy calls, the run journal, and running a search end to end.

Names are imported on first use, so that ``neuronas.search.config`` and the result types load
without the evaluator's and the run's dependencies.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Budgets": "neuronas.budgets",
    "Evaluation": "neuronas.contracts",
    "Evaluator": "neuronas.search.evaluator",
    "SearchConfig": "neuronas.search.config",
    "SearchResult": "neuronas.search.result",
    "run_search": "neuronas.search.run",
    "search": "neuronas.api",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'neuronas.search' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
