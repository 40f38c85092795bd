"""The ``neuronas run`` command (its progress display is `neuronas.builtins.progress`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import click
from rich.table import Table

from neuronas.budgets import BUDGET_NAMES, BUDGETS, COST_KEYS, UNITS, Budgets
from neuronas.builtins.progress import SearchProgress
from neuronas.errors import NoFeasibleArchitecture, UsageError
from neuronas.hardware import load_toml, parse_assignments
from neuronas.plugin import hookimpl, manager
from neuronas.search.config import SearchConfig, read_config_file
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


def _flag_name(field: attrs.Attribute) -> str:
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def _parameter(field: attrs.Attribute) -> str:
    """The click parameter of a SearchConfig field: its option's name, underscored."""
    return _flag_name(field).split("/")[0].removeprefix("--").replace("-", "_")


def _described_fields() -> list[attrs.Attribute]:
    return [field for field in attrs.fields(SearchConfig) if "help" in field.metadata]


def _field_option(field: attrs.Attribute) -> Callable:
    """`neuronas run`'s option for one SearchConfig field, from the field's own description."""
    how = field.metadata
    settings: dict[str, Any] = {"help": how["help"]}
    if "flag" in how and "/" not in how["flag"]:
        settings["is_flag"] = True
    else:
        settings["show_default"] = field.default is not None
        if field.default is not None:
            settings["default"] = field.default
    if "choices" in how:
        settings["type"] = click.Choice(list(how["choices"]))
    elif "below" in how:
        settings["type"] = click.FloatRange(how["minimum"], how["below"], max_open=True)
    elif "minimum" in how:
        settings["type"] = click.IntRange(min=how["minimum"])
    elif how.get("path"):
        settings["type"] = click.Path(path_type=Path)
    return click.option(_flag_name(field), _parameter(field), **settings)


def _budget_parameter(budget: Any) -> str:
    """The click parameter of a budget's option: --max-area is max_area."""
    return budget.option.removeprefix("--").replace("-", "_")


def _budget_option(budget: Any) -> Callable:
    return click.option(
        budget.option,
        _budget_parameter(budget),
        default=budget.default_text,
        show_default=True,
        help=f"{budget.name.capitalize()} budget, {budget.unit}.",
    )


_HARDWARE_OPTIONS = (
    click.option(
        "--set",
        "hardware_set",
        multiple=True,
        metavar="KEY=VALUE",
        help="Hardware parameter override (repeatable), e.g. --set crossbar_size=128.",
    ),
    click.option(
        "--hardware-config",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="TOML file of hardware parameters (top level or a [hardware] table).",
    ),
)


def search_options(command: Callable) -> Callable:
    """Give ``command`` an option for every SearchConfig field, in the config's order: its
    default and help come from the field (`neuronas.search.config`), the budgets' from
    `neuronas.budgets`."""
    decorators = []
    for field in attrs.fields(SearchConfig):
        if field.name == "budgets":
            decorators.extend(_budget_option(budget) for budget in BUDGETS)
        elif field.name == "hardware_params":
            decorators.extend(_HARDWARE_OPTIONS)
        elif "help" in field.metadata:
            decorators.append(_field_option(field))
    for decorate in reversed(decorators):
        command = decorate(command)
    return command


#: Which SearchConfig field each option of `neuronas run` sets.
_OPTION_FIELDS = {
    **{_parameter(field): field.name for field in _described_fields()},
    "hardware_set": "hardware_params",
    "hardware_config": "hardware_params",
    **{_budget_parameter(budget): budget.field for budget in BUDGETS},
}
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
    for name in explicit & set(_OPTION_FIELDS):
        field = _OPTION_FIELDS[name]
        if field in _BUDGET_FIELDS:
            budgets[field] = getattr(given.budgets, field)
        elif field == "hardware_params":
            changes[field] = {**base.hardware_params, **given.hardware_params}
        else:
            changes[field] = getattr(given, field)
    if budgets:
        changes["budgets"] = attrs.evolve(base.budgets, **budgets)
    return attrs.evolve(base, **changes)


def _options_to_config(options: Mapping[str, Any]) -> SearchConfig:
    values: dict[str, Any] = {}
    for field in _described_fields():
        value = options[_parameter(field)]
        if field.metadata.get("inverted"):
            value = not value
        elif field.metadata.get("path") and value is not None:
            value = str(value)
        values[field.name] = value
    return SearchConfig(
        **values,
        budgets=Budgets(**{budget.field: options[_budget_parameter(budget)] for budget in BUDGETS}),
        hardware_params={
            **(load_toml(options["hardware_config"]) if options["hardware_config"] else {}),
            **parse_assignments(options["hardware_set"]),
        },
    )


@click.command("run")
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Options from a file: run.toml, or a run folder's config.json to repeat that run; "
    "options given on the command line override it.",
)
@search_options
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
    from neuronas.console import console, err_console, exit_on_interrupt, print_json

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
        with exit_on_interrupt(f"neuronas run --resume {run_dir}"):
            result = run_search(config, run_dir, resume=resume is not None, overwrite=overwrite)
    except NoFeasibleArchitecture as error:
        if as_json:
            print_json(error.result.to_dict())
        else:
            console.print(result_table(error.result))
        raise
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
