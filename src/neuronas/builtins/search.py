"""The ``neuronas run`` command (its progress display is `neuronas.builtins.progress`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import click
from rich.table import Table

from neuronas.budgets import BUDGET_NAMES, BUDGETS, COST_KEYS, UNITS, Budgets
from neuronas.builtins.progress import SearchProgress
from neuronas.errors import NoFeasibleArchitecture, UsageError, interrupted_exit_code
from neuronas.hardware import load_toml, parse_assignments
from neuronas.plugin import hookimpl, manager
from neuronas.search.config import DEFAULT_SPACE, SearchConfig, read_config_file
from neuronas.search.run_folder import default_run_dir


def comma_list(text: str, option: str, convert: Any = str) -> tuple:
    """The items of an option's comma-separated list (``4,6,8``), each converted; blanks around
    items are dropped, but an empty item (``4,,8``, ``8,``) is a typo, refused, not skipped. An
    empty ``text`` is the empty list (the caller says whether it may be)."""
    if not text.strip():
        return ()
    items = [item.strip() for item in text.split(",")]
    kind = "integers" if convert is int else "names"
    if not all(items):
        raise UsageError(
            f"{option} {text!r} has an empty item; give a comma-separated list of {kind}"
        )
    try:
        return tuple(convert(item) for item in items)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a comma-separated list of {kind}") from None


def result_table(result) -> Table:
    """The best architecture's costs next to the budgets, and how many each budget rejected."""
    best = result.best if result.feasible else result.least_violating
    title = "best architecture" if result.feasible else "no feasible architecture; least violating"
    table = Table(title=title)
    for column in ("budget", "cost", "limit", "unit", "status", "rejected"):
        table.add_column(column)
    for budget in BUDGET_NAMES:
        key = COST_KEYS[budget]
        limit = result.config.budgets.limit(budget)
        cost = best.costs[key] if best else None
        violation = best.violations.get(budget) if best else None
        status = "off" if limit is None else ("ok" if violation <= 0 else "[red]over[/]")
        table.add_row(
            budget,
            "-" if cost is None else f"{cost:,.4g}",
            "-" if limit is None else f"{limit:,.4g}",
            UNITS[key],
            status,
            str(result.rejected[budget]),
        )
    return table


#: The SearchConfig field an option of `neuronas run` sets, where their names differ.
_OPTION_FIELDS = {
    "include_classifier": "map_classifier",
    "reset_between_batches": "carry_state",
    "no_constraints": "constraints",
    "hardware_set": "hardware_params",
    "hardware_config": "hardware_params",
    **{budget.option.removeprefix("--").replace("-", "_"): budget.field for budget in BUDGETS},
}
_FIELDS = {field.name for field in attrs.fields(SearchConfig)}
_BUDGET_FIELDS = {budget.field for budget in BUDGETS}


def config_from_options(options: Mapping[str, Any], ctx: click.Context) -> SearchConfig:
    """The SearchConfig of `neuronas run`'s options (`neuronas sweep` shares them): with
    ``--config FILE``, the file's options, overridden by those given on the command line."""
    given = _options_to_config(options)
    if options.get("config") is None:
        return given
    base = read_config_file(options["config"])
    explicit = {
        name
        for name in options
        if ctx.get_parameter_source(name)
        in (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)
    }
    changes: dict[str, Any] = {}
    budgets: dict[str, Any] = {}
    for name in explicit:
        field = _OPTION_FIELDS.get(name, name)
        if field in _BUDGET_FIELDS:
            budgets[field] = getattr(given.budgets, field)
        elif field == "hardware_params":
            changes[field] = {**base.hardware_params, **given.hardware_params}
        elif field in _FIELDS:
            changes[field] = getattr(given, field)
    if budgets:
        changes["budgets"] = attrs.evolve(base.budgets, **budgets)
    return attrs.evolve(base, **changes)


def _options_to_config(options: Mapping[str, Any]) -> SearchConfig:
    return SearchConfig(
        hardware=options["hardware"],
        strategy=options["strategy"],
        space=options["space"],
        fitness=options["fitness"],
        quantizer=options["quantizer"],
        weight_bits=options["weight_bits"],
        rounding=options["rounding"],
        dataset=options["dataset"],
        data_dir=str(options["data_dir"]) if options["data_dir"] else None,
        event_size=options["event_size"],
        budgets=Budgets(
            max_params=options["max_params"],
            max_area_mm2=options["max_area"],
            max_latency_ms=options["max_latency"],
            max_energy_uj=options["max_energy"],
        ),
        hardware_params={
            **(load_toml(options["hardware_config"]) if options["hardware_config"] else {}),
            **parse_assignments(options["hardware_set"]),
        },
        map_classifier=options["include_classifier"],
        width=options["width"],
        timesteps=options["timesteps"],
        hidden=options["hidden"],
        population=options["population"],
        batchnorm=options["batchnorm"],
        dropout=options["dropout"],
        weight_init=options["weight_init"],
        fitness_batch=options["fitness_batch"],
        fitness_batches=options["fitness_batches"],
        carry_state=not options["reset_between_batches"],
        candidates=options["candidates"],
        same_cells=options["same_cells"],
        constraints=not options["no_constraints"],
        reuse=options["reuse"],
        init=options["init"],
        executor=options["executor"],
        workers=options["workers"],
        device=options["device"],
        precision=options["precision"],
        seed=options["seed"],
    )


@click.command("run")
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Options from a file: run.toml, or a run folder's config.json to repeat that run; "
    "options given on the command line override it.",
)
@click.option("--hardware", default="spikeflow", show_default=True, help="Hardware cost model.")
@click.option("--strategy", default="two-phase", show_default=True, help="Search strategy.")
@click.option("--space", default=DEFAULT_SPACE, show_default=True, help="Search space.")
@click.option("--fitness", default="hamming-logdet", show_default=True, help="Fitness metric.")
@click.option("--quantizer", default="fixed-point", show_default=True, help="Weight quantizer.")
@click.option("--weight-bits", default=8, show_default=True, help="Weight precision (QaFE), 2..32.")
@click.option("--rounding", default="nearest", show_default=True, help="Quantizer rounding.")
@click.option("--dataset", default="digits", show_default=True, help="Dataset for fitness batches.")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Folder holding the dataset.")
@click.option(
    "--event-size",
    type=click.IntRange(min=1),
    help="Side of an event dataset's frames (down-sampled) [default: the dataset's].",
)
@click.option("--max-params", default="10M", show_default=True, help="Memory budget, weights.")
@click.option("--max-area", default="1000", show_default=True, help="Area budget, mm^2.")
@click.option("--max-latency", default="500", show_default=True, help="Latency budget, ms.")
@click.option("--max-energy", default="1000", show_default=True, help="Energy budget, uJ.")
@click.option("--no-constraints", is_flag=True, help="Do not check budgets (SNASNet-style).")
@click.option("--width", default=128, show_default=True, help="Cell A width C (cell B: 2C).")
@click.option(
    "--timesteps",
    default=5,
    show_default=True,
    help="SNN timesteps T (an event dataset's recordings are binned into T frames).",
)
@click.option("--hidden", default=1024, show_default=True, help="Classifier hidden LIF width.")
@click.option("--population", default=10, show_default=True, help="Output neurons per class.")
@click.option(
    "--batchnorm",
    type=click.Choice(["per-step", "pooled"]),
    default="per-step",
    show_default=True,
    help="BatchNorm statistics per timestep (SNASNet's network) or pooled over the timesteps.",
)
@click.option(
    "--dropout",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    help="Classifier dropout while scoring [default: the space's; 0.5 for SNASNet's spaces].",
)
@click.option(
    "--weight-init",
    type=click.Choice(["pytorch", "snasnet"]),
    help="Initial weight distribution [default: the space's].",
)
@click.option("--fitness-batch", default=256, show_default=True, help="Images per batch, S.")
@click.option("--fitness-batches", default=2, show_default=True, help="Batches per score, R.")
@click.option(
    "--reset-between-batches", is_flag=True, help="Reset membranes between the R batches."
)
@click.option("--candidates", default=5000, show_default=True, help="Random search: N samples.")
@click.option(
    "--same-cells", is_flag=True, help="Random search: one cell for both A and B (SNASNet's way)."
)
@click.option(
    "--set",
    "hardware_set",
    multiple=True,
    metavar="KEY=VALUE",
    help="Hardware parameter override (repeatable), e.g. --set crossbar_size=128.",
)
@click.option(
    "--hardware-config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML file of hardware parameters (top level or a [hardware] table).",
)
@click.option("--include-classifier", is_flag=True, help="Map the classifier on the chip too.")
@click.option(
    "--reuse/--no-reuse",
    default=True,
    show_default=True,
    help="Compute what candidates share (same weights, same inputs) once; scores are unchanged.",
)
@click.option(
    "--init",
    type=click.Choice(["shared", "independent"]),
    default="shared",
    show_default=True,
    help="shared: a layer's weights depend on its place and op only; independent: fresh per candidate.",
)
@click.option(
    "--device",
    default="auto",
    show_default=True,
    help="Where candidates are scored: auto (CUDA when PyTorch sees a GPU), cpu, cuda, cuda:N.",
)
@click.option(
    "--precision",
    type=click.Choice(["fp32", "tf32", "bf16"]),
    default="fp32",
    show_default=True,
    help="Float arithmetic while scoring (docs/performance.md measures what each changes).",
)
@click.option("--executor", default="local", show_default=True, help="Candidate executor.")
@click.option("--workers", default=1, show_default=True, help="Executor workers.")
@click.option("--seed", default=0, show_default=True, help="Seed for everything random.")
@click.option("--out", type=click.Path(path_type=Path), help="Run folder [default: runs/run-TIME].")
@click.option(
    "--overwrite", is_flag=True, help="Replace the run that --out already holds (it is deleted)."
)
@click.option(
    "--resume",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Continue the interrupted run in this folder (its saved options are used).",
)
@click.option("--json", "as_json", is_flag=True, help="Print result.json instead of tables.")
@click.option("--quiet", is_flag=True, help="No progress display; only the result.")
@click.pass_context
def run_command(ctx: click.Context, **options: Any) -> None:
    """Search for the best SNN architecture that fits the hardware budgets."""
    from neuronas.cli import refuse_options_with_resume
    from neuronas.console import console, err_console, print_json

    resume = options.pop("resume")
    as_json = options.pop("as_json")
    overwrite = options.pop("overwrite")
    quiet = options.pop("quiet")
    if resume is not None:
        refuse_options_with_resume(ctx, [*options, "overwrite"], "the run folder")
        config, run_dir = SearchConfig(), resume
    else:
        config = config_from_options(options, ctx)
        run_dir = options["out"] or default_run_dir()
    display = None if as_json or quiet else SearchProgress(err_console)
    if display is not None:
        manager.register_plugin(display, name="neuronas-progress")
    from neuronas.search.run import run_search  # torch: imported once a search really runs

    try:
        result = run_search(config, run_dir, resume=resume is not None, overwrite=overwrite)
    except NoFeasibleArchitecture as error:
        if as_json:
            print_json(error.result.to_dict())
        else:
            console.print(result_table(error.result))
        raise
    except KeyboardInterrupt as interrupt:
        err_console.print(
            f"interrupted; continue with: neuronas run --resume {run_dir}",
            highlight=False,
            soft_wrap=True,
        )
        raise SystemExit(interrupted_exit_code(interrupt)) from None
    finally:
        if display is not None:
            display.progress.stop()
            manager.get_host().unregister("neuronas-progress")
    if as_json:
        print_json(result.to_dict())
        return
    console.print(result_table(result))
    console.print(f"best: {result.best.arch}", highlight=False, soft_wrap=True)
    console.print(f"score: {result.best.score:.4f} ({result.config.fitness})")
    console.print(
        f"{result.candidates_evaluated} candidates evaluated, {result.candidates_scored} scored "
        f"in {result.search_time_s:.1f} s; run folder: {run_dir}"
    )
    for note in result.notes:
        console.print(f"note: {note}", highlight=False)


@hookimpl
def neuronas_register_commands(cli):
    cli.add_command(run_command)
