"""The files every scaffolded plugin package has, whatever its kind: ``$``-templates."""

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "$distribution"
version = "0.1.0"
description = "A neuronas $label: $name"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["neuronas>=0.1", "attrs>=23.1"]

[project.optional-dependencies]
test = ["pytest>=8"]

# The plugin's name (what `neuronas plugins` lists) = the module that holds its hook implementations.
[project.entry-points.neuronas]
$name = "$module.plugin"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = "-ra --strict-markers"

[tool.ruff]
line-length = 100
target-version = "py311"
src = ["src", "tests"]

[tool.ruff.lint]
select = ["E", "F", "W", "I", "B", "UP", "SIM", "RUF"]
"""

INIT = '''\
"""A neuronas $label: ``$name``."""

from $module.$component_module import $symbol

__version__ = "0.1.0"

__all__ = ["$symbol", "__version__"]
'''

PLUGIN = '''\
"""The module that pyproject.toml's ``[project.entry-points.neuronas]`` names: the hook."""

import neuronas

from $module.$component_module import $symbol


@neuronas.hookimpl
def $hook(register):
    register($instance)
'''

TEST_PLUGIN = '''\
"""The installed package is found through its entry point and used by the neuronas command."""

import json

import neuronas.testing

NAME = "$name"


def test_the_entry_point_registers_the_${label_snake}():
    neuronas.testing.check_plugin(NAME, {"$kind": [NAME]})


def test_neuronas_lists_it():
    result = neuronas.testing.invoke("list", "$kind", "--json")
    assert result.exit_code == 0, result.output
    assert NAME in [entry["name"] for entry in json.loads(result.output)]
'''

README = """\
# $distribution

A [neuronas](https://pypi.org/project/neuronas/) $label, `$name`, made with
`neuronas new-plugin $kind $name`. $summary

## Install and test

```console
$$ pip install -e .
$$ python -m pytest
$$ neuronas plugins          # lists '$name', source "entrypoint"
$$ neuronas list $kind
```

## Use it

```console
$usage
```

## Files

| file | what it holds |
|---|---|
| `pyproject.toml` | the package; `[project.entry-points.neuronas]` names the module with the hook |
| `src/$module/$component_module.py` | the $label |
| `src/$module/plugin.py` | the hook that registers it (`$hook`) |
| `tests/test_$component_module.py` | the $label's tests: `neuronas.testing.$check` and its own numbers |
| `tests/test_plugin.py` | neuronas finds the installed package and lists it |

Use only neuronas' public plugin API: `neuronas.hookimpl`, `neuronas.contracts`, `neuronas.arch`,
`neuronas.errors`, `neuronas.testing` (and `neuronas.snn.CellSearchSpace` for a cell space).
"""
