"""Spiking networks for cell search spaces: LIF neurons, edge operations, cells, the macro network,
layer shapes (without a forward pass) and memory / parameter counting."""

from neuronas.snn.cell import CellModule, back_edge_key, edge_key
from neuronas.snn.memory import ParamSummary, count_parameters, memory_cost
from neuronas.snn.network import (
    FeatureSizes,
    SequenceDropout,
    SpikingNetwork,
    build_network,
    feature_sizes,
    free_dropout,
    network_layer_shapes,
    seeded_reset,
    snasnet_init,
)
from neuronas.snn.neuron import LIF_DEFAULTS, make_lif
from neuronas.snn.ops import (
    BUILTIN_OPS,
    OpSpec,
    SpikingConv,
    TimeBatchNorm2d,
    conv_op,
    per_step,
    set_batchnorm_mode,
)
from neuronas.snn.space import CellSearchSpace, live_nodes

__all__ = [
    "BUILTIN_OPS",
    "LIF_DEFAULTS",
    "CellModule",
    "CellSearchSpace",
    "FeatureSizes",
    "OpSpec",
    "ParamSummary",
    "SequenceDropout",
    "SpikingConv",
    "SpikingNetwork",
    "TimeBatchNorm2d",
    "back_edge_key",
    "build_network",
    "conv_op",
    "count_parameters",
    "edge_key",
    "feature_sizes",
    "free_dropout",
    "live_nodes",
    "make_lif",
    "memory_cost",
    "network_layer_shapes",
    "per_step",
    "seeded_reset",
    "set_batchnorm_mode",
    "snasnet_init",
]
