"""Search: the evaluator every strategy calls, the run journal, and running a search end to end."""

from neuronas.budgets import Budgets
from neuronas.contracts import Evaluation
from neuronas.search.config import SearchConfig
from neuronas.search.evaluator import Evaluator
from neuronas.search.run import SearchResult, run_search, search

__all__ = [
    "Budgets",
    "Evaluation",
    "Evaluator",
    "SearchConfig",
    "SearchResult",
    "run_search",
    "search",
]
