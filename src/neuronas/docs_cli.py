"""Write the CLI reference (docs/cli.md) from the commands' own ``--help``, so it cannot go stale.

``python -m neuronas.docs_cli`` rewrites the page; ``--check`` only compares (exit 1 when it differs),
and ``tests/test_docs_cli.py`` does the same. Only the built-in plugins are loaded, so installed
third-party plugins do not leak into the page. Help is rendered as a 100-column terminal shows it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

#: The terminal width the page is rendered for (COLUMNS; click wraps help at 78 columns within it).
TERMINAL_WIDTH = 100
DEFAULT_PAGE = Path("docs/cli.md")
UPDATE_COMMAND = "python -m neuronas.docs_cli"

_HEADER = f"""# CLI reference

Every `neuronas` command with its `--help`, as a {TERMINAL_WIDTH}-column terminal shows it. This page is
generated: do not edit it by hand; run `{UPDATE_COMMAND}` from the repository root after changing a
command (`tests/test_docs_cli.py` fails while it is out of date). It lists the commands of the
built-in plugins; installed plugins may add more, which `neuronas --help` lists.
Errors print one line and exit with code 2 (bad usage) or 3 (no candidate meets the budgets); see
the [user guide](user-guide.md#exit-codes).
"""


def _walk(
    command: click.Command, name: str, parent: click.Context | None
) -> Iterator[tuple[str, str]]:
    """(full command name, help text) for ``command`` and, for a group, every subcommand."""
    context = click.Context(command, info_name=name, parent=parent, **command.context_settings)
    yield context.command_path, command.get_help(context)
    if isinstance(command, click.Group):
        for sub_name in command.list_commands(context):
            sub = command.get_command(context, sub_name)
            if sub is not None and not sub.hidden:
                yield from _walk(sub, sub_name, context)


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


def _anchor(path: str) -> str:
    return path.replace(" ", "-")


def render() -> str:
    """The page's text, from a CLI with only the built-in plugins loaded."""
    from neuronas.cli import build_cli
    from neuronas.plugin import manager

    with _environment(NEURONAS_LOAD_PLUGINS="", COLUMNS=str(TERMINAL_WIDTH)):
        manager.reset()
        try:
            sections = list(_walk(build_cli(), "neuronas", None))
        finally:
            manager.reset()
    lines = [_HEADER, "## Commands", ""]
    lines += [f"- [`{path}`](#{_anchor(path)})" for path, _help in sections]
    for path, text in sections:
        lines += [
            "",
            f'<a id="{_anchor(path)}"></a>',
            "",
            f"## `{path}`",
            "",
            "```text",
            text,
            "```",
        ]
    return "\n".join(lines) + "\n"


@click.command()
@click.argument(
    "page", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_PAGE, required=False
)
@click.option("--check", is_flag=True, help="Only check that PAGE is up to date (exit 1 if not).")
def main(page: Path, check: bool) -> None:
    """Write the CLI reference to PAGE [default: docs/cli.md]."""
    text = render()
    if check:
        current = page.read_text() if page.is_file() else None
        if current != text:
            click.echo(f"{page} is out of date; run `{UPDATE_COMMAND}` to update it", err=True)
            sys.exit(1)
        click.echo(f"{page} is up to date")
        return
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(text)
    click.echo(f"wrote {page}")


if __name__ == "__main__":
    main()
