"""Every hook a neuronas plugin can implement, in lifecycle order.

These docstrings are the hook reference (``docs/hooks.md`` repeats each signature, and a test keeps the
two in step). A plugin is any module or object with functions marked ``@neuronas.hookimpl`` whose names
are hooks below; a misspelled name is an error that names the plugin.

Registration hooks receive ``register``, a callable taking one component object (see
``neuronas.contracts`` for each kind's protocol). Observer hooks are called by the evaluator and the
strategies; their return values are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # types only: the kernel imports nothing above it at run time
    import click

    from neuronas.contracts import (
        Dataset,
        Evaluation,
        Executor,
        Exporter,
        FitnessMetric,
        HardwareModel,
        Quantizer,
        SearchSpace,
        SearchStrategy,
    )
    from neuronas.search.config import SearchConfig
    from neuronas.search.result import SearchResult

hookspec = pluggy.HookspecMarker("neuronas")

# --- 1. components: called once per plugin, when the registry is built ----------------------------


@hookspec
def neuronas_register_search_spaces(register: Callable[[SearchSpace], None]) -> None:
    """Register search spaces: ``register(space)`` for each object satisfying
    ``neuronas.contracts.SearchSpace``."""


@hookspec
def neuronas_register_fitness_metrics(register: Callable[[FitnessMetric], None]) -> None:
    """Register training-free fitness metrics (``neuronas.contracts.FitnessMetric``)."""


@hookspec
def neuronas_register_quantizers(register: Callable[[Quantizer], None]) -> None:
    """Register weight quantizers (``neuronas.contracts.Quantizer``)."""


@hookspec
def neuronas_register_hardware(register: Callable[[HardwareModel], None]) -> None:
    """Register hardware cost models (``neuronas.contracts.HardwareModel``)."""


@hookspec
def neuronas_register_strategies(register: Callable[[SearchStrategy], None]) -> None:
    """Register search strategies (``neuronas.contracts.SearchStrategy``)."""


@hookspec
def neuronas_register_datasets(register: Callable[[Dataset], None]) -> None:
    """Register datasets (``neuronas.contracts.Dataset``)."""


@hookspec
def neuronas_register_executors(register: Callable[[Executor], None]) -> None:
    """Register candidate executors (``neuronas.contracts.Executor``)."""


@hookspec
def neuronas_register_exporters(register: Callable[[Exporter], None]) -> None:
    """Register exporters (``neuronas.contracts.Exporter``): the formats ``neuronas export --format
    NAME`` writes a trained or found network to."""


# --- 2. command line: called once when the ``neuronas`` click group is assembled -------------------


@hookspec
def neuronas_register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``neuronas`` click group: ``cli.add_command(command)``."""


# --- 3. observers: fired while a search runs ------------------------------------------------------


@hookspec
def neuronas_search_started(
    config: SearchConfig, run_dir: Path | None, resumed: Sequence[Evaluation]
) -> None:
    """A search is about to propose its first candidate. ``config`` is the frozen ``SearchConfig``;
    ``run_dir`` the run folder (a ``pathlib.Path``) or ``None``; ``resumed`` the evaluations an
    interrupted run already journaled (empty for a new run), which are not evaluated again."""


@hookspec
def neuronas_phase_started(phase: str, candidates: int) -> None:
    """A strategy starts a phase (``"1"``, ``"2"``, ``"random"``) that proposes ``candidates``
    candidates (journaled ones included)."""


@hookspec
def neuronas_candidate_evaluated(evaluation: Evaluation) -> None:
    """One candidate was evaluated (rejected by a budget or scored). ``evaluation`` is the
    ``neuronas.contracts.Evaluation`` that was also appended to the journal."""


@hookspec
def neuronas_phase_finished(phase: str, best: Evaluation | None) -> None:
    """A strategy finished one phase (``"1"`` and ``"2"`` for two-phase, ``"random"`` for random).
    ``best`` is the best ``Evaluation`` so far, or ``None``."""


@hookspec
def neuronas_search_finished(result: SearchResult) -> None:
    """A search ended; ``result`` is the ``neuronas.search.SearchResult`` that was written."""
