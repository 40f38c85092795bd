"""The ``neuronas train`` and ``neuronas evaluate`` commands, with a rich per-epoch progress display."""

from __future__ import annotations

import datetime
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from neuronas.api import DEFAULTS, parse_architecture
from neuronas.errors import UsageError
from neuronas.folders import read_json, read_options_file
from neuronas.plugin import hookimpl
from neuronas.search.config import SearchConfig
from neuronas.training import (
    DEFAULT_CLASSIFIER_INIT_GAIN,
    CheckpointError,
    Distributed,
    TrainConfig,
    TrainObserver,
)


def read_run_folder(run_dir: Path) -> dict[str, Any]:
    """The best architecture of a search run folder, and the dataset, space and data folder it used."""
    result_path = run_dir / "result.json"
    if not result_path.is_file():
        raise UsageError(
            f"{run_dir} has no result.json; is it a finished `neuronas run` folder? (an interrupted "
            f"search continues with `neuronas run --resume {run_dir}`)"
        )
    result = read_json(result_path, "the result.json of a `neuronas run`")
    best = result.get("best")
    if best is None:
        raise UsageError(f"{result_path} names no best architecture (the search found none)")
    if not isinstance(best, dict) or not isinstance(best.get("arch"), str):
        raise UsageError(f"{result_path}: best must be an object with an arch string, got {best!r}")
    try:
        config = SearchConfig.from_dict(result.get("config") or {})
    except UsageError as error:
        raise UsageError(f"{result_path}: {error}") from None
    return {
        "arch": best["arch"],
        "dataset": config.dataset,
        "space": config.space,
        "data_dir": config.data_dir,
    }


def default_out_dir(run_dir: Path | None) -> Path:
    if run_dir is not None:
        return run_dir / "train"
    return Path("runs") / f"train-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def _percent(value: float) -> str:
    return f"{100 * value:.2f}%"


class RichTrainProgress(TrainObserver):
    """A bar over the epochs and one over the batches of the current epoch; a line per epoch."""

    def __init__(self, console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.epochs_task = None
        self.batches_task = None

    def started(self, config: TrainConfig, start_epoch: int, batches_per_epoch: int) -> None:
        if start_epoch:
            self.console.print(f"resuming after epoch {start_epoch} of {config.epochs}")
        self.progress.start()
        self.epochs_task = self.progress.add_task(
            "epochs", total=config.epochs, completed=start_epoch, status=""
        )
        self.batches_task = self.progress.add_task("batches", total=batches_per_epoch, status="")

    def batch_done(self, epoch: int, batch: int, loss: float) -> None:
        self.progress.update(
            self.batches_task,
            completed=batch,
            description=f"epoch {epoch}",
            status=f"loss {loss:.4f}",
        )

    def epoch_done(self, record: Mapping[str, Any]) -> None:
        self.progress.update(
            self.epochs_task,
            completed=record["epoch"],
            status=f"test {_percent(record['test_accuracy'])}",
        )
        self.progress.console.print(
            f"epoch {record['epoch']:>4}  loss {record['train_loss']:.4f}  "
            f"train {_percent(record['train_accuracy'])}  test {_percent(record['test_accuracy'])}  "
            f"lr {record['lr']:.4g}  {record['seconds']:.1f} s",
            highlight=False,
        )

    def finished(self, metrics: Mapping[str, Any]) -> None:
        self.progress.stop()


def final_table(metrics: Mapping[str, Any]) -> Table:
    final = metrics["final"]
    table = Table(title="final test accuracy")
    table.add_column("weights")
    table.add_column("method")
    table.add_column("accuracy", justify="right")
    table.add_row("full precision", "float", _percent(final["test_accuracy"]))
    for row in final["quantized"]:
        table.add_row(f"FxP{row['bits']}", row["method"], _percent(row["test_accuracy"]))
    return table


def spike_rate_table(rates: Mapping[str, float]) -> Table:
    table = Table(title="spike rate per LIF layer (spikes per neuron per timestep)")
    table.add_column("layer", no_wrap=True)
    table.add_column("rate", justify="right")
    for name, rate in rates.items():
        table.add_row(name, f"{rate:.4f}")
    return table


#: Options that --resume takes from the checkpoint instead of the command line.
_RESUMED_OPTIONS = (
    "config",
    "arch",
    "dataset",
    "event_size",
    "space",
    "epochs",
    "batch_size",
    "lr",
    "momentum",
    "weight_decay",
    "weight_bits",
    "quantizer",
    "ptq_bits",
    "no_augment",
    "classifier_init_gain",
    "seed",
)


@click.command("train")
@click.argument("run_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Options from a file: train.toml, or a training's metrics.json to repeat it; options "
    "given on the command line override it.",
)
@click.option("--arch", help="Architecture string to train (instead of a run folder's best).")
@click.option("--dataset", help="Dataset [default: the run's, else digits].")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Folder holding the dataset.")
@click.option(
    "--event-size",
    type=click.IntRange(min=1),
    help="With --arch: side of an event dataset's frames [default: the dataset's].",
)
@click.option(
    "--space", help="Search space that builds the cells [default: the run's, else neuronas-3op]."
)
@click.option("--epochs", type=int, default=200, show_default=True, help="Training epochs.")
@click.option(
    "--batch-size",
    type=int,
    default=64,
    show_default=True,
    help="Images per step (per process under torchrun).",
)
@click.option(
    "--lr",
    type=float,
    default=0.1,
    show_default=True,
    help="Initial SGD learning rate (cosine schedule to 0).",
)
@click.option("--momentum", type=float, default=0.9, show_default=True, help="SGD momentum.")
@click.option("--weight-decay", type=float, default=5e-4, show_default=True, help="Weight decay.")
@click.option(
    "--weight-bits",
    type=int,
    help="Quantization-aware training with N-bit fixed-point weights (2..32).",
)
@click.option(
    "--quantizer",
    default="fixed-point",
    show_default=True,
    help="Weight quantizer of QAT (its prepare_qat) and of the post-training quantization.",
)
@click.option(
    "--ptq-bits",
    type=int,
    multiple=True,
    help="Also test after post-training quantization to N bits (repeatable) "
    "[default: --weight-bits, else 8].",
)
@click.option("--no-augment", is_flag=True, help="Train without the dataset's augmentation.")
@click.option(
    "--classifier-init-gain",
    type=float,
    default=DEFAULT_CLASSIFIER_INIT_GAIN,
    show_default=True,
    help="Scale of the classifier hidden layer's initial weights (1: PyTorch default).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for everything random.")
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Torch threads (per process under torchrun). One never oversubscribes a shared machine; "
    "more help large networks on idle cores.",
)
@click.option(
    "--device",
    type=click.Choice(["cpu", "cuda"]),
    default="cpu",
    show_default=True,
    help="Where to train (under torchrun, cuda means cuda:LOCAL_RANK).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder [default: RUN_DIR/train, else runs/train-TIME].",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the interrupted training in the output folder from its checkpoint.",
)
@click.option("--json", "as_json", is_flag=True, help="Print metrics.json instead of tables.")
@click.pass_context
def train_command(ctx: click.Context, run_dir: Path | None, **options: Any) -> None:
    """Train a found architecture with surrogate gradients (BPTT), and test it.

    RUN_DIR is a `neuronas run` folder: its best architecture, dataset and space are used. Or give
    the architecture with --arch. Writes checkpoint.pt (each epoch) and metrics.json to --out.
    """
    import torch

    from neuronas.cli import refuse_options_with_resume
    from neuronas.console import console, err_console, exit_on_interrupt, print_json
    from neuronas.training import load_checkpoint, train

    config_file = options.pop("config")
    if config_file is not None and not options["resume"]:
        _apply_options_file(ctx, config_file, options, run_dir)
    as_json = options.pop("as_json")
    torch.set_num_threads(options.pop("threads"))
    resume = options.pop("resume")
    device = options.pop("device")
    out_dir = options.pop("out") or (
        None if resume and run_dir is None else default_out_dir(run_dir)
    )
    data_dir = str(options.pop("data_dir")) if options["data_dir"] is not None else None
    if resume:
        if out_dir is None:
            raise UsageError("--resume needs the output folder: give --out DIR (or RUN_DIR)")
        refuse_options_with_resume(ctx, _RESUMED_OPTIONS, "the checkpoint")
        config = load_checkpoint(out_dir / "checkpoint.pt")["config"]
    else:
        config = _config_from_options(run_dir, data_dir, options)
    quiet = as_json or not Distributed.from_environment().is_main
    display = None if quiet else RichTrainProgress(err_console)
    if display is None:
        observer = None
    else:
        observer = display
        console.print(f"[bold]training[/] {config.arch}", highlight=False, soft_wrap=True)
        console.print(
            f"dataset {config.dataset}, {config.epochs} epochs, output {out_dir}", highlight=False
        )
    started = time.perf_counter()
    try:
        with exit_on_interrupt(f"neuronas train --resume --out {out_dir}"):
            result = train(
                config, out_dir, resume=resume, device=device, data_dir=data_dir, observer=observer
            )
    finally:
        if display is not None:
            display.progress.stop()
    if quiet:
        if as_json and Distributed.from_environment().is_main:
            print_json(result.metrics)
        return
    console.print(final_table(result.metrics))
    console.print(spike_rate_table(result.metrics["final"]["spike_rates"]))
    console.print(
        f"{time.perf_counter() - started:.1f} s; checkpoint {result.checkpoint}, "
        f"metrics {out_dir / 'metrics.json'}",
        highlight=False,
    )


def _apply_options_file(
    ctx: click.Context, path: Path, options: dict[str, Any], run_dir: Path | None
) -> None:
    """Set every option ``path`` holds (TrainConfig's field names) that the command line does not,
    each checked as its option would be: the command line wins, and RUN_DIR's architecture wins
    over the file's."""
    from neuronas.cli import given_on_command_line

    values = read_options_file(path, "a file of training options")
    unknown = sorted(set(values) - {field.name for field in attrs.fields(TrainConfig)})
    if unknown:
        raise UsageError(f"{path}: unknown training option(s): {', '.join(unknown)}")
    params = {param.name: param for param in ctx.command.params}
    for field, value in values.items():
        name = "no_augment" if field == "augment" else field
        if value is not None:
            _check_file_type(path, field, params[name], value)
        if field == "augment":
            value = not value
        given = given_on_command_line(ctx, name)
        if given or (name == "arch" and run_dir is not None) or value is None:
            continue
        try:
            options[name] = params[name].type_cast_value(ctx, value)
        except click.BadParameter as error:
            raise UsageError(f"{path}: {field}: {error.message}") from None


def _check_file_type(path: Path, field: str, param: click.Parameter, value: Any) -> None:
    """A UsageError unless ``value`` (from a TOML or JSON file) is of the JSON type the option
    takes: an integer where it counts, a number, a string, a flag's true or false, or a list of
    them for a repeatable option; click itself would turn 1.7 into 1, and fail on a table."""
    kind = param.type
    if isinstance(kind, click.types.BoolParamType):
        allowed, what = (bool,), ("true or false", "")
    elif isinstance(kind, click.types.IntParamType):
        allowed, what = (int,), ("an integer", "integers")
    elif isinstance(kind, click.types.FloatParamType):
        allowed, what = (int, float), ("a number", "numbers")
    else:
        allowed, what = (str,), ("a string", "strings")
    items = value if getattr(param, "multiple", False) and isinstance(value, list) else [value]
    if getattr(param, "multiple", False) and not isinstance(value, list):
        raise UsageError(f"{path}: {field} must be a list of {what[1]}, got {value!r}")
    for item in items:
        if not isinstance(item, allowed) or (isinstance(item, bool) and bool not in allowed):
            raise UsageError(f"{path}: {field} must be {what[0]}, got {item!r}")


def _config_from_options(
    run_dir: Path | None, data_dir: str | None, options: dict[str, Any]
) -> TrainConfig:
    from_run: dict[str, Any] = {}
    if run_dir is not None:
        if options["arch"] is not None:
            raise UsageError("give either RUN_DIR or --arch, not both")
        from_run = read_run_folder(run_dir)
    elif options["arch"] is None:
        raise UsageError("nothing to train: give a run folder (RUN_DIR) or --arch STRING")
    dataset = options["dataset"] or from_run.get("dataset") or DEFAULTS.dataset
    space = options["space"] or from_run.get("space") or DEFAULTS.space
    if options["event_size"] is not None and options["arch"] is None:
        raise UsageError("--event-size goes with --arch; a run folder's architecture has its own")
    arch = (
        from_run.get("arch")
        or parse_architecture(options["arch"], space, dataset, options["event_size"]).to_string()
    )
    return TrainConfig(
        arch=arch,
        dataset=dataset,
        data_dir=data_dir or from_run.get("data_dir"),
        space=space,
        epochs=options["epochs"],
        batch_size=options["batch_size"],
        lr=options["lr"],
        momentum=options["momentum"],
        weight_decay=options["weight_decay"],
        weight_bits=options["weight_bits"],
        quantizer=options["quantizer"],
        ptq_bits=options["ptq_bits"],
        augment=not options["no_augment"],
        classifier_init_gain=options["classifier_init_gain"],
        seed=options["seed"],
    )


@click.command("evaluate")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option(
    "--weight-bits",
    type=int,
    help="Post-training quantize the weights to N bits first [default: the QAT "
    "precision, else full precision].",
)
@click.option("--data-dir", type=click.Path(path_type=Path), help="Folder holding the dataset.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate_command(
    checkpoint: Path, weight_bits: int | None, data_dir: Path | None, device: str, as_json: bool
) -> None:
    """Test a trained checkpoint: accuracy and the spike rate of every LIF layer.

    CHECKPOINT is a checkpoint.pt or the folder holding it.
    """
    from neuronas.console import console, print_json
    from neuronas.training import evaluate_checkpoint

    result = evaluate_checkpoint(
        checkpoint,
        weight_bits=weight_bits,
        data_dir=str(data_dir) if data_dir is not None else None,
        device=device,
    )
    if as_json:
        print_json(result.to_dict())
        return
    precision = "full precision" if result.bits is None else f"FxP{result.bits} weights"
    console.print(f"[bold]architecture[/] {result.arch}", highlight=False, soft_wrap=True)
    console.print(
        f"{result.dataset} test accuracy ({precision}, epoch {result.epoch}): "
        f"[bold]{_percent(result.accuracy)}[/] on {result.images} images, loss {result.loss:.4f}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(spike_rate_table(result.spike_rates))


@hookimpl
def neuronas_register_commands(cli: Any) -> None:
    cli.add_command(train_command)
    cli.add_command(evaluate_command)


__all__ = ["CheckpointError", "evaluate_command", "train_command"]
