"""The code that docs/tutorial-hardware-plugin.md quotes from this package is still in it.

(The tutorial's own package, shown whole under ``<!-- file: PATH -->``, is tested by neuronas'
tests/test_tutorial.py; the quotes of this package are marked ``<!-- quote from
neuronas-digital-core: PATH -->``.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1]
TUTORIAL = PACKAGE.parents[1] / "docs" / "tutorial-hardware-plugin.md"
QUOTE = re.compile(r"<!-- quote from neuronas-digital-core: (\S+) -->\n```\w*\n(.*?)```", re.DOTALL)


def quotes() -> list[tuple[str, str]]:
    if not TUTORIAL.exists():
        return []
    return QUOTE.findall(TUTORIAL.read_text())


@pytest.mark.skipif(not TUTORIAL.exists(), reason="outside the neuronas repository: no tutorial")
def test_the_tutorial_quotes_files_of_this_package():
    assert len(quotes()) >= 2


@pytest.mark.parametrize(("path", "code"), quotes(), ids=[path for path, _ in quotes()])
def test_each_quote_is_verbatim(path, code):
    assert code in (PACKAGE / path).read_text(), f"the tutorial's quote of {path} is out of date"
