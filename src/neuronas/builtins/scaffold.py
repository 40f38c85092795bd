"""The ``neuronas new-plugin KIND NAME`` command: a plugin package to start from."""

from __future__ import annotations

from pathlib import Path

import click

from neuronas.errors import UsageError
from neuronas.plugin import component_names, hookimpl
from neuronas.plugin.registry import KINDS, canonical_kind


@click.command("new-plugin")
@click.argument("kind", metavar="KIND")
@click.argument("name", metavar="NAME")
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path),
    help="Folder to write the package into (new or empty) [default: ./neuronas-NAME].",
)
def new_plugin_command(kind: str, name: str, folder: Path | None) -> None:
    """Write a plugin package that adds one component of KIND named NAME.

    KIND is one of: space, fitness, quantizer, hardware, strategy, dataset, executor. The package
    is complete and installable: pyproject.toml with its `neuronas` entry point, the component
    (a small working one to change into yours), the hook that registers it, a README and tests
    that hold it to neuronas' contract (neuronas.testing). `pip install -e DIR` and it is listed
    by `neuronas plugins`.
    """
    from neuronas.console import console
    from neuronas.scaffold import PluginNames, write_plugin

    names = PluginNames.of(kind, name)
    if names.name in component_names(names.kind):
        label = KINDS[canonical_kind(kind)][2]
        raise UsageError(
            f"a {label} named {names.name!r} is already registered; choose another NAME"
        )
    folder = folder or Path(names.distribution)
    written = write_plugin(names.kind, names.name, folder)
    console.print(
        f"wrote a {KINDS[names.kind][2]} plugin, {names.name!r}, into {folder}:", highlight=False
    )
    for path in written:
        console.print(f"  {path.relative_to(folder)}", highlight=False)
    console.print(
        f"next: pip install -e {folder} && python -m pytest {folder} && neuronas plugins",
        highlight=False,
        soft_wrap=True,
    )


@hookimpl
def neuronas_register_commands(cli):
    cli.add_command(new_plugin_command)
