"""`neuronas new-plugin`: the package it writes installs, passes its own tests and is listed."""

import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from click.testing import CliRunner

import neuronas
from neuronas.cli import build_cli
from neuronas.errors import UsageError
from neuronas.scaffold import PluginNames, plugin_files
from neuronas.scaffold.components import COMPONENTS

SOURCE = str(Path(neuronas.__file__).parents[1])  # this neuronas, not another one installed
KINDS = list(COMPONENTS)


def new_plugin(tmp_path, kind, name):
    folder = tmp_path / "pkg"
    result = CliRunner().invoke(build_cli(), ["new-plugin", kind, name, "--dir", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


def fake_install(site, name):
    """What `pip install -e` leaves for importlib.metadata: a dist-info with the entry point."""
    names = PluginNames.of("hardware", name)
    dist = site / f"{names.module}-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {names.distribution}\nVersion: 0.1.0\n"
    )
    (dist / "entry_points.txt").write_text(f"[neuronas]\n{name} = {names.module}.plugin\n")


def run_its_tests(folder, site, python=sys.executable):
    paths = [str(site), str(folder / "src"), SOURCE]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    for variable in ("NEURONAS_LOAD_PLUGINS", "NEURONAS_DISABLE_PLUGINS"):
        env.pop(variable, None)
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)]
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)


def test_it_writes_every_file_of_the_package(tmp_path):
    folder = new_plugin(tmp_path, "hardware", "my-chip")
    written = {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}
    assert written == set(plugin_files("hardware", "my-chip"))
    pyproject = (folder / "pyproject.toml").read_text()
    assert "[build-system]" in pyproject
    assert '[project.entry-points.neuronas]\nmy-chip = "neuronas_my_chip.plugin"' in pyproject
    assert (
        "neuronas.testing.check_hardware_model(MODEL)"
        in (folder / "tests" / "test_model.py").read_text()
    )


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(
            kind, marks=() if kind in ("hardware", "space", "fitness") else pytest.mark.slow
        )
        for kind in KINDS
    ],
)
def test_the_package_passes_its_own_tests_once_installed(tmp_path, kind):
    name = f"my-{kind}"
    folder = new_plugin(tmp_path, kind, name)
    fake_install(tmp_path / "site", name)
    done = run_its_tests(folder, tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout and "failed" not in done.stdout


def test_without_installing_its_plugin_test_says_how(tmp_path):
    folder = new_plugin(tmp_path, "hardware", "not-installed")
    done = run_its_tests(folder, tmp_path / "no-site")
    assert done.returncode == 1
    assert "breaks rule 'installed'" in done.stdout and "pip install -e" in done.stdout


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ["x", "twenty-four-characters-x"])
def test_the_package_is_lint_clean(tmp_path, kind, name):
    folder = new_plugin(tmp_path, kind, name)
    for command in (["check"], ["format", "--check"]):
        done = subprocess.run(
            ["ruff", *command, "--no-cache", "."], cwd=folder, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["hardware", "My_Chip"], "plugin name 'My_Chip': use lowercase letters"),
        (["hardware", "x" * 25], "at most 24 characters"),
        (["hardwre", "my-chip"], "unknown component kind 'hardwre'.*Did you mean 'hardware'"),
        (["kinds", "my-chip"], "unknown component kind 'kinds'"),
        (["exporter", "my-format"], "no template for kind 'exporter'; it writes one of: hardware"),
        (["hardware", "spikeflow"], "a hardware model named 'spikeflow' is already registered"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(tmp_path, args, message):
    result = CliRunner().invoke(build_cli(), ["new-plugin", *args, "--dir", str(tmp_path / "p")])
    assert result.exit_code == UsageError.exit_code
    assert re.search(message, result.output), result.output
    assert "Traceback" not in result.output and not (tmp_path / "p").exists()


def test_it_never_writes_into_a_folder_that_holds_something(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mine.txt").write_text("keep me")
    result = CliRunner().invoke(
        build_cli(), ["new-plugin", "space", "s", "--dir", str(tmp_path / "pkg")]
    )
    assert result.exit_code == UsageError.exit_code
    assert "already exists and is not an empty folder" in result.output
    assert [p.name for p in (tmp_path / "pkg").iterdir()] == ["mine.txt"]


def test_a_name_is_taken_without_a_neuronas_prefix():
    assert PluginNames.of("metric", "neuronas-spread") == PluginNames("fitness", "spread")
    assert PluginNames.of("fitness", "spread").distribution == "neuronas-spread"


@pytest.mark.slow
def test_pip_install_e_then_it_is_listed_and_its_tests_pass(tmp_path):
    """The whole path an author takes, in a fresh virtual environment (no network needed)."""
    folder = new_plugin(tmp_path, "hardware", "my-chip")
    venv.create(tmp_path / "venv", system_site_packages=True)  # pip comes from the system
    python = str(tmp_path / "venv" / "bin" / "python")
    install = [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    done = subprocess.run([*install, "-e", str(folder)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    env = {**os.environ, "PYTHONPATH": SOURCE}
    listing = subprocess.run(
        [python, "-c", "from neuronas.cli import main; main()", "plugins", "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert listing.returncode == 0, listing.stderr
    (plugin,) = [p for p in json.loads(listing.stdout)["plugins"] if p["name"] == "my-chip"]
    assert plugin["source"] == "entrypoint"
    assert plugin["distribution"] == "neuronas-my-chip"
    assert plugin["components"] == {"hardware": ["my-chip"]}
    done = run_its_tests(folder, tmp_path / "no-fake-site", python=python)
    assert done.returncode == 0, done.stdout + done.stderr
