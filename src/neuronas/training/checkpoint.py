"""Checkpoints and the RNG state they carry: written atomically, loaded with
``torch.load(weights_only=True)`` and checked before use, so a resumed run ends where an
uninterrupted one would."""

from __future__ import annotations

import contextlib
import pickle
import random
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from neuronas.arch import Architecture
from neuronas.errors import ArchitectureSyntaxError, UsageError
from neuronas.folders import replace_atomically
from neuronas.seeds import derive_seed
from neuronas.training.config import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_NAME,
    CHECKPOINT_VERSION,
    CheckpointError,
    TrainConfig,
)

# --- RNG state -----------------------------------------------------------------------------------


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch, numpy and python; return the data generator (shuffling and augmentation)."""
    torch.manual_seed(derive_seed(seed, "torch"))
    np.random.seed(derive_seed(seed, "numpy") % 2**32)
    random.seed(derive_seed(seed, "python"))
    return torch.Generator().manual_seed(derive_seed(seed, "data"))


def rng_state(data_generator: torch.Generator) -> dict[str, Any]:
    """Every RNG state as plain types and tensors (``weights_only``-loadable)."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": random.getstate(),
        "data": data_generator.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any], data_generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["kind"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["position"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    data_generator.set_state(state["data"])
    if "cuda" in state and torch.cuda.is_available():
        with contextlib.suppress(RuntimeError):  # another number of GPUs than when saved
            torch.cuda.set_rng_state_all(state["cuda"])


# --- checkpoints ---------------------------------------------------------------------------------


def save_checkpoint(path: Path, payload: Mapping[str, Any]) -> None:
    """Write atomically: a crash leaves either the previous checkpoint or the new one."""
    replace_atomically(path, lambda temporary: torch.save(dict(payload), temporary))


_REQUIRED_KEYS = ("arch", "config", "epoch", "model", "optimizer", "scheduler", "metrics", "rng")


def load_checkpoint(path: str | Path, expected_arch: str | Architecture | None = None) -> dict:
    """A checkpoint's contents, loaded safely (``weights_only=True``) and checked.

    A folder means its ``checkpoint.pt``. Raises `CheckpointError` for a missing, corrupt or foreign
    file, and when ``expected_arch`` is given and differs from the checkpoint's architecture.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols of foreign files
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged or foreign file
        if isinstance(error, pickle.UnpicklingError) and "Weights only load failed" in str(error):
            raise CheckpointError(
                f"{path} is not a readable neuronas checkpoint: a safe load refused it (it is "
                "corrupt, or holds objects other than tensors and plain data)"
            ) from None
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(
            f"{path} is not a readable neuronas checkpoint (it may be truncated or corrupt): "
            f"{reason}"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a neuronas training checkpoint")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {payload.get('version')!r}; this neuronas "
            f"reads version {CHECKPOINT_VERSION}"
        )
    missing = [key for key in _REQUIRED_KEYS if key not in payload]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}; it is incomplete")
    problem = _checkpoint_problem(payload)
    if problem is not None:
        raise CheckpointError(f"{path} is damaged: {problem}")
    try:
        stored = Architecture.parse(payload["arch"])
        payload["config"] = TrainConfig.from_dict(payload["config"])
    except (ArchitectureSyntaxError, UsageError, TypeError) as error:
        raise CheckpointError(f"{path} holds an invalid training setup: {error}") from None
    if expected_arch is not None:
        expected = (
            expected_arch
            if isinstance(expected_arch, Architecture)
            else Architecture.parse(expected_arch)
        )
        if expected.to_string() != stored.to_string():
            raise CheckpointError(
                f"{path} is a checkpoint of another architecture: it holds {stored}, not {expected}"
            )
    payload["path"] = str(path)
    return payload


def _checkpoint_problem(payload: Mapping[str, Any]) -> str | None:
    """What is wrong with a checkpoint's fields (None when each has the shape training wrote)."""
    epoch = payload["epoch"]
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        return f"epoch must be a whole number >= 0, got {epoch!r}"
    if not isinstance(payload["arch"], str) or not isinstance(payload["config"], dict):
        return "arch must be a string and config a mapping"
    model = payload["model"]
    if not isinstance(model, dict) or not all(isinstance(v, torch.Tensor) for v in model.values()):
        return "model must map names to tensors"
    optimizer = payload["optimizer"]
    if not (
        isinstance(optimizer, dict)
        and isinstance(optimizer.get("param_groups"), list)
        and optimizer["param_groups"]
        and isinstance(optimizer.get("state"), dict)
    ):
        return "optimizer must hold its state and at least one parameter group"
    if not isinstance(payload["scheduler"], dict):
        return "scheduler must be a mapping"
    metrics = payload["metrics"]
    if not isinstance(metrics, list) or not all(isinstance(m, dict) for m in metrics):
        return "metrics must be a list of per-epoch records"
    if len(metrics) != epoch:
        return f"it records {len(metrics)} epochs of metrics for epoch {epoch}"
    rng = payload["rng"]
    numpy_state = rng.get("numpy") if isinstance(rng, dict) else None
    if not (
        isinstance(rng, dict)
        and isinstance(rng.get("torch"), torch.Tensor)
        and isinstance(rng.get("data"), torch.Tensor)
        and isinstance(numpy_state, dict)
        and {"kind", "keys", "position", "has_gauss", "cached_gaussian"} <= set(numpy_state)
        and isinstance(rng.get("python"), tuple | list)
        and len(rng["python"]) == 3
    ):
        return "its random-number states are incomplete"
    return None


def load_weights(model: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise CheckpointError(
            f"{source}: the stored weights do not fit the architecture ({first})"
        ) from None
