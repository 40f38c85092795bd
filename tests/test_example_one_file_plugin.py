"""examples/one_file_plugin.py registers a hardware model from a script and estimates with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "examples" / "one_file_plugin.py"


def run_example(*args: str) -> str:
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_registers_looks_up_and_estimates():
    lines = run_example().splitlines()
    assert lines[0].startswith("registered plugin 'one-file-plugin'; hardware model 'mac-count'")
    # conv 3->16 k3 at 32x32: 432 weights x 1024 pixels x 5 steps = 2211840 MACs;
    # linear 16384->10: 163840 weights x 5 steps = 819200 MACs; 1 pJ each.
    # area 164272 weights x 2 um^2; latency (8640 + 3200) cycles at 100 MHz.
    assert lines[1:] == [
        "area_mm2   = 0.328544",
        "latency_ms = 0.1184",
        "energy_uj  = 3.03104",
        "  layer 0 conv     2211840 MACs 2.21184 uJ",
        "  layer 1 linear    819200 MACs 0.8192 uJ",
    ]


def test_options_reach_the_config():
    # 2 timesteps: 884736 + 327680 MACs; 3 pJ each.
    assert "energy_uj  = 3.63725" in run_example("--timesteps", "2", "--pj-per-mac", "3")
