"""Training and evaluating a found network: surrogate-gradient BPTT, QAT, checkpoints, resume, DDP.

The network is trained as NeuroNAS trains it (Sec. IV): backpropagation through time through the LIF
neurons (their ATan surrogate comes with the builder), cross-entropy on the logits, SGD with momentum
and weight decay under a cosine schedule, the dataset's standard augmentation. ``weight_bits`` turns
on quantization-aware training with the straight-through fixed-point fake quantizer.

After every epoch a checkpoint is written atomically (temporary file, then ``os.replace``) holding
the model, optimizer, scheduler, metrics and every RNG state, so that a resumed run ends exactly where
an uninterrupted one would. Checkpoints hold plain types and tensors only and load with
``torch.load(weights_only=True)``.

Launched under ``torchrun`` (``WORLD_SIZE`` > 1), training runs with DistributedDataParallel: every
process trains on its own shard of each epoch and only rank 0 writes files.
"""

from __future__ import annotations

import importlib
from typing import Any

from neuronas.training.config import (
    CHECKPOINT_NAME,
    DEFAULT_CLASSIFIER_INIT_GAIN,
    METRICS_NAME,
    CheckpointError,
    Distributed,
    EvaluationResult,
    TrainConfig,
    TrainObserver,
    TrainResult,
)

#: The names that need torch, by module: imported on first use, so that reading a training setup
#: (`neuronas.training.config`) stays torch-free.
_LAZY = {
    "build_model": "loop",
    "check_matches_dataset": "loop",
    "evaluate_checkpoint": "loop",
    "evaluate_split": "loop",
    "float_state": "loop",
    "load_checkpoint": "checkpoint",
    "network_at": "loop",
    "save_checkpoint": "checkpoint",
    "train": "loop",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"neuronas.training.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'neuronas.training' has no attribute {name!r}")


__all__ = [
    "CHECKPOINT_NAME",
    "DEFAULT_CLASSIFIER_INIT_GAIN",
    "METRICS_NAME",
    "CheckpointError",
    "Distributed",
    "EvaluationResult",
    "TrainConfig",
    "TrainObserver",
    "TrainResult",
    "build_model",
    "check_matches_dataset",
    "evaluate_checkpoint",
    "evaluate_split",
    "float_state",
    "load_checkpoint",
    "network_at",
    "save_checkpoint",
    "train",
]
