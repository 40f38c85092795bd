"""`invoke`: the ``neuronas`` command run inside a test, with the plugins loaded afresh; and
`reload_plugins`, for a test that changed how they load."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from click.testing import Result


def invoke(*args: str) -> Result:
    """``neuronas ARGS`` in this process, plugins loaded afresh as the command loads them (your
    installed entry points included). Returns click's ``Result``: ``exit_code`` (see
    docs/user-guide.md, Exit codes), ``output``, and ``exception`` for a bug."""
    from click.testing import CliRunner

    from neuronas.cli import build_cli

    reload_plugins()
    return CliRunner().invoke(build_cli(), list(args))


def reload_plugins() -> None:
    """Forget the plugins this process loaded (and those registered from Python): the next lookup
    loads them afresh, reading NEURONAS_LOAD_PLUGINS and the other variables again."""
    from neuronas.plugin import manager

    manager.reset()
