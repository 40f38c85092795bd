"""Run a search end to end: resolve the plugins, load data, run the strategy, write the run folder
(its files: `neuronas.search.run_folder`)."""

from __future__ import annotations

import time
from pathlib import Path

import attrs
import numpy as np

from neuronas.arch import Architecture
from neuronas.budgets import BUDGET_NAMES
from neuronas.contracts import (
    GroupScorer,
    ScoringSettings,
    SearchContext,
    input_shape_of,
    run_parameters,
)
from neuronas.devices import resolve_device
from neuronas.errors import NoFeasibleArchitecture, UsageError
from neuronas.folders import dumps, locked, resumable, write_atomic
from neuronas.plugin import fire, get_component, guard
from neuronas.search.config import SearchConfig, macro_for
from neuronas.search.evaluator import CandidateScorer, Evaluator, offered_scorer
from neuronas.search.journal import Journal
from neuronas.search.result import SearchResult
from neuronas.search.run_folder import RUN_FILES, package_versions, read_run_config, resume_hint
from neuronas.seeds import derive_seed


def _prepare_run_dir(
    config: SearchConfig, run_dir: Path, resume: bool, overwrite: bool
) -> SearchConfig:
    if resume:
        return read_run_config(run_dir)
    present = [name for name in RUN_FILES if (run_dir / name).exists()]
    if present and not overwrite:
        raise UsageError(
            f"{run_dir} already holds a run ({', '.join(present)}); resume it with --resume "
            f"{run_dir}, replace it with --overwrite, or choose another --out"
        )
    for name in present:
        (run_dir / name).unlink()
    payload = {
        "config": config.to_dict(),
        "higher_is_better": get_component("fitness", config.fitness).higher_is_better,
        "versions": package_versions(),
    }
    write_atomic(run_dir / "config.json", dumps(payload, indent=2))
    return config


def run_search(
    config: SearchConfig,
    run_dir: Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> SearchResult:
    """Run ``config`` (or resume the run in ``run_dir``) and return its result.

    The run folder is locked while the search runs (`neuronas.folders.locked`). Raises
    ``NoFeasibleArchitecture`` (exit code 3) after writing the result when the budgets were checked
    and no candidate met them all.
    """
    if run_dir is None:
        if resume:
            raise UsageError("resume needs the run folder")
        return _run(config, None, resume=False)
    run_dir = Path(run_dir)
    if resume and not run_dir.is_dir():
        raise UsageError(f"cannot resume {run_dir}: there is no such folder")
    if not resume:
        check_names(config)  # before a run folder is made for a run that cannot start
    with locked(run_dir, "run"), resumable(resume_hint(run_dir)):
        config = _prepare_run_dir(config, run_dir, resume, overwrite)
        return _run(config, run_dir, resume)


def check_names(config: SearchConfig) -> None:
    """A UsageError for an unknown component name or device, or an event size the data cannot have."""
    resolve_device(config.device)
    for kind in ("space", "strategy", "fitness", "quantizer", "hardware", "dataset", "executor"):
        get_component(kind, getattr(config, kind))
    input_shape_of(get_component("dataset", config.dataset), config.event_size)


def _run(config: SearchConfig, run_dir: Path | None, resume: bool) -> SearchResult:
    from neuronas.data import load_split, sample_batches

    started = time.perf_counter()
    device = resolve_device(config.device)
    space = get_component("space", config.space)
    strategy = get_component("strategy", config.strategy)
    fitness = get_component("fitness", config.fitness)
    get_component("quantizer", config.quantizer)
    hardware = get_component("hardware", config.hardware)
    dataset = get_component("dataset", config.dataset)
    executor = get_component("executor", config.executor)

    hardware_config = guard.call(
        "hardware",
        hardware,
        "make_config",
        {**run_parameters(config.timesteps, config.weight_bits), **config.hardware_params},
    )
    hardware_params = attrs.asdict(hardware_config) if attrs.has(hardware_config) else {}
    split = load_split(
        dataset,
        Path(config.data_dir) if config.data_dir else None,
        "train",
        config.timesteps,
        config.event_size,
    )
    macro = macro_for(config, space, split.sample_shape, split.num_classes)
    batches = sample_batches(
        split,
        config.fitness_batch,
        config.fitness_batches,
        derive_seed(config.seed, "batches"),
    )

    def costs(arch: Architecture) -> dict[str, float]:
        layers = guard.call(
            "space", space, "layer_shapes", arch, include_classifier=config.map_classifier
        )
        estimate = guard.call("hardware", hardware, "estimate", layers, hardware_config)
        mapped = (
            layers
            if not config.map_classifier
            else guard.call("space", space, "layer_shapes", arch)
        )
        memory = sum(layer.weights for layer in mapped if layer.kind == "conv")
        return {
            "params": memory,
            "area_mm2": estimate.area_mm2,
            "latency_ms": estimate.latency_ms,
            "energy_uj": estimate.energy_uj,
        }

    def check_arch(arch: str) -> None:
        parsed = Architecture.parse(arch)
        if parsed.macro != macro:
            raise UsageError(f"architecture {arch} is not of this run's network ({macro})")
        for cell_label, cell in (("A", parsed.cell_a), ("B", parsed.cell_b)):
            if not guard.call("space", space, "is_valid", cell):
                raise UsageError(f"cell {cell_label} {cell} is not in search space {space.name!r}")

    settings = ScoringSettings(
        space=config.space,
        fitness=config.fitness,
        quantizer=config.quantizer,
        weight_bits=config.weight_bits,
        rounding=config.rounding,
        seed=config.seed,
        init=config.init,
        carry_state=config.carry_state,
        batches=tuple(batches),
        device=device,
        precision=config.precision,
    )
    scorer: GroupScorer = CandidateScorer(settings)
    reuse_notes: tuple[str, ...] = ()
    if config.reuse:
        offered = offered_scorer(settings, space, fitness)
        if isinstance(offered, str):
            reuse_notes = (f"exact reuse was not applicable ({offered}); scored from scratch",)
        else:
            scorer = offered
    journal = Journal(run_dir / "journal.jsonl") if run_dir is not None else None
    try:
        evaluator = Evaluator(
            config,
            costs,
            scorer,
            executor,
            journal=journal,
            higher_is_better=fitness.higher_is_better,
            check_arch=check_arch,
        )
        resumed_records = len(evaluator.history)
        fire(
            "neuronas_search_started",
            config=config,
            run_dir=run_dir,
            resumed=tuple(evaluator.history),
        )
        context = SearchContext(
            evaluator=evaluator,
            space=space,
            macro=macro,
            options=config,
            rng=np.random.default_rng(derive_seed(config.seed, "strategy")),
        )
        outcome = guard.call("strategy", strategy, "search", context)
    finally:
        if journal is not None:
            journal.close()
    history = evaluator.history
    rejected = {budget: 0 for budget in BUDGET_NAMES}
    for evaluation in history:
        for budget in evaluation.rejected_by:
            rejected[budget] += 1
    result = SearchResult(
        best=outcome.best,
        config=config,
        candidates_evaluated=len(history),
        candidates_scored=sum(1 for e in history if e.scored),
        rejected=rejected,
        search_time_s=time.perf_counter() - started,
        evaluation_time_s=sum(e.seconds for e in history),
        notes=tuple(outcome.notes) + reuse_notes,
        versions=package_versions(),
        hardware_params=hardware_params,
        least_violating=evaluator.least_violating(),
        resumed=resumed_records > 0,
        run_dir=run_dir,
        device=device,
    )
    if run_dir is not None:
        write_atomic(run_dir / "result.json", dumps(result.to_dict(), indent=2))
        if result.best is not None:
            write_atomic(run_dir / "best_arch.txt", result.best.arch + "\n")
    fire("neuronas_search_finished", result=result)
    if config.constraints and not result.feasible:
        error = NoFeasibleArchitecture(_nothing_feasible_message(result))
        error.result = result
        raise error
    return result


def _nothing_feasible_message(result: SearchResult) -> str:
    least = result.least_violating
    if least is None:
        return "no candidate was evaluated"
    broken = ", ".join(
        f"{budget} {value:+.1%}" for budget, value in least.violations.items() if value > 0
    )
    return (
        f"no candidate meets every budget ({result.candidates_evaluated} evaluated). "
        f"Least violating: {least.arch} ({broken} over budget)"
    )
