"""``neuronas export``: a trained checkpoint, or a run's found architecture with its seeded initial
weights, written by an exporter (``nir`` built in), with the hardware mapping alongside.

The network is exported in eval mode at one precision: a QAT checkpoint's training precision, a
run's search precision (the quantized network its fitness scored), full precision for a checkpoint
trained without QAT; ``weight_bits`` post-training quantizes to N bits instead. A quantized export
carries every layer's integer weights and fixed-point format.

``mapping.json`` maps every weight layer (the classifier's included) with a hardware model: per layer
PEs, crossbars, tiles, area, latency window and energy, the totals and the resolved parameters.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn

from neuronas.arch import Architecture, LayerShape
from neuronas.contracts import ExportRequest, HardwareCost, QuantizedWeights
from neuronas.errors import ArchitectureSyntaxError, UsageError
from neuronas.folders import dumps, write_atomic
from neuronas.hardware.report import UNITS
from neuronas.plugin import get_component, guard
from neuronas.quantization import check_bits, quantize_model, quantize_tensor, weight_layers
from neuronas.search.evaluator import initial_weights_seed
from neuronas.search.run_folder import RUN_FILES, package_versions, read_result, read_run_config
from neuronas.seeds import derive_seed
from neuronas.training import CHECKPOINT_NAME, load_checkpoint, network_at

MAPPING_NAME = "mapping.json"
MAPPING_FORMAT = "neuronas-mapping"
MAPPING_VERSION = 1
DEFAULT_HARDWARE = "spikeflow"


@attrs.frozen
class ExportSource:
    """The network to export, what it is, and the hardware it was searched for (if known)."""

    model: nn.Module
    arch: Architecture
    space: str
    bits: int | None
    metadata: Mapping[str, Any]
    hardware: str = DEFAULT_HARDWARE
    hardware_params: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class ExportResult:
    """The files an exporter wrote, the mapping written alongside, and what was recorded."""

    files: tuple[Path, ...]
    mapping: Path
    metadata: Mapping[str, Any]
    cost: HardwareCost

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": [str(path) for path in self.files],
            "mapping": str(self.mapping),
            "metadata": dict(self.metadata),
            "area_mm2": self.cost.area_mm2,
            "latency_ms": self.cost.latency_ms,
            "energy_uj": self.cost.energy_uj,
        }


def check_output(path: Path, option: str, example: str) -> Path:
    """``path``, its folder created: a UsageError when it cannot be written as a file (one a
    folder is named for, e.g. ``example``)."""
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder; give a file name, e.g. {path / example}")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise UsageError(f"{option} {path} lies under {parent}, which is a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(
            f"{option} {path}: cannot create {path.parent} ({error.strerror})"
        ) from None
    if not os.access(path.parent, os.W_OK | os.X_OK) or (
        path.exists() and not os.access(path, os.W_OK)
    ):
        raise UsageError(f"{option} {path} cannot be written (read-only?); choose another file")
    return path


def _precision(bits: int | None, method: str) -> dict[str, Any]:
    if bits is None:
        return {"precision": "float32 (full precision)"}
    return {"precision": f"FxP{bits} ({method})", "weight_bits": bits}


def from_checkpoint(path: Path, weight_bits: int | None) -> ExportSource:
    """A checkpoint's trained network, at its QAT precision, ``weight_bits``, or full precision."""
    checkpoint = load_checkpoint(path)
    config, epochs = checkpoint["config"], int(checkpoint["epoch"])
    bits = weight_bits if weight_bits is not None else config.weight_bits
    model = network_at(config, checkpoint["model"], bits, checkpoint["path"])
    qat = bits is not None and bits == config.weight_bits
    metadata = {
        "arch": config.arch,
        "space": config.space,
        "source": "checkpoint",
        "source_path": checkpoint["path"],
        "weights_from": f"trained on {config.dataset} for {epochs} epoch{'s' * (epochs != 1)}",
        "epochs": epochs,
        "dataset": config.dataset,
        "seed": config.seed,
        **_precision(bits, "QAT, then PTQ of its float weights" if qat else "PTQ, nearest"),
    }
    return ExportSource(model, config.architecture, config.space, bits, metadata)


def from_run(run_dir: Path, weight_bits: int | None) -> ExportSource:
    """A run's best architecture with the seeded initial weights its search scored (untrained),
    quantized as the search quantized it (or to ``weight_bits``)."""
    search = read_run_config(run_dir)
    result = read_result(run_dir)
    if result is None:
        raise UsageError(
            f"{run_dir} has no result.json: its search has not finished (continue it with "
            f"`neuronas run --resume {run_dir}`)"
        )
    best = result.get("best")
    if best is None:
        raise UsageError(
            f"{run_dir / 'result.json'} names no best architecture (the search scored none)"
        )
    try:
        arch = Architecture.parse(best["arch"])
    except ArchitectureSyntaxError as error:
        raise UsageError(f"{run_dir / 'result.json'}: best.arch: {error}") from None
    seed = initial_weights_seed(search.seed, search.init, best["arch"])
    space = get_component("space", search.space)
    model = guard.call("space", space, "build", arch, seed=seed)
    bits = weight_bits if weight_bits is not None else search.weight_bits
    quantize_model(model, bits, search.rounding, derive_seed(search.seed, "rounding", best["arch"]))
    metadata = {
        "arch": arch.to_string(),
        "space": search.space,
        "source": "run",
        "source_path": str(run_dir),
        "weights_from": (
            f"seeded initial weights, not trained: built with seed {seed} (the run's seed "
            f"{search.seed}, init {search.init}), as the search scored it"
        ),
        "dataset": search.dataset,
        "seed": search.seed,
        **_precision(bits, f"PTQ, {search.rounding}"),
    }
    return ExportSource(
        model, arch, search.space, bits, metadata, search.hardware, search.hardware_params
    )


def load_source(source: Path, weight_bits: int | None) -> ExportSource:
    """A checkpoint (``checkpoint.pt`` or its folder) or a run folder; a UsageError otherwise."""
    if source.is_dir() and not (source / CHECKPOINT_NAME).exists():
        if any((source / name).exists() for name in RUN_FILES):
            return from_run(source, weight_bits)
        raise UsageError(
            f"{source} is neither a training folder nor a run folder: it has no {CHECKPOINT_NAME} "
            "and no result.json"
        )
    if not source.exists():
        raise UsageError(
            f"{source} does not exist; give a checkpoint ({CHECKPOINT_NAME} or its folder) or a "
            "`neuronas run` folder"
        )
    return from_checkpoint(source, weight_bits)


def integer_weights(model: nn.Module, bits: int | None) -> dict[str, QuantizedWeights]:
    """The integer codes and format of every conv and linear layer (weights on the grid already)."""
    if bits is None:
        return {}
    result = {}
    for name, module in weight_layers(model):
        values, fmt = quantize_tensor(module.weight, bits)
        codes = torch.round(values.double() * math.ldexp(1.0, fmt.fraction_bits))
        result[name] = QuantizedWeights(codes.to(torch.int32).numpy(), bits, fmt.fraction_bits)
    return result


def _layer_entry(shape: LayerShape, mapped: Mapping[str, Any]) -> dict[str, Any]:
    entry = {
        "name": shape.name,
        "role": shape.role,
        "kind": shape.kind,
        "in_channels": shape.in_channels,
        "out_channels": shape.out_channels,
        "kernel": shape.kernel,
        "in_size": shape.in_size,
        "out_size": shape.out_size,
        "stride": shape.stride,
        "weights": shape.weights,
        **{key: value for key, value in mapped.items() if key not in ("name", "kind")},
    }
    # both built-in models put kernel_mapped^2 crossbars in a PE (docs/cost-models.md)
    if "n_pe" in mapped and "kernel_mapped" in mapped:
        entry["n_crossbars"] = mapped["n_pe"] * mapped["kernel_mapped"] ** 2
    if "start_ms" in mapped and "end_ms" in mapped:
        entry["latency_ms"] = mapped["end_ms"] - mapped["start_ms"]
    return entry


def mapping_document(
    arch: Architecture, layers: Sequence[LayerShape], cost: HardwareCost, files: Sequence[str]
) -> dict[str, Any]:
    """What mapping.json holds: every weight layer as the hardware model maps it, and the totals."""
    return {
        "format": MAPPING_FORMAT,
        "version": MAPPING_VERSION,
        "arch": arch.to_string(),
        "files": list(files),
        "hardware": cost.model,
        "hardware_params": dict(cost.params),
        "totals": {
            "area_mm2": cost.area_mm2,
            "latency_ms": cost.latency_ms,
            "energy_uj": cost.energy_uj,
            "n_pe": cost.n_pe,
            "n_tiles": cost.n_tiles,
            "params": cost.n_weights,
        },
        "layers": [
            _layer_entry(shape, mapped)
            for shape, mapped in zip(layers, cost.per_layer, strict=True)
        ],
        "area_mm2_by_component": dict(cost.area_mm2_by_component),
        "energy_uj_by_component": dict(cost.energy_uj_by_component),
        "notes": list(cost.notes),
        "units": UNITS,
    }


def export(
    source: str | Path,
    out: str | Path,
    *,
    format: str = "nir",
    weight_bits: int | None = None,
    hardware: str | None = None,
    params: Mapping[str, Any] | None = None,
    mapping: str | Path | None = None,
) -> ExportResult:
    """Export a checkpoint or a run folder's found network to ``out`` with the exporter ``format``,
    and write its hardware mapping to ``mapping`` (default: mapping.json next to ``out``).

    ``hardware``: the mapping's hardware model (default: the run's, else spikeflow), with the run's
    parameters when it is the run's; the timesteps and weight bits are the network's; ``params``
    override any parameter (e.g. ``{"crossbar_size": 128}``).
    """
    exporter = get_component("exporter", format)
    out = check_output(Path(out), "--out", f"model.{format}")
    mapping_path = check_output(
        Path(mapping) if mapping is not None else out.with_name(MAPPING_NAME),
        "--mapping",
        MAPPING_NAME,
    )
    if mapping_path.resolve() == out.resolve():
        raise UsageError(f"--out and --mapping are both {out}; choose two files")
    if weight_bits is not None:
        check_bits(weight_bits)
    network = load_source(Path(source), weight_bits)
    hardware_name = hardware or network.hardware
    overrides = dict(network.hardware_params) if hardware_name == network.hardware else {}
    overrides["timesteps"] = network.arch.macro.timesteps
    if network.bits is not None:
        overrides["weight_bits"] = network.bits
    overrides.update(params or {})
    model = get_component("hardware", hardware_name)
    config = guard.call("hardware", model, "make_config", overrides)
    space = get_component("space", network.space)
    layers = guard.call("space", space, "layer_shapes", network.arch, include_classifier=True)
    cost = guard.call("hardware", model, "estimate", layers, config)
    request = ExportRequest(
        network.model.eval(),
        network.arch,
        {**network.metadata, "versions": package_versions()},
        integer_weights(network.model, network.bits),
    )
    files = tuple(guard.call("exporter", exporter, "export", request, out))
    relative = [os.path.relpath(path, mapping_path.parent) for path in files]
    document = mapping_document(network.arch, layers, cost, relative)
    write_atomic(mapping_path, dumps(document, indent=2))
    return ExportResult(files, mapping_path, request.metadata, cost)
