"""The plugin kernel: loading policy, registration rules, lookups and the kernel's CLI commands."""

import importlib.metadata
import json
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

import neuronas
from neuronas.cli import build_cli
from neuronas.errors import AmbiguousComponentError, PluginError, UnknownComponentError
from neuronas.plugin import hookimpl, manager


class FakeHardware:
    description = "A fake cost model for tests.\nSecond line is not shown."

    def __init__(self, name="fakehw"):
        self.name = name

    def make_config(self, overrides=None):
        return dict(overrides or {})

    def estimate(self, layers, config):
        raise NotImplementedError


def hardware_plugin(*names, module_name="fake_plugin"):
    module = types.ModuleType(module_name)

    @hookimpl
    def neuronas_register_hardware(register):
        for name in names:
            register(FakeHardware(name))

    module.neuronas_register_hardware = neuronas_register_hardware
    return module


def invoke(*args):
    manager.reset()
    result = CliRunner().invoke(build_cli(), list(args), catch_exceptions=False)
    return result


def test_builtins_are_listed_by_plugins_json():
    described = json.loads(invoke("plugins", "--json").output)
    builtin = [p for p in described["plugins"] if p["source"] == "builtin"]
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    declared = pyproject["project"]["entry-points"]["neuronas"]
    assert [p["name"] for p in builtin] == sorted(declared)
    assert all(module == f"neuronas.builtins.{name}" for name, module in declared.items())
    for plugin in builtin:
        assert plugin["version"] == neuronas.__version__
        assert plugin["hooks"], plugin


def test_plugin_registered_from_python_shows_its_components():
    neuronas.register_plugin(hardware_plugin("fakehw"), name="myplugin")
    assert neuronas.get_component("hardware", "fakehw").name == "fakehw"
    described = manager.get_host().describe()
    mine = next(p for p in described["plugins"] if p["name"] == "myplugin")
    assert mine["source"] == "python"
    assert mine["components"] == {"hardware": ["fakehw"]}
    assert mine["hooks"] == ["neuronas_register_hardware"]


def test_misspelled_hook_is_an_error_naming_the_plugin():
    module = types.ModuleType("typo")

    @hookimpl
    def neuronas_register_hardwares(register):
        pass

    module.neuronas_register_hardwares = neuronas_register_hardwares
    with pytest.raises(
        PluginError, match=r"plugin 'typo'.*neuronas_register_hardwares.*did you mean"
    ):
        neuronas.register_plugin(module, name="typo")
    assert "typo" not in manager.get_host().infos


def test_name_clash_names_both_plugins_and_qualified_lookup_resolves_it():
    neuronas.register_plugin(hardware_plugin("same"), name="first")
    neuronas.register_plugin(hardware_plugin("same"), name="second")
    with pytest.raises(AmbiguousComponentError, match="'first' and 'second'") as caught:
        neuronas.get_component("hardware", "same")
    assert "first:same" in str(caught.value)
    assert neuronas.get_component("hardware", "second:same").name == "same"
    assert manager.get_host().registry.clashes() == [("hardware", "same", ["first", "second"])]


def test_unknown_name_lists_valid_names_and_suggests_the_closest():
    neuronas.register_plugin(hardware_plugin("zz-photonic", "other"), name="p")
    with pytest.raises(UnknownComponentError) as caught:
        neuronas.get_component("hardware", "zz-photonik")
    message = str(caught.value)
    assert "valid names:" in message and "other" in message
    assert "Did you mean 'zz-photonic'?" in message


def test_component_without_contract_members_is_refused():
    module = types.ModuleType("bad")

    @hookimpl
    def neuronas_register_hardware(register):
        register(types.SimpleNamespace(name="half", description="no methods"))

    module.neuronas_register_hardware = neuronas_register_hardware
    with pytest.raises(PluginError, match=r"lacks.*estimate"):
        neuronas.register_plugin(module, name="bad")


def test_block_plugin_from_python():
    neuronas.register_plugin(hardware_plugin("x"), name="blockme")
    neuronas.block_plugin("blockme")
    with pytest.raises(PluginError, match="blocked"):
        neuronas.register_plugin(hardware_plugin("x"), name="blockme")


class FakeDistribution:
    def __init__(self):
        self.metadata = {"Name": "neuronas-broken"}
        self.version = "9.9"


class FakeEntryPoint:
    def __init__(self, name, loader):
        self.name = name
        self.dist = FakeDistribution()
        self._loader = loader

    def load(self):
        return self._loader()


def broken_import():
    raise ImportError("no module named 'missing_dependency'")


@pytest.fixture
def entry_points(monkeypatch):
    installed = []
    real = importlib.metadata.entry_points

    def fake(group=None, **kwargs):
        if group == manager.ENTRY_POINT_GROUP:  # the built-ins' own, then the fakes
            return [*real(group=group, **kwargs), *installed]
        return real(group=group, **kwargs)

    monkeypatch.setattr(importlib.metadata, "entry_points", fake)
    return installed


def test_failing_entry_point_is_reported_and_cli_still_works(entry_points):
    entry_points.append(FakeEntryPoint("broken", broken_import))
    entry_points.append(FakeEntryPoint("good", lambda: hardware_plugin("goodhw")))
    manager.reset()
    with pytest.warns(manager.PluginLoadWarning, match="'broken' \\(neuronas-broken 9.9\\)"):
        result = CliRunner().invoke(build_cli(), ["plugins", "--json"], catch_exceptions=False)
    assert result.exit_code == 0
    described = json.loads(result.output)
    assert described["failed"] == [
        {
            "name": "broken",
            "distribution": "neuronas-broken",
            "version": "9.9",
            "error": "ImportError: no module named 'missing_dependency'",
        }
    ]
    good = next(p for p in described["plugins"] if p["name"] == "good")
    assert good["source"] == "entrypoint" and good["components"] == {"hardware": ["goodhw"]}


def test_entry_point_whose_register_hook_raises_is_recorded(entry_points):
    module = types.ModuleType("raises")

    @hookimpl
    def neuronas_register_hardware(register):
        raise RuntimeError("constants file missing")

    module.neuronas_register_hardware = neuronas_register_hardware
    entry_points.append(FakeEntryPoint("raises", lambda: module))
    manager.reset()
    with pytest.warns(manager.PluginLoadWarning):
        host = manager.get_host()
        assert host.registry.names("hardware") == sorted(
            e.name for e in host.registry.entries("hardware")
        )
    assert [f.error for f in host.failures] == ["RuntimeError: constants file missing"]
    assert "raises" not in host.infos


def test_strict_mode_reraises(entry_points, monkeypatch):
    entry_points.append(FakeEntryPoint("broken", broken_import))
    monkeypatch.setenv("NEURONAS_STRICT_PLUGINS", "1")
    manager.reset()
    with pytest.raises(PluginError, match="missing_dependency") as caught:
        manager.get_host()
    assert isinstance(caught.value.__cause__, ImportError)


def test_load_plugins_env_limits_entry_points(entry_points, monkeypatch):
    entry_points.append(FakeEntryPoint("one", lambda: hardware_plugin("hw1", module_name="one")))
    entry_points.append(FakeEntryPoint("two", lambda: hardware_plugin("hw2", module_name="two")))
    monkeypatch.setenv("NEURONAS_LOAD_PLUGINS", "two")
    manager.reset()
    assert "one" not in manager.get_host().infos and "two" in manager.get_host().infos
    monkeypatch.setenv("NEURONAS_LOAD_PLUGINS", "")
    manager.reset()
    assert not [i for i in manager.get_host().infos.values() if i.source == "entrypoint"]


def test_disable_plugin_on_the_command_line(entry_points):
    entry_points.append(FakeEntryPoint("two", lambda: hardware_plugin("hw2", module_name="two")))
    from neuronas.cli import main

    with pytest.raises(SystemExit) as caught:
        sys_argv = ["--disable-plugin", "two", "plugins", "--json", "--all"]
        main(sys_argv)
    assert caught.value.code == 0
    host = manager.get_host()
    assert "two" not in host.infos
    assert [i.name for i in host.skipped] == ["two"]


def test_list_unknown_kind_is_a_usage_error(capsys):
    from neuronas.cli import main

    with pytest.raises(SystemExit) as caught:
        main(["list", "hardwar"])
    assert caught.value.code == 2
    assert "Did you mean 'hardware'?" in capsys.readouterr().err


def test_list_kind_shows_first_description_line():
    neuronas.register_plugin(hardware_plugin("fakehw"), name="p")
    rows = json.loads(CliRunner().invoke(build_cli(), ["list", "hardware", "--json"]).output)
    assert {"name": "fakehw", "plugin": "p", "description": "A fake cost model for tests."} in rows


def test_version():
    result = invoke("--version")
    assert result.output.strip() == f"neuronas, version {neuronas.__version__}"


def test_plugins_can_add_commands():
    import click

    module = types.ModuleType("cmds")

    @click.command("hello")
    def hello():
        click.echo("hello from a plugin")

    @hookimpl
    def neuronas_register_commands(cli):
        cli.add_command(hello)

    module.neuronas_register_commands = neuronas_register_commands
    neuronas.register_plugin(module, name="cmds")
    result = CliRunner().invoke(build_cli(), ["hello"])
    assert result.output == "hello from a plugin\n"


def test_observer_hooks_reach_plugins():
    seen = []

    class Observer:
        @hookimpl
        def neuronas_phase_finished(self, phase, best):
            seen.append((phase, best))

    neuronas.register_plugin(Observer(), name="observer")
    manager.fire("neuronas_phase_finished", phase="1", best=None)
    assert seen == [("1", None)]


assert sys.version_info >= (3, 11)


@pytest.mark.parametrize("name", sorted(manager.ESSENTIAL))
def test_an_essential_plugin_cannot_be_disabled(name, capsys, monkeypatch):
    from neuronas.cli import main

    with pytest.raises(SystemExit) as caught:
        main(["--disable-plugin", name, "plugins"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert f"plugin {name!r} is essential and cannot be disabled" in err
    assert "Traceback" not in err
    with pytest.raises(neuronas.NeuronasError, match="essential"):
        neuronas.block_plugin(name)
    monkeypatch.setenv("NEURONAS_DISABLE_PLUGINS", name)
    with pytest.raises(neuronas.NeuronasError, match="essential"):
        manager.PluginHost(load_entry_points=False)


def test_registration_hooks_are_called_through_pluggy_one_plugin_at_a_time():
    neuronas.register_plugin(hardware_plugin("hw-a", module_name="a"), name="a")
    neuronas.register_plugin(hardware_plugin("hw-b", module_name="b"), name="b")
    host = manager.get_host()
    seen = []
    host.pm.add_hookcall_monitoring(
        lambda hook_name, impls, kwargs: seen.append((hook_name, [i.plugin_name for i in impls])),
        lambda *args: None,
    )
    host._registry = None
    assert host.registry.get("hardware", "hw-b").name == "hw-b"
    calls = [plugins for hook, plugins in seen if hook == "neuronas_register_hardware"]
    assert ["a"] in calls and ["b"] in calls
    assert all(len(plugins) == 1 for plugins in calls)


def test_trace_plugins_writes_hook_calls_to_stderr(monkeypatch, capfd):
    monkeypatch.setenv("NEURONAS_TRACE_PLUGINS", "1")
    manager.reset()
    _ = manager.get_host().registry
    err = capfd.readouterr().err
    assert "neuronas_register_hardware" in err and "finish" in err


def test_without_its_entry_points_neuronas_says_to_install_itself(monkeypatch):
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group=None, **kwargs: [])
    with pytest.raises(
        PluginError, match=r"built-in plugins are not registered.*pip install -e \."
    ):
        manager.PluginHost(load_entry_points=False)
