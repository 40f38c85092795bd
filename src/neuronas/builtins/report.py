"""The ``neuronas report RUN_DIR`` command: a plot and a short summary of a run folder."""

from __future__ import annotations

from pathlib import Path

import click

from neuronas.plugin import hookimpl
from neuronas.report import AXES, write_report


@click.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--x",
    "x",
    type=click.Choice(list(AXES)),
    default="energy",
    show_default=True,
    help="Cost on the horizontal axis.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="PNG to write [default: RUN_DIR/report-<x>.png].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def report_command(run_dir: Path, x: str, out: Path | None, as_json: bool) -> None:
    """Plot each candidate's fitness against a hardware cost, the Pareto front, and summarise the run.

    Works on a finished run and on one that was interrupted or is still going. Scored candidates
    are points coloured by phase, candidates rejected by a budget are ticks on the cost axis, the
    budget is a dashed line and the chosen architecture a star. A second PNG (report-pareto.png,
    or next to --out) plots the fitness against each of the four costs with the non-dominated
    candidates among those that meet every budget marked and joined. The summary is also written
    to RUN_DIR/report.txt.
    """
    from neuronas.console import console, print_json

    _path, facts, text = write_report(run_dir, x, out)
    if as_json:
        print_json(facts)
    else:
        console.print(text, end="", highlight=False, soft_wrap=True, markup=False)


@hookimpl
def neuronas_register_commands(cli):
    cli.add_command(report_command)
