"""Where commands print: rich consoles for humans (stdout, stderr) and plain JSON for scripts.

Its own module, so that plugins and worker processes print without importing the CLI.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def print_json(data: Any) -> None:
    """Machine-readable output on stdout, nothing else."""
    print(json.dumps(data, indent=2, default=str), flush=True)
