"""The ``neuronas study`` command and its progress display."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from neuronas.builtins.search import comma_list
from neuronas.errors import UsageError
from neuronas.folders import read_json
from neuronas.plugin import hookimpl
from neuronas.search.config import DEFAULT_SPACE, SearchConfig
from neuronas.study import DEFAULT_METRICS, StudyConfig, StudyObserver, report_study, run_study


class RichStudyProgress(StudyObserver):
    """One bar per stage with done/total, elapsed and time remaining."""

    def __init__(self, console) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=console,
        )
        self.tasks: dict[str, Any] = {}

    def stage_started(self, stage: str, total: int, done: int) -> None:
        self.progress.start()
        self.tasks[stage] = self.progress.add_task(stage, total=total, completed=done)

    def task_done(self, stage: str, record) -> None:
        self.progress.advance(self.tasks[stage])

    def stop(self) -> None:
        self.progress.stop()


def summary_table(analysis) -> Table:
    noise = analysis.get("noise") or {}
    table = Table(
        title=(
            f"{analysis['trained_architectures']} architectures; seed-to-seed Kendall tau "
            f"{_fmt(noise.get('seed_tau'))}, ceiling {_fmt(noise.get('ceiling_tau'))}"
        )
    )
    for column in ("score", "Kendall tau [95% CI]", "p", "Spearman rho", "partial rho | size", "top-10%", "pick's percentile"):  # fmt: skip
        table.add_column(column, justify="left" if column == "score" else "right")
    for label, entry in analysis["metrics"].items():
        kendall = entry.get("kendall") or {}
        spearman = entry.get("spearman") or {}
        partial = entry.get("partial_spearman_given_size") or {}
        pick = (analysis.get("picks") or {}).get(label) or {}
        table.add_row(
            label + (" (size baseline)" if label == analysis.get("size_baseline") else ""),
            f"{_fmt(kendall.get('value'))} [{_fmt(kendall.get('low'))}, {_fmt(kendall.get('high'))}]",
            _fmt(kendall.get("p_value"), "{:.2g}"),
            _fmt(spearman.get("value")),
            _fmt(partial.get("value")),
            _fmt(entry.get("top10_hit_rate"), "{:.0%}"),
            _fmt(pick.get("percentile_in_sample"), "{:.0%}"),
        )
    return table


def size_comparison(analysis) -> str | None:
    """Each metric's Kendall tau minus the size baseline's with its paired interval, and which
    metrics beat size beyond the sample's noise (the interval above 0); None before there is one."""
    differences = {
        label: entry["kendall_minus_size"]
        for label, entry in analysis["metrics"].items()
        if "kendall_minus_size" in entry
    }
    if not differences:
        return None
    parts = [
        f"{label} {_fmt(d['value'])} [{_fmt(d['low'])}, {_fmt(d['high'])}]"
        for label, d in differences.items()
    ]
    beats = [label for label, d in differences.items() if d["low"] > 0]
    verdict = (
        f"beyond the noise: {', '.join(beats)}" if beats else "none beats size beyond the noise"
    )
    return f"Kendall tau minus size's (paired 95% interval): {'; '.join(parts)}; {verdict}"


def _print_summary(console, analysis) -> None:
    console.print(summary_table(analysis))
    comparison = size_comparison(analysis)
    if comparison is not None:
        console.print(comparison, highlight=False)


def _fmt(value, pattern: str = "{:+.2f}") -> str:
    return "-" if value is None else pattern.format(value)


@click.command("study")
@click.argument("source", required=False, default=DEFAULT_SPACE, metavar="[SPACE|RUN_DIR]")
@click.option("--dataset", help="Dataset to score and train on [default: the run's, else digits].")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Folder holding the dataset.")
@click.option(
    "--event-size",
    type=click.IntRange(min=1),
    help="Side of an event dataset's frames (down-sampled) [default: the run's, else the "
    "dataset's].",
)
@click.option("--archs", default=30, show_default=True, help="Architectures to sample, N.")
@click.option("--epochs", default=30, show_default=True, help="Training epochs, E.")
@click.option("--seeds", default=2, show_default=True, help="Training seeds per architecture, K.")
@click.option(
    "--metrics",
    default=",".join(DEFAULT_METRICS),
    show_default=True,
    help="Comma-separated fitness metrics to compare.",
)
@click.option(
    "--weight-bits", default="8", show_default=True, help="Comma-separated precisions (QaFE)."
)
@click.option(
    "--score-batchnorm",
    default="per-step",
    show_default=True,
    help="Comma-separated BatchNorm modes to score under (per-step, pooled).",
)
@click.option("--width", type=int, help="Cell A width C [default: the run's, else 8].")
@click.option("--timesteps", type=int, help="SNN timesteps T [default: the run's, else 5].")
@click.option("--hidden", type=int, help="Classifier hidden width [default: the run's, else 128].")
@click.option("--population", type=int, help="Outputs per class [default: the run's, else 10].")
@click.option(
    "--dropout",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    help="Classifier dropout [default: the space's].",
)
@click.option(
    "--weight-init",
    type=click.Choice(["pytorch", "snasnet"]),
    help="Initialisation [default: the space's].",
)
@click.option("--fitness-batch", default=64, show_default=True, help="Images per score batch, S.")
@click.option("--fitness-batches", default=2, show_default=True, help="Score batches, R.")
@click.option("--batch-size", default=64, show_default=True, help="Training batch size.")
@click.option("--lr", default=0.1, show_default=True, help="Initial SGD learning rate (cosine).")
@click.option(
    "--picks/--no-picks",
    default=True,
    show_default=True,
    help="Also run two-phase under every score and train its pick (with --resume: add them to "
    "a study started with --no-picks).",
)
@click.option(
    "--executor", default="local", show_default=True, help="Executor for scores and trainings."
)
@click.option("--workers", default=1, show_default=True, help="Executor workers.")
@click.option("--seed", default=0, show_default=True, help="Seed for the sample and the batches.")
@click.option(
    "--out", type=click.Path(path_type=Path), help="Study folder [default: runs/study-TIME]."
)
@click.option(
    "--resume",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Continue the study in this folder (its saved options are used).",
)
@click.option(
    "--report",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Only analyse what this study folder has journaled so far (a study still running, or "
    "stopped): writes study.json, study.csv and study.png; scores and trains nothing.",
)
@click.option("--json", "as_json", is_flag=True, help="Print study.json instead of the table.")
@click.pass_context
def study_command(ctx: click.Context, source: str, **options: Any) -> None:
    """Measure how well training-free metrics rank architectures by trained accuracy.

    Samples N architectures of SPACE (or takes N scored ones from a finished RUN_DIR), scores each
    with every metric, trains each K times for E epochs with the `neuronas train` recipe, and
    reports per metric Kendall tau and Spearman rho against mean accuracy (p-values, bootstrap 95%
    intervals), partial correlation given size, top-10% hit rate, training noise and the ceiling it
    sets. Writes study.json, study.csv and study.png; resumable.
    """
    import datetime

    from neuronas.cli import given_on_command_line, refuse_options_with_resume
    from neuronas.console import console, err_console, exit_on_interrupt, print_json

    resume = options.pop("resume")
    report = options.pop("report")
    as_json = options.pop("as_json")
    if report is not None:
        refuse_options_with_resume(
            ctx, [*options, "source", "resume"], "the study folder", flag="--report"
        )
        analysis = report_study(report)
        if as_json:
            print_json(analysis)
            return
        _print_summary(console, analysis)
        trained, total = analysis["trained_architectures"], len(analysis["architectures"])
        state = "every architecture is trained" if trained == total else "interim"
        console.print(
            f"{state}: {trained} of {total} architectures trained with every seed; study folder: "
            f"{report} (study.json, study.csv" + (", study.png)" if trained >= 3 else ")"),
            highlight=False,
        )
        return
    add_picks = resume is not None and options["picks"] and given_on_command_line(ctx, "picks")
    if resume is not None:
        names = [name for name in [*options, "source"] if not (add_picks and name == "picks")]
        refuse_options_with_resume(ctx, names, "the study folder")
        config, out = StudyConfig(), resume
    else:
        config = _config(source, options)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = options["out"] or Path("runs") / f"study-{stamp}"
    display = None if as_json else RichStudyProgress(err_console)
    try:
        with exit_on_interrupt(f"neuronas study --resume {out}"):
            analysis = run_study(
                config, out, resume=resume is not None, observer=display, add_picks=add_picks
            )
    finally:
        if display is not None:
            display.stop()
    if as_json:
        print_json(analysis)
        return
    _print_summary(console, analysis)
    console.print(f"study folder: {out} (study.json, study.csv, study.png)", highlight=False)


def _config(source: str, options: dict[str, Any]) -> StudyConfig:
    """A StudyConfig from the options; a run folder as SOURCE supplies the unset ones."""
    base: dict[str, Any] = {}
    source_path = Path(source)
    if source_path.is_dir():
        config_path = source_path / "config.json"
        if not config_path.is_file():
            raise UsageError(f"{source} is a folder but not a run folder (it has no config.json)")
        saved = read_json(config_path, "a `neuronas run` folder's config.json")
        try:
            run = SearchConfig.from_dict(saved.get("config", saved)).to_dict()
        except UsageError as error:
            raise UsageError(f"{config_path}: {error}") from None
        base = {key: run[key] for key in ("space", "dataset", "data_dir", "width", "timesteps", "hidden", "population")}  # fmt: skip
        base["event_size"] = run.get("event_size")
        base["source_run"] = str(source_path)
    else:
        base["space"] = source
    for key in ("dataset", "event_size", "width", "timesteps", "hidden", "population"):
        if options[key] is not None:
            base[key] = options[key]
    if options["data_dir"] is not None:
        base["data_dir"] = str(options["data_dir"])
    return StudyConfig(
        **base,
        archs=options["archs"],
        metrics=comma_list(options["metrics"], "--metrics"),
        weight_bits=comma_list(options["weight_bits"], "--weight-bits", int),
        score_batchnorm=comma_list(options["score_batchnorm"], "--score-batchnorm"),
        dropout=options["dropout"],
        weight_init=options["weight_init"],
        fitness_batch=options["fitness_batch"],
        fitness_batches=options["fitness_batches"],
        epochs=options["epochs"],
        seeds=options["seeds"],
        batch_size=options["batch_size"],
        lr=options["lr"],
        picks=options["picks"],
        executor=options["executor"],
        workers=options["workers"],
        seed=options["seed"],
    )


@hookimpl
def neuronas_register_commands(cli: Any) -> None:
    cli.add_command(study_command)
