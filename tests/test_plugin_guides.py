"""The plugin tutorial and the how-to pages are working code.

Each page shows the files of one plugin package whole (a fenced block under ``<!-- file: PATH -->``).
These tests write the package the page describes into an empty folder, the scaffold's files plus the
page's, run its own tests there, and hold the page to the public plugin API it lists.
"""

import ast
import importlib
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

import neuronas
from neuronas.scaffold import PluginNames, plugin_files
from neuronas.scaffold.components import COMPONENTS

DOCS = Path(__file__).resolve().parents[1] / "docs"
TUTORIAL = DOCS / "tutorial-hardware-plugin.md"
SOURCE = str(Path(neuronas.__file__).parents[1])  # this neuronas, not another one installed
FILE = re.compile(r"<!-- file: (\S+) -->\n(`{3,})\w*\n(.*?\n)\2\n", re.DOTALL)
PYTHON = re.compile(r"^(`{3,})python\n(.*?\n)\1$", re.DOTALL | re.MULTILINE)
API_LINE = re.compile(r"^- `(neuronas[\w.]*)`: (.*)$", re.MULTILINE)


class Page:
    """One page: the package it builds, and the files it keeps as ``neuronas new-plugin`` wrote."""

    def __init__(self, doc, kind, name, generated, whole=False):
        self.doc, self.kind, self.name = doc, kind, name
        self.names = PluginNames.of(kind, name)
        self.generated = {path.replace("MODULE", self.names.module) for path in generated}
        self.whole = whole  # every file of the package is on the page

    def __repr__(self):
        return self.doc

    def files(self) -> dict[str, str]:
        """The page's files, by their path in the package."""
        text = (DOCS / self.doc).read_text(encoding="utf-8")
        return {path: code for path, _, code in FILE.findall(text)}


PAGES = [
    Page(
        "tutorial-hardware-plugin.md",
        "hardware",
        "my-chip",
        [
            "pyproject.toml",
            "src/MODULE/__init__.py",
            "src/MODULE/plugin.py",
            "tests/test_plugin.py",
        ],
        whole=True,
    ),
    Page("howto-search-space.md", "space", "dilated-cells", ["src/MODULE/plugin.py"]),
    Page("howto-fitness-metric.md", "fitness", "class-entropy", ["src/MODULE/plugin.py"]),
]
IDS = [page.doc for page in PAGES]


def build_package(page, folder):
    """The scaffold's package with the page's files in place of the scaffold's."""
    files = {**plugin_files(page.kind, page.name), **page.files()}
    for path, text in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text, encoding="utf-8")


def fake_install(site, names):
    """What `pip install -e` leaves for importlib.metadata: a dist-info with the entry point."""
    dist = site / f"{names.module}-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {names.distribution}\nVersion: 0.1.0\n"
    )
    (dist / "entry_points.txt").write_text(f"[neuronas]\n{names.name} = {names.module}.plugin\n")


def installed(page, tmp_path) -> dict[str, str]:
    """Build the page's package in tmp_path/pkg, "install" it; the environment that sees it."""
    folder = tmp_path / "pkg"
    build_package(page, folder)
    fake_install(tmp_path / "site", page.names)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(folder / "src"), SOURCE]),
        "OMP_NUM_THREADS": "1",
        "COLUMNS": "80",  # the tables as the pages show them
    }
    for variable in ("NEURONAS_LOAD_PLUGINS", "NEURONAS_DISABLE_PLUGINS"):
        env.pop(variable, None)
    return env


def neuronas_command(args, cwd, env):
    command = [sys.executable, "-c", "from neuronas.cli import main; main()", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)


def console_commands(page) -> list[tuple[list[str], str]]:
    """Each ``$ neuronas ...`` command of the page's console blocks, with the output shown."""
    text = (DOCS / page.doc).read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"^```console\n(.*?)^```$", text, re.DOTALL | re.MULTILINE):
        lines = block.splitlines()
        index = 0
        while index < len(lines):
            if not lines[index].startswith("$ neuronas "):
                index += 1
                continue
            command = lines[index][2:]
            while command.endswith("\\"):
                index += 1
                command = command[:-1] + lines[index].strip()
            index += 1
            output = []
            while index < len(lines) and not lines[index].startswith("$ "):
                output.append(lines[index])
                index += 1
            found.append((shlex.split(command, comments=True)[1:], "\n".join(output)))
    return found


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_the_page_shows_files_of_its_package(page):
    files, scaffold = page.files(), plugin_files(page.kind, page.name)
    assert files and set(files) <= set(scaffold), (
        f"{page.doc}: {sorted(set(files) - set(scaffold))}"
    )
    assert page.generated <= set(files)
    if page.whole:
        assert set(files) == set(scaffold), f"{page.doc} leaves out {set(scaffold) - set(files)}"


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_the_files_it_keeps_as_generated_are_the_scaffolds(page):
    files, scaffold = page.files(), plugin_files(page.kind, page.name)
    for path in page.generated:
        assert files[path] == scaffold[path], f"{page.doc}: {path} is not what the scaffold writes"


@pytest.mark.parametrize(
    "page",
    [pytest.param(page, marks=() if page.whole else pytest.mark.slow) for page in PAGES],
    ids=IDS,
)
def test_the_pages_package_passes_its_own_tests(tmp_path, page):
    env = installed(page, tmp_path)
    folder = tmp_path / "pkg"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)]
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary) and "failed" not in summary and "error" not in summary


def test_the_tutorials_cost_command_prints_the_numbers_it_shows(tmp_path):
    page = PAGES[0]
    env = installed(page, tmp_path)
    text = TUTORIAL.read_text(encoding="utf-8")
    layers = re.search(r"^```json\n(.*?)^```$", text, re.DOTALL | re.MULTILINE).group(1)
    (tmp_path / "net.json").write_text(layers)
    ((args, shown),) = [c for c in console_commands(page) if "--json" in c[0] and "cost" in c[0]]
    done = neuronas_command(args, tmp_path, env)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    for key, value in re.findall(r'^  "(\w+)": ([\d.]+),$', shown, re.MULTILINE):
        assert printed[key] == json.loads(value), key
    assert printed["model"] == page.name
    # the caveat: a layer file written for digital-core, with its spike_rates, is refused
    (tmp_path / "digital-core-net.json").write_text(
        layers.replace('"spike_rate": 0.2', '"spike_rates": [0.25, 0.1, 0.05]')
    )
    ((args, shown),) = [c for c in console_commands(page) if "digital-core-net.json" in c[0]]
    done = neuronas_command(args, tmp_path, env)
    assert done.returncode == 2
    assert shown.removesuffix("...") in done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_the_pages_searches_run_as_shown(tmp_path, page):
    env = installed(page, tmp_path)
    runs = [(args, shown) for args, shown in console_commands(page) if args[:1] == ["run"]]
    runs = [(args, shown) for args, shown in runs if "candidates evaluated" in shown]
    assert runs
    for args, shown in runs:
        done = neuronas_command([*args, "--quiet"], tmp_path, env)
        assert done.returncode == 0, done.stdout + done.stderr
        summary = re.search(r"^\d+ candidates evaluated, \d+ scored", shown, re.MULTILINE)
        assert summary.group(0) in done.stdout
        for line in shown.splitlines():
            if line.startswith("│"):  # a row of the budgets table the page quotes
                assert line in done.stdout


@pytest.mark.slow
def test_pip_install_e_of_the_tutorials_package_then_it_is_listed_and_its_tests_pass(tmp_path):
    """The tutorial's section 8, in a fresh virtual environment (pip, no network needed)."""
    page = PAGES[0]
    build_package(page, tmp_path / "pkg")
    venv.create(tmp_path / "venv", system_site_packages=True)  # pip comes from the system
    python = str(tmp_path / "venv" / "bin" / "python")
    install = [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e"]
    done = subprocess.run([*install, str(tmp_path / "pkg")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    env = {**os.environ, "PYTHONPATH": SOURCE, "OMP_NUM_THREADS": "1"}
    for variable in ("NEURONAS_LOAD_PLUGINS", "NEURONAS_DISABLE_PLUGINS"):
        env.pop(variable, None)
    cli = [python, "-c", "from neuronas.cli import main; main()"]
    listing = subprocess.run([*cli, "plugins", "--json"], env=env, capture_output=True, text=True)
    assert listing.returncode == 0, listing.stderr
    (plugin,) = [p for p in json.loads(listing.stdout)["plugins"] if p["name"] == page.name]
    assert (plugin["source"], plugin["components"]) == ("entrypoint", {"hardware": [page.name]})
    tests = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "pkg")]
    done = subprocess.run(tests, cwd=tmp_path / "pkg", env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_the_pages_package_is_lint_clean(tmp_path, page):
    build_package(page, tmp_path)
    for command in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--no-cache", "."],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr


# --- the public plugin API -----------------------------------------------------------------------


def public_api() -> dict[str, set[str]]:
    """The tutorial's list: module -> the names of it that plugins may use."""
    section = TUTORIAL.read_text(encoding="utf-8").split("## The public plugin API\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    return {
        module: set(re.findall(r"`(\w+)`", names)) for module, names in API_LINE.findall(section)
    }


def neuronas_names(code: str) -> set[str]:
    """Every ``neuronas`` module and name the code imports or uses, dotted."""
    tree = ast.parse(textwrap.dedent(code))
    used = set()
    inner = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            used.update(
                alias.name for alias in node.names if alias.name.split(".")[0] == "neuronas"
            )
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "neuronas":
            used.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Attribute):
            inner.add(id(node.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and id(node) not in inner:
            parts, value = [], node
            while isinstance(value, ast.Attribute):
                parts.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id == "neuronas":
                used.add(".".join(["neuronas", *reversed(parts)]))
    return used


def page_code(page_doc: str) -> list[str]:
    return [code for _, code in PYTHON.findall((DOCS / page_doc).read_text(encoding="utf-8"))]


def test_the_api_list_names_modules_and_names_that_exist():
    api = public_api()
    assert {"neuronas", "neuronas.contracts", "neuronas.testing"} <= set(api)
    for module, names in api.items():
        imported = importlib.import_module(module)
        assert names, module
        missing = sorted(name for name in names if not hasattr(imported, name))
        assert not missing, f"the public plugin API lists {module}.{missing}, which do not exist"


@pytest.mark.parametrize("doc", IDS)
def test_every_neuronas_name_the_page_uses_is_in_the_public_api(doc):
    api = public_api()
    listed = {f"{module}.{name}" for module, names in api.items() for name in names}
    blocks = page_code(doc)
    assert blocks
    used = set().union(*(neuronas_names(code) for code in blocks))
    assert used
    outside = sorted(name for name in used if name not in listed and name not in api)
    assert not outside, f"{doc} uses {outside}, which the public plugin API does not list"


@pytest.mark.parametrize("kind", list(COMPONENTS))
def test_the_scaffolds_code_uses_only_the_public_api(kind):
    api = public_api()
    listed = {f"{module}.{name}" for module, names in api.items() for name in names}
    files = plugin_files(kind, "x")
    used = set().union(
        *(neuronas_names(text) for path, text in files.items() if path.endswith(".py"))
    )
    assert sorted(name for name in used if name not in listed and name not in api) == []


def test_the_api_checker_sees_what_a_plugin_uses():
    code = (
        "import neuronas.testing\nfrom neuronas.cli import build_cli\n"
        "neuronas.plugin.reset()\nneuronas.testing.invoke('plugins').output\n"
    )
    assert neuronas_names(code) == {
        "neuronas.testing",
        "neuronas.cli.build_cli",
        "neuronas.plugin.reset",
        "neuronas.testing.invoke",
    }


def test_the_docs_index_links_the_tutorial_and_the_how_to_pages():
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for doc in IDS:
        assert f"]({doc})" in index


def test_its_quotes_of_the_digital_core_package_are_verbatim():
    """The quotes are checked by that package's own tests too; here they run with neuronas'."""
    package = DOCS.parent / "plugins" / "neuronas-digital-core"
    quote = re.compile(
        r"<!-- quote from neuronas-digital-core: (\S+) -->\n```\w*\n(.*?)```", re.DOTALL
    )
    quotes = quote.findall(TUTORIAL.read_text(encoding="utf-8"))
    assert quotes
    for path, code in quotes:
        assert code in (package / path).read_text(encoding="utf-8"), f"the quote of {path} is stale"


def test_the_scaffold_prints_what_the_tutorial_shows(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from neuronas.cli import build_cli

    ((args, shown),) = [c for c in console_commands(PAGES[0]) if c[0][:1] == ["new-plugin"]]
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(build_cli(), args)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == shown.strip()
    assert sorted(plugin_files(PAGES[0].kind, PAGES[0].name)) == sorted(
        str(path.relative_to(tmp_path / PAGES[0].names.distribution))
        for path in (tmp_path / PAGES[0].names.distribution).rglob("*")
        if path.is_file()
    )


def test_the_tutorials_hardware_cost_table_says_which_fields_are_required():
    import attrs

    from neuronas.contracts import HardwareCost

    rows = re.findall(r"^\| `(\w+)` \| (yes|no)\b", TUTORIAL.read_text(encoding="utf-8"), re.M)
    fields = attrs.fields(HardwareCost)
    assert [name for name, _ in rows] == [field.name for field in fields]
    required = [field.name for field in fields if field.default is attrs.NOTHING]
    assert [name for name, answer in rows if answer == "yes"] == required
    assert f"**{len(required)} fields are required**" in TUTORIAL.read_text(encoding="utf-8")
