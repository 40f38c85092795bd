import pytest

from neuronas.plugin import manager


@pytest.fixture(autouse=True)
def fresh_plugins(monkeypatch):
    """Each test starts from the installed plugins, unblocked, with no run-time registrations."""
    for variable in (
        "NEURONAS_LOAD_PLUGINS",
        "NEURONAS_DISABLE_PLUGINS",
        "NEURONAS_STRICT_PLUGINS",
    ):
        monkeypatch.delenv(variable, raising=False)
    manager.reset()
    yield
    manager.reset()
