"""The ``neuronas sweep`` command: `neuronas run`'s options, one search per weight precision."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import click

from neuronas.builtins.search import comma_list, config_from_options, run_command
from neuronas.plugin import hookimpl, manager
from neuronas.sweep import PAPER_BITS, Row, SweepConfig, SweepObserver, run_sweep
from neuronas.sweep.config import BASELINE_CANDIDATES
from neuronas.sweep.report import text_table

#: `neuronas run` options a sweep does not take: it has its own precisions and folder handling.
_NOT_SHARED = {"weight_bits", "out", "overwrite", "resume", "as_json", "quiet"}


class LineProgress(SweepObserver):
    """A line as each search and training starts."""

    def __init__(self, console) -> None:
        self.console = console

    def search_started(self, row: Row, index: int, total: int) -> None:
        self.console.print(
            f"[bold]search {index}/{total}[/]: {row.method} FxP{row.bits} ({row.search.strategy} "
            f"over {row.search.space})",
            highlight=False,
        )

    def training_started(self, row: Row, epochs: int) -> None:
        self.console.print(
            f"[bold]training[/] the {row.method} FxP{row.bits} pick for {epochs} epochs "
            f"(quantization-aware at {row.bits} bits)",
            highlight=False,
        )


@click.command("sweep")
@click.option(
    "--weight-bits",
    default=",".join(map(str, PAPER_BITS)),
    show_default=True,
    help="Comma-separated weight precisions, one search each.",
)
@click.option(
    "--baseline",
    metavar="SPACE",
    help="Also run SNASNet's search over SPACE as the paper does (random, one cell for A and B, "
    "budgets not checked, FxP32 in the same cost model), e.g. snasnet or snasnet-backward.",
)
@click.option(
    "--baseline-candidates",
    default=BASELINE_CANDIDATES,
    show_default=True,
    help="Random architectures the baseline draws (SNASNet's 5000 iterations).",
)
@click.option(
    "--train-epochs",
    metavar="E",
    default=0,
    show_default=True,
    help="Train every pick for E epochs (quantization-aware at its precision); 0: no training.",
)
@click.option("--train-batch-size", default=64, show_default=True, help="Training batch size.")
@click.option("--train-lr", default=0.1, show_default=True, help="Initial SGD learning rate.")
@click.option(
    "--train-device",
    type=click.Choice(["cpu", "cuda"]),
    default="cpu",
    show_default=True,
    help="Where the picks train.",
)
@click.option(
    "--train-threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Torch threads while training (as `neuronas train --threads`); may change on --resume.",
)
@click.option(
    "--out", type=click.Path(path_type=Path), help="Sweep folder [default: runs/sweep-TIME]."
)
@click.option(
    "--resume",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Continue the sweep in this folder (its saved options are used).",
)
@click.option("--json", "as_json", is_flag=True, help="Print sweep.json instead of the table.")
@click.option("--quiet", is_flag=True, help="No progress display; only the table.")
@click.pass_context
def sweep_command(ctx: click.Context, **options: Any) -> None:
    """One search per weight precision, optionally SNASNet's baseline and training of each pick.

    Every search takes `neuronas run`'s options below and has its own run folder (runs/<row>/),
    so an interrupted sweep resumes with --resume without scoring anything twice; trainings
    resume from their checkpoints. Writes the table as sweep.txt, sweep.json and sweep.csv, and
    the paper's figures: sweep-cost.png (memory, area, latency and energy against the budgets),
    sweep-search-time.png and, with --train-epochs, sweep-accuracy.png. A precision at which
    nothing meets the budgets is a row that says so; the sweep still exits 0.
    """
    from neuronas.builtins.progress import SearchProgress
    from neuronas.cli import refuse_options_with_resume
    from neuronas.console import console, err_console, exit_on_interrupt, print_json

    resume = options.pop("resume")
    as_json = options.pop("as_json")
    quiet = options.pop("quiet")
    train_threads = options.pop("train_threads")
    if resume is not None:
        refuse_options_with_resume(ctx, list(options), "the sweep folder")
        config, out = SweepConfig(), resume
    else:
        bits = comma_list(options.pop("weight_bits"), "--weight-bits", int)
        config = SweepConfig(
            search=config_from_options({**options, "weight_bits": bits[0] if bits else 8}, ctx),
            weight_bits=bits,
            baseline=options["baseline"],
            baseline_candidates=options["baseline_candidates"],
            train_epochs=options["train_epochs"],
            train_batch_size=options["train_batch_size"],
            train_lr=options["train_lr"],
            train_device=options["train_device"],
        )
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = options["out"] or Path("runs") / f"sweep-{stamp}"
    display = None if as_json or quiet else SearchProgress(err_console)
    if display is not None:
        manager.register_plugin(display, name="neuronas-progress")
    try:
        with exit_on_interrupt(f"neuronas sweep --resume {out}"):
            summary = run_sweep(
                config,
                out,
                resume=resume is not None,
                observer=None if display is None else LineProgress(err_console),
                train_threads=train_threads,
            )
    finally:
        if display is not None:
            display.progress.stop()
            manager.get_host().unregister("neuronas-progress")
    if as_json:
        print_json(summary)
        return
    console.print(
        text_table(summary["rows"]), end="", markup=False, highlight=False, soft_wrap=True
    )
    figures = ", ".join(Path(path).name for path in summary["figures"].values())
    console.print(
        f"sweep folder: {out} (sweep.txt, sweep.json, sweep.csv, {figures})", highlight=False
    )


sweep_command.params.extend(param for param in run_command.params if param.name not in _NOT_SHARED)


@hookimpl
def neuronas_register_commands(cli: Any) -> None:
    cli.add_command(sweep_command)
