"""Where candidates are scored (``--device``) and with which float arithmetic (``--precision``).

- ``auto`` is CUDA when PyTorch sees a GPU, else the CPU; ``cuda`` is the current CUDA device (a
  process-executor worker's own GPU, see `neuronas.builtins.executors`), ``cuda:N`` that one.
- ``fp32`` (the default) is strict float32 everywhere: TF32 is switched off for matmuls and cuDNN
  convolutions while scoring. ``tf32`` allows TF32 (PyTorch's default for cuDNN convolutions, and
  what SNASNet ran with on its GPUs). ``bf16`` runs the network's convolutions and linear layers
  under bfloat16 autocast. The Hamming kernel itself always runs in float32/float64 outside
  autocast (its Gram matmul of 0/1 codes is exact there), so precision changes the spikes, not the
  arithmetic on them. docs/performance.md measures what each does to scores and rankings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from neuronas.errors import UsageError

DEVICES_HELP = "auto, cpu, cuda or cuda:N"
PRECISIONS = ("fp32", "tf32", "bf16")


def resolve_device(name: str) -> str:
    """The device ``name`` stands for, checked: 'cpu', 'cuda' or 'cuda:N'; a UsageError otherwise."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return name
    kind, _, index = name.partition(":")
    if kind != "cuda" or (index and not index.isdigit()):
        raise UsageError(f"unknown device {name!r}; expected {DEVICES_HELP}")
    if not torch.cuda.is_available():
        raise UsageError(
            f"--device {name}: PyTorch sees no CUDA device here (torch "
            f"{torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); use --device cpu"
        )
    if index and int(index) >= torch.cuda.device_count():
        raise UsageError(
            f"--device {name}: there are {torch.cuda.device_count()} CUDA device(s), 0 to "
            f"{torch.cuda.device_count() - 1}"
        )
    return name


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise UsageError(
            f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}"
        )
    return precision


@contextlib.contextmanager
def numerics(device: str, precision: str) -> Iterator[None]:
    """The arithmetic of ``precision`` on ``device`` for the duration (see the module docstring)."""
    import torch

    kind = "cuda" if device.startswith("cuda") else "cpu"
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    autocast = (
        torch.autocast(kind, dtype=torch.bfloat16)
        if precision == "bf16"
        else contextlib.nullcontext()
    )
    try:
        with autocast:
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def exact_arithmetic(device_type: str) -> contextlib.AbstractContextManager:
    """No autocast: for the kernel's own arithmetic inside a bf16 forward pass."""
    import torch

    return torch.autocast(device_type, enabled=False)
