"""The ``neuronas`` command: the kernel's own commands plus those that plugins add.

Errors that the user caused (`NeuronasError`) print one line and exit with the error's code (2 for
usage errors, 3 when no candidate is feasible); other exceptions are bugs and keep their traceback.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

import neuronas
from neuronas.console import console, err_console, print_json
from neuronas.errors import NeuronasError, Terminated, UnknownComponentError, UsageError
from neuronas.plugin import manager
from neuronas.plugin.guard import ComponentError
from neuronas.plugin.registry import KINDS, canonical_kind


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, manager.PluginLoadWarning):
        err_console.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)
    else:
        err_console.print(
            f"[yellow]{category.__name__}:[/] {message} ({filename}:{lineno})",
            highlight=False,
            soft_wrap=True,
        )


def given_on_command_line(ctx: click.Context, name: str) -> bool:
    """Whether the user typed option ``name``, as opposed to its default."""
    return ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE


def refuse_options_with_resume(
    ctx: click.Context, names: Iterable[str], saved_in: str, flag: str = "--resume"
) -> None:
    """``--resume`` (or another ``flag`` that reads a folder) continues with saved options;
    options also given on the command line are an error rather than silently ignored."""
    given = [name for name in names if given_on_command_line(ctx, name)]
    if given:
        raise UsageError(
            f"{flag} uses the options saved in {saved_in}; do not combine it with "
            + ", ".join("--" + name.replace("_", "-") for name in given)
        )


def debugging(flag: bool = False) -> bool:
    """``--debug`` or ``NEURONAS_DEBUG=1``: show the traceback behind a one-line error."""
    return flag or os.environ.get("NEURONAS_DEBUG", "") not in ("", "0")


def report_error(error: NeuronasError, debug: bool = False) -> None:
    """One red line on stderr; with debugging on, the traceback of what caused it first."""
    cause = error.__cause__ or error.__context__
    if debugging(debug) and cause is not None:
        traceback.print_exception(cause)
    hint = ""
    if isinstance(error, ComponentError) and not debugging(debug):
        hint = " (--debug or NEURONAS_DEBUG=1 shows the traceback)"
    # escaped: a message may hold brackets (e.g. "pip install 'neuronas[nir]'")
    err_console.print(f"[red]error:[/] {escape(str(error))}{hint}", highlight=False, soft_wrap=True)


class NeuronasGroup(click.Group):
    """Turns user errors raised by any command into one red line and the error's exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NeuronasError as error:
            report_error(error, bool(ctx.params.get("debug")))
            ctx.exit(error.exit_code)


@click.group(cls=NeuronasGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(neuronas.__version__, prog_name="neuronas")
@click.option(
    "--disable-plugin",
    "disabled",
    multiple=True,
    metavar="NAME",
    help="Do not load the named plugin (built-in or external). Repeatable.",
)
@click.option(
    "--debug", is_flag=True, help="Show the traceback behind an error (also NEURONAS_DEBUG=1)."
)
def cli(disabled: tuple[str, ...], debug: bool) -> None:
    """Hardware-aware, training-free spiking neural architecture search for CIM accelerators."""


@cli.command("plugins")
@click.option("--all", "show_all", is_flag=True, help="Also list blocked and unselected plugins.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_command(show_all: bool, as_json: bool) -> None:
    """List loaded plugins: version, source, hooks and the components each registered."""
    described = manager.get_host().describe(include_skipped=show_all)
    if as_json:
        print_json(described)
        return
    table = Table(title="neuronas plugins")
    for column in ("plugin", "version", "source", "components", "hooks"):
        table.add_column(column)
    for plugin in described["plugins"]:
        components = "\n".join(
            f"{kind}: {', '.join(names)}" for kind, names in plugin["components"].items()
        )
        hooks = "\n".join(h.removeprefix("neuronas_") for h in plugin["hooks"])
        table.add_row(plugin["name"], plugin["version"], plugin["source"], components, hooks)
    console.print(table)
    for info in described.get("skipped", []):
        console.print(f"skipped: {info['name']} ({info['source']}, not loaded)")
    for failure in described["failed"]:
        console.print(f"[red]failed:[/] {failure['name']}: {failure['error']}", highlight=False)


@cli.command("list")
@click.argument("kind", metavar="KIND")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_command(kind: str, as_json: bool) -> None:
    """List the components of one KIND with a one-line description each.

    KIND is one of: space, fitness, quantizer, hardware, strategy, dataset, executor, exporter;
    `kinds` lists the kinds themselves.
    """
    if kind == "kinds":
        kinds = [{"kind": k, "hook": hook, "what": label} for k, (hook, _p, label) in KINDS.items()]
        if as_json:
            print_json(kinds)
            return
        table = Table(title="component kinds")
        for column in ("kind", "what", "hook"):
            table.add_column(column)
        for row in kinds:
            table.add_row(row["kind"], row["what"], row["hook"])
        console.print(table)
        return
    kind = canonical_kind(kind)
    registry = manager.get_host().registry
    entries = list(registry.entries(kind))
    if as_json:
        print_json(
            [{"name": e.name, "plugin": e.plugin, "description": e.description} for e in entries]
        )
        return
    table = Table(title=f"{KINDS[kind][2]}s")
    for column in ("name", "plugin", "description"):
        table.add_column(column)
    for entry in entries:
        table.add_row(entry.name, entry.plugin, entry.description)
    console.print(table)


def _disabled_from_argv(argv: Sequence[str]) -> list[str]:
    """``--disable-plugin`` must act before plugins add their commands, so read it early."""
    names = []
    for index, arg in enumerate(argv):
        if arg == "--disable-plugin" and index + 1 < len(argv):
            names.append(argv[index + 1])
        elif arg.startswith("--disable-plugin="):
            names.append(arg.partition("=")[2])
    return names


def build_cli() -> click.Group:
    """The kernel's group with every plugin's commands added."""
    group = NeuronasGroup(
        name=cli.name,
        commands=dict(cli.commands),
        callback=cli.callback,
        params=cli.params,
        help=cli.help,
        context_settings=cli.context_settings,
    )
    manager.get_host().hook.neuronas_register_commands(cli=group)
    return group


def _terminate(_signum: int, _frame: Any) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    warnings.showwarning = _show_warning
    signal.signal(signal.SIGTERM, _terminate)  # like Ctrl-C: journals flushed, a resume hint
    disabled = _disabled_from_argv(args)
    try:
        manager.reset(blocked=disabled)
        host = manager.get_host()
        unknown = host.unknown_blocked()  # from --disable-plugin and NEURONAS_DISABLE_PLUGINS
        if unknown:
            raise UnknownComponentError("plugin to disable", unknown[0], host.known_names())
        group = build_cli()
    except NeuronasError as error:  # before any command runs: a plugin error in strict mode
        report_error(error, "--debug" in args)
        sys.exit(error.exit_code)
    group.main(args=args, prog_name="neuronas", standalone_mode=True)
