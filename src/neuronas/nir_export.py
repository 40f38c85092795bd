"""The built-in ``nir`` exporter: a network's inference graph (`neuronas.snn.inference`) as a NIR
graph (Neuromorphic Intermediate Representation), written as HDF5.

SpikingJelly's NIR exchange (``spikingjelly.activation_based.nir_exchange.export_to_nir``) converts
every layer of the inference graph and takes the edges from tracing it; neuronas supplies what it
does not cover: the cell DAG as a graph of sums, BatchNorm folded for inference, the classifier's
population average, the input encoding, and the metadata.

Time: NIR states the LIF in continuous time, tau dv/dt = (v_leak - v) + r I. One neuronas timestep
is `DT` = 1e-4 s (SpikingJelly's and snnTorch's dt), and SpikingJelly writes the LIF (tau = 4/3
steps, hard reset to 0) as tau = 4/3 DT, r = 1, v_leak = v_reset = 0, v_threshold = 1, whose
forward-Euler step over DT is neuronas's update h = v + (x - v) / tau.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from neuronas.contracts import ExportRequest
from neuronas.errors import UsageError
from neuronas.folders import writing

if TYPE_CHECKING:  # torch is imported when a graph is built, so listing exporters stays fast
    from neuronas.snn.inference import InferenceNetwork

#: Seconds per neuronas timestep in the NIR graph.
DT = 1e-4
#: The pip extra that brings NIR's packages.
EXTRA = "nir"


class MissingExtraError(UsageError):
    """An optional dependency that is not installed."""


def require_nir() -> tuple[Any, Any]:
    """``nir`` and SpikingJelly's ``export_to_nir``, or one line naming the extra to install."""
    try:
        import nir
        from spikingjelly.activation_based.nir_exchange import export_to_nir
    except ImportError as error:
        missing = getattr(error, "name", None) or "nir"
        raise MissingExtraError(
            f"exporting to NIR needs the '{EXTRA}' extra (module {missing!r} is missing): "
            f"pip install 'neuronas[{EXTRA}]'"
        ) from None
    return nir, export_to_nir


def graph_metadata(request: ExportRequest, network: InferenceNetwork) -> dict[str, Any]:
    """The request's metadata, how to run the graph, and each weight layer's node, folded
    BatchNorm and integer weights."""
    macro = request.arch.macro
    layers: dict[str, dict[str, Any]] = {}
    for path, folded in network.layers.items():
        entry: dict[str, Any] = {"node": folded.node}
        if folded.scale is not None:
            entry["batchnorm_scale"] = folded.scale.numpy()
            entry["batchnorm_shift"] = folded.shift.numpy()
        quantized = request.weights.get(path)
        if quantized is not None:
            entry["codes"] = quantized.codes
            entry["bits"] = quantized.bits
            entry["fraction_bits"] = quantized.fraction_bits
        layers[path] = entry
    population = (
        f"; classifier_population averages each class's {macro.population} outputs"
        if macro.population > 1
        else ""
    )
    return {
        **request.metadata,
        "dt": DT,
        "timesteps": macro.timesteps,
        "input_encoding": (
            f"direct: the same image is the input at each of the {macro.timesteps} timesteps; "
            "stem_conv turns it into the input current of cell A"
        ),
        "readout": f"logits = the output node's mean over the {macro.timesteps} timesteps"
        + population,
        "batchnorm": (
            "eval-mode BatchNorm folded into the conv before it (weight * batchnorm_scale, bias "
            "batchnorm_shift, per output channel); before a LIF (downsample_bn_in, head_bn) a 1x1 "
            "conv with diagonal weight"
        ),
        "weights": (
            "layers[*].codes are the integer weights before folding: weight = codes * "
            "2**-fraction_bits, the graph's conv weight = that weight * batchnorm_scale"
            if request.weights
            else "full precision (float32)"
        ),
        "layers": layers,
    }


def to_nir_graph(request: ExportRequest) -> Any:
    """The NIR graph of ``request``'s network (a ``nir.NIRGraph``), metadata included. A network
    the graph cannot represent is refused before the extra is looked for (installing it would not
    help)."""
    import torch

    from neuronas.snn.inference import INPUT, inference_network

    network = inference_network(request.model.eval())
    nir, export_to_nir = require_nir()
    macro = request.arch.macro
    example = torch.zeros(1, macro.in_channels, macro.input_size, macro.input_size)
    dtype = next(network.parameters()).dtype
    traced = export_to_nir(network, example.to(dtype), dt=DT)
    # the traced input node is named after the forward's argument, made unique ("input_1")
    names = {
        name: INPUT if isinstance(node, nir.Input) else name for name, node in traced.nodes.items()
    }
    return nir.NIRGraph(
        nodes={names[name]: node for name, node in traced.nodes.items()},
        edges=[(names[source], names[target]) for source, target in traced.edges],
        metadata=graph_metadata(request, network),
    )


@attrs.frozen
class NirExporter:
    """The ``nir`` exporter (see the module docstring)."""

    name: str = "nir"
    description: str = (
        "NIR graph (HDF5): LIF, conv, avg-pool and linear nodes, BatchNorm folded, metadata with "
        "the architecture and integer weights; via SpikingJelly's NIR exchange; needs the nir extra"
    )

    def export(self, request: ExportRequest, out: Path) -> list[Path]:
        graph = to_nir_graph(request)
        nir, _export_to_nir = require_nir()
        temporary = out.with_name(out.name + ".tmp")
        with writing(out):
            nir.write(temporary, graph)
            os.replace(temporary, out)
        return [out]
