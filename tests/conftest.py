import pytest
import torch

from neuronas.plugin import manager

# Tests run tiny networks, where a second intra-op thread costs more than it gains (and on a busy
# 2-core machine oversubscription makes tiny ops 10-30x slower).
torch.set_num_threads(1)


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
