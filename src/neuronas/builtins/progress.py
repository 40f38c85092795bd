"""The progress display of ``neuronas run``: an observer plugin registered for the command's duration.

Before the first candidate it prints what will run (dataset and input, network, S x R, T, device,
executor); once the first candidates are timed, an estimate of the whole search, with the options
that shorten it when it is long on a CPU. The bar shows the phase, done/total, candidates per second,
elapsed and remaining time, and the best score so far in the metric's own direction. A resumed run
says how many candidates were already done and the best so far, and its bar starts there.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from neuronas.contracts import input_shape_of, is_time_resolved
from neuronas.devices import resolve_device
from neuronas.plugin import get_component, hookimpl

#: How many scored candidates time the estimate, and a total beyond which a CPU run gets advice.
TIMED_CANDIDATES = 3
LONG_ON_CPU_S = 3600.0


def duration(seconds: float) -> str:
    """'0.042 s', '42 s', '12 min', '3.4 h'."""
    if seconds < 1:
        return f"{seconds:.2g} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class SearchProgress:
    """Observer plugin: the plan line, the estimate, and one bar per phase."""

    def __init__(self, console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]phase {task.fields[phase]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TextColumn("best {task.fields[best]}"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task: Any = None
        self.config: Any = None
        self.higher_is_better = True
        self.best: float | None = None
        self.done_before: Counter[str] = Counter()
        self.phase_started_at = 0.0
        self.phase_count = 0
        self.scored_seconds: list[float] = []
        self.estimated = False
        self.phase_totals: dict[str, int] = {}

    # --- hooks ---

    @hookimpl
    def neuronas_search_started(self, config, run_dir, resumed):
        self.config = config
        self.higher_is_better = get_component("fitness", config.fitness).higher_is_better
        self.console.print(self.plan(config, run_dir), highlight=False, soft_wrap=True)
        if resumed:
            self.done_before = Counter(e.phase for e in resumed)
            for evaluation in resumed:
                self._note_best(evaluation)
            best = f"{self.best:.4f}" if self.best is not None else "none yet"
            self.console.print(
                f"resuming: {len(resumed)} candidates already evaluated (not again), best so far "
                f"{best}",
                highlight=False,
            )
        self.progress.start()

    @hookimpl
    def neuronas_phase_started(self, phase, candidates):
        self.phase_totals[phase] = candidates
        done = (
            self.done_before[phase]
            if candidates is None
            else min(self.done_before[phase], candidates)
        )
        if self.task is not None:
            self.progress.stop_task(self.task)
        self.task = self.progress.add_task(
            phase, total=candidates, completed=done, phase=phase, rate="", best=self._best()
        )
        self.phase_started_at = time.perf_counter()
        self.phase_count = 0

    @hookimpl
    def neuronas_candidate_evaluated(self, evaluation):
        if self.task is None:  # a strategy that announces no phases: a bar without a total
            self.neuronas_phase_started(evaluation.phase, None)
        self._note_best(evaluation)
        self.phase_count += 1
        if evaluation.scored:
            self.scored_seconds.append(evaluation.seconds)
        elapsed = max(time.perf_counter() - self.phase_started_at, 1e-9)
        rate = self.phase_count / elapsed
        self.progress.update(
            self.task,
            advance=1,
            rate=f"{rate:.2f} cand/s" if rate < 10 else f"{rate:.0f} cand/s",
            best=self._best(),
        )
        if not self.estimated and len(self.scored_seconds) >= TIMED_CANDIDATES:
            self.estimated = True
            self.console.print(self.estimate(), highlight=False, soft_wrap=True)

    @hookimpl
    def neuronas_phase_finished(self, phase, best):
        if self.task is not None and self.progress.tasks[-1].total is not None:
            # candidates evaluated in an earlier phase were not evaluated again
            self.progress.update(self.task, completed=self.progress.tasks[-1].total)
        pick = f"{best.arch} (score {best.score:.4f})" if best is not None else "nothing scored"
        self.progress.console.print(
            f"phase {phase} finished: {pick}", highlight=False, soft_wrap=True
        )

    @hookimpl
    def neuronas_search_finished(self, result):
        self.progress.stop()

    # --- text ---

    def plan(self, config, run_dir) -> str:
        dataset = get_component("dataset", config.dataset)
        shape = "x".join(map(str, input_shape_of(dataset, config.event_size)))
        if is_time_resolved(dataset):
            shape = f"{config.timesteps} frames of {shape}"
        device = resolve_device(config.device)
        return (
            f"search: {config.strategy} over {config.space}, {config.fitness} at FxP"
            f"{config.weight_bits}, hardware {config.hardware}; data {config.dataset} "
            f"({shape}), width {config.width}, S x R = {config.fitness_batch} x "
            f"{config.fitness_batches}, T = {config.timesteps}; device {device}, executor "
            f"{config.executor} x {config.workers}; run folder {run_dir}"
        )

    def estimate(self) -> str:
        per_candidate = sum(self.scored_seconds) / len(self.scored_seconds)
        remaining = self._remaining_candidates()
        text = f"about {duration(per_candidate)} per scored candidate"
        if remaining is None:
            return text
        total = per_candidate * remaining
        text += f": at most {duration(total)} more for {remaining} candidates"
        if total > LONG_ON_CPU_S and resolve_device(self.config.device) == "cpu":
            text += (
                "; that is long on a CPU: a smaller --width or --fitness-batch, --executor process "
                "--workers N (one per core), or a GPU (--device cuda) shorten it"
            )
        return text

    def _remaining_candidates(self) -> int | None:
        task = self.progress.tasks[-1] if self.progress.tasks else None
        if task is None or task.total is None:
            return None
        remaining = int(task.total - task.completed)
        if self.config.strategy == "two-phase" and task.fields["phase"] == "1":
            remaining += int(task.total)  # phase 2 proposes as many cells B as phase 1 cells A
        return remaining

    def _note_best(self, evaluation) -> None:
        score = evaluation.score
        if score is None or math.isnan(score):
            return
        if self.best is None or (score > self.best if self.higher_is_better else score < self.best):
            self.best = score

    def _best(self) -> str:
        return "-" if self.best is None else f"{self.best:.3f}"
