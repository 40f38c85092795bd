"""Every code block in README.md and docs/ marked runnable runs as written (or with the small
settings its marker names) and must succeed.

A block is runnable when the line before its fence is ``<!-- doc-test -->``, or
``<!-- doc-test: replace "OLD" "NEW"; replace "OLD" "NEW" -->`` for a slow block's small-settings
variant (the doc then says how long the real one takes). A page's blocks run in order in one fresh
folder, so a later block reads what an earlier one wrote; ``python`` blocks run in a fresh
interpreter, ``bash`` and ``console`` blocks (``$ `` prompts stripped) in bash with ``-e``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKED = re.compile(
    r"^<!-- doc-test(?:: (?P<options>.*?))? -->\n```(?P<language>\w+)\n(?P<code>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)
LANGUAGES = ("python", "bash", "console")


@attrs.frozen
class Snippet:
    page: Path
    line: int
    language: str
    code: str

    @property
    def where(self) -> str:
        return f"{os.path.relpath(self.page, ROOT)}:{self.line}"


def snippets(page: Path) -> list[Snippet]:
    """The runnable blocks of ``page``, with their markers' replacements made."""
    text = page.read_text()
    found = []
    for match in MARKED.finditer(text):
        line = text[: match.start()].count("\n") + 2
        code = match["code"]
        for option in filter(None, (part.strip() for part in (match["options"] or "").split(";"))):
            verb, *arguments = shlex.split(option)
            if verb != "replace" or len(arguments) != 2:
                raise ValueError(f"{page.name}:{line}: unknown doc-test option {option!r}")
            old, new = arguments
            if old not in code:
                raise ValueError(f"{page.name}:{line}: {old!r} is not in the block")
            code = code.replace(old, new)
        if match["language"] not in LANGUAGES:
            raise ValueError(f"{page.name}:{line}: cannot run a {match['language']} block")
        if match["language"] == "console":
            code = "\n".join(row.removeprefix("$ ") for row in code.splitlines())
        found.append(Snippet(page, line, match["language"], code))
    return found


def run(snippet: Snippet, folder: Path) -> None:
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "MPLBACKEND": "Agg",
    }
    if snippet.language == "python":
        command = [sys.executable, "-c", snippet.code]
    else:
        command = ["bash", "-euo", "pipefail", "-c", snippet.code]
    done = subprocess.run(command, cwd=folder, env=environment, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(
            f"{snippet.where} exited {done.returncode}:\n{snippet.code}\n--- output ---\n"
            f"{(done.stdout + done.stderr)[-3000:]}"
        )


RUNNABLE = [page for page in PAGES if snippets(page)]


@pytest.mark.slow
@pytest.mark.parametrize("page", RUNNABLE, ids=[page.name for page in RUNNABLE])
def test_every_marked_block_of_the_page_runs(page, tmp_path):
    for snippet in snippets(page):
        run(snippet, tmp_path)


def test_the_pages_that_promise_runnable_code_have_marked_blocks():
    names = {page.name for page in RUNNABLE}
    assert {"README.md", "cost-models.md", "training.md", "user-guide.md", "sweep.md"} <= names


def test_a_broken_block_fails_naming_its_line(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        'Intro.\n\n<!-- doc-test: replace "1" "2" -->\n```python\nassert 1 == 3, \'broken\'\n```\n'
    )
    (snippet,) = snippets(page)
    assert snippet.code.strip() == "assert 2 == 3, 'broken'" and snippet.line == 4
    with pytest.raises(pytest.fail.Exception, match=r"page.md:4 exited 1(.|\n)*broken"):
        run(attrs.evolve(snippet, page=page), tmp_path)


def test_a_replacement_that_no_longer_matches_is_an_error(tmp_path):
    page = tmp_path / "page.md"
    page.write_text('<!-- doc-test: replace "--epochs 20" "--epochs 1" -->\n```bash\ntrue\n```\n')
    with pytest.raises(ValueError, match="'--epochs 20' is not in the block"):
        snippets(page)
