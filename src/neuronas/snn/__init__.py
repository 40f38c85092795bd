"""Spiking networks for cell search spaces: LIF neurons, edge operations, cells, the macro network,
layer shapes (without a forward pass) and memory / parameter counting.

Names are imported on first use: the op descriptions, search spaces and layer shapes need no torch,
so the CLI and the hardware models load fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BUILTIN_OPS": "opspec",
    "OpSpec": "opspec",
    "conv_op": "opspec",
    "ModuleFactory": "opspec",
    "CellSearchSpace": "space",
    "live_nodes": "space",
    "FeatureSizes": "shapes",
    "feature_sizes": "shapes",
    "network_layer_shapes": "shapes",
    "edge_key": "shapes",
    "back_edge_key": "shapes",
    "ParamSummary": "memory",
    "count_parameters": "memory",
    "memory_cost": "memory",
    "CellModule": "cell",
    "SequenceDropout": "network",
    "SpikingNetwork": "network",
    "build_network": "network",
    "free_dropout": "network",
    "seeded_reset": "network",
    "snasnet_init": "network",
    "LIF": "neuron",
    "LIF_DEFAULTS": "neuron",
    "lif_steps": "neuron",
    "make_lif": "neuron",
    "SpikingConv": "ops",
    "TimeBatchNorm2d": "ops",
    "per_step": "ops",
    "set_batchnorm_mode": "ops",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'neuronas.snn' has no attribute {name!r}")
    return getattr(importlib.import_module(f"neuronas.snn.{_EXPORTS[name]}"), name)
