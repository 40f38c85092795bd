"""Where commands print: rich consoles for humans (stdout, stderr) and plain JSON for scripts.

Its own module, so that plugins and worker processes print without importing the CLI.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from rich.console import Console

from neuronas.errors import interrupted_exit_code

console = Console()
err_console = Console(stderr=True)


def print_json(data: Any) -> None:
    """Machine-readable output on stdout, nothing else."""
    print(json.dumps(data, indent=2, default=str), flush=True)


@contextlib.contextmanager
def exit_on_interrupt(resume_command: str) -> Iterator[None]:
    """Ctrl-C or SIGTERM during a long command: one line that says how to continue, and exit code
    130 or 143 (what was journaled or checkpointed is kept by the command itself)."""
    try:
        yield
    except KeyboardInterrupt as interrupt:
        err_console.print(
            f"interrupted; continue with: {resume_command}", highlight=False, soft_wrap=True
        )
        raise SystemExit(interrupted_exit_code(interrupt)) from None
