"""Hardware cost models: ``spikesim`` (SpikeSim reproduced) and ``spikeflow`` (the NeuroNAS default).

Both are analytic: area (mm^2), latency (ms) and energy (uJ) of a list of ``LayerShape``s mapped on a
compute-in-memory chip, with per-layer and per-component breakdowns. See docs/cost-models.md.
"""

from neuronas.hardware.config import (
    HardwareConfigError,
    SpikeFlowConfig,
    SpikeSimConfig,
    describe_parameters,
    load_toml,
    parse_assignments,
    resolve_config,
)
from neuronas.hardware.report import cost_as_dict
from neuronas.hardware.spikeflow import SpikeFlowModel
from neuronas.hardware.spikesim import SpikeSimModel

__all__ = [
    "HardwareConfigError",
    "SpikeFlowConfig",
    "SpikeFlowModel",
    "SpikeSimConfig",
    "SpikeSimModel",
    "cost_as_dict",
    "describe_parameters",
    "load_toml",
    "parse_assignments",
    "resolve_config",
]
