"""The CLI reference cannot go stale: docs/cli.md is exactly what the commands' --help says."""

import difflib
import os
import subprocess
import sys
from pathlib import Path

from neuronas import docs_cli

PAGE = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def test_cli_reference_is_up_to_date():
    expected = docs_cli.render()
    current = PAGE.read_text() if PAGE.is_file() else ""
    if current != expected:
        diff = "".join(
            list(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    expected.splitlines(keepends=True),
                    "docs/cli.md",
                    "--help now",
                )
            )[:40]
        )
        raise AssertionError(
            f"docs/cli.md is out of date; run `{docs_cli.UPDATE_COMMAND}` to update it.\n{diff}"
        )


def test_page_covers_every_command_with_its_real_help():
    text = PAGE.read_text()
    for command in (
        "run",
        "cost",
        "show",
        "list",
        "plugins",
        "report",
        "data",
        "train",
        "evaluate",
        "export",
        "new-plugin",
        "sweep",
    ):
        assert f"## `neuronas {command}`" in text
    real = subprocess.run(
        [sys.executable, "-c", "from neuronas.cli import main; main()", "report", "--help"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": str(docs_cli.TERMINAL_WIDTH), "NEURONAS_LOAD_PLUGINS": ""},
    )
    assert real.stdout and real.stdout.rstrip("\n") in text


def test_check_mode_names_the_command_that_updates(tmp_path):
    stale = tmp_path / "cli.md"
    stale.write_text("# CLI reference\n")
    result = subprocess.run(
        [sys.executable, "-m", "neuronas.docs_cli", "--check", str(stale)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert f"run `{docs_cli.UPDATE_COMMAND}` to update it" in result.stderr
