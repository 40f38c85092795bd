"""The reference pages cannot go stale: every hookspec is documented with its exact signature."""

import inspect
from pathlib import Path

import pytest

from neuronas.plugin import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs"
HOOKS = [name for name in dir(hookspecs) if name.startswith("neuronas_")]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hookspec_is_documented_with_its_signature(hook):
    parameters = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert f"### `{hook}({parameters})`" in (DOCS / "hooks.md").read_text()


def test_hooks_page_lists_hooks_in_lifecycle_order():
    text = (DOCS / "hooks.md").read_text()
    source = inspect.getsource(hookspecs)
    in_source = sorted(HOOKS, key=lambda hook: source.index(f"def {hook}("))
    assert sorted(HOOKS, key=lambda hook: text.index(f"### `{hook}(")) == in_source
