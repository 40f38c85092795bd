"""Fitness-evaluation time per candidate: build, quantize, score, and the score's split between the
network forward pass and the kernel math (Gram matmuls, normalisation, log|det|).

Usage: python benchmarks/bench_fitness.py [--batch-size 256] [--repeats 2] [--candidates 1]
                                          [--weight-bits 8] [--networks default,small] [--device cpu]

Networks come from the real builder (``neuronas-3op`` search space): ``default`` is the default macro
(width 128, T = 5, 3x32x32); ``small`` is width 16, T = 2, 3x16x16, 64 hidden units. Inputs are
random normal images: timing does not depend on the data.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from rich.table import Table

import neuronas.fitness as fitness
from neuronas.arch import Architecture, Macro
from neuronas.console import console
from neuronas.plugin import get_component

NETWORKS = {
    "default": Macro(),
    "small": Macro(width=16, timesteps=2, input_size=16, hidden=64),
}


class KernelClock:
    """Wraps the kernel-math functions of ``neuronas.fitness`` to add up the time spent in them."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds = 0.0
        self._originals = {}

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _timed(self, function):
        def wrapper(*args, **kwargs):
            self._sync()
            started = time.perf_counter()
            result = function(*args, **kwargs)
            self._sync()
            self.seconds += time.perf_counter() - started
            return result

        return wrapper

    def __enter__(self) -> KernelClock:
        for name in ("hamming_kernel", "log_abs_det"):
            self._originals[name] = getattr(fitness, name)
            setattr(fitness, name, self._timed(self._originals[name]))
        return self

    def __exit__(self, *_exc) -> None:
        for name, original in self._originals.items():
            setattr(fitness, name, original)


def measure(macro: Macro, args: argparse.Namespace, rng: np.random.Generator) -> dict[str, float]:
    space = get_component("space", "neuronas-3op")
    quantizer = get_component("quantizer", "fixed-point")
    metric = get_component("fitness", "hamming-logdet")
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    shape = (args.batch_size, macro.in_channels, macro.input_size, macro.input_size)
    batches = [torch.randn(shape, generator=generator).to(device) for _ in range(args.repeats)]
    totals = {"build": 0.0, "quantize": 0.0, "score": 0.0, "kernel": 0.0}
    params = 0
    for _ in range(args.candidates):
        cell_a, cell_b = space.sample(rng), space.sample(rng)
        arch = Architecture(cell_a, cell_b, macro)
        started = time.perf_counter()
        model = space.build(arch, seed=0).to(device)
        totals["build"] += time.perf_counter() - started
        params = sum(p.numel() for p in model.parameters())
        started = time.perf_counter()
        quantizer.quantize(model, args.weight_bits)
        totals["quantize"] += time.perf_counter() - started
        with KernelClock(device) as clock:
            started = time.perf_counter()
            metric.score(model, batches)
            totals["score"] += time.perf_counter() - started
        totals["kernel"] += clock.seconds
    per = {key: value / args.candidates for key, value in totals.items()}
    per["forward"] = per["score"] - per["kernel"]
    per["params"] = params
    return per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--candidates", type=int, default=1)
    parser.add_argument("--weight-bits", type=int, default=8)
    parser.add_argument("--networks", default="default,small")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    table = Table(
        title=f"hamming-logdet per candidate (S={args.batch_size}, R={args.repeats}, "
        f"FxP{args.weight_bits}, {args.device}, {torch.get_num_threads()} threads)"
    )
    for column in ("network", "params", "build s", "quant s", "score s", "forward", "kernel"):
        table.add_column(column, justify="right" if column != "network" else "left")
    rng = np.random.default_rng(0)
    for name in args.networks.split(","):
        result = measure(NETWORKS[name], args, rng)
        score = result["score"]
        table.add_row(
            name,
            f"{result['params'] / 1e6:.2f}M",
            f"{result['build']:.2f}",
            f"{result['quantize']:.2f}",
            f"{score:.2f}",
            f"{result['forward']:.2f} s ({100 * result['forward'] / score:.0f}%)",
            f"{result['kernel']:.2f} s ({100 * result['kernel'] / score:.0f}%)",
        )
    console.print(table)


if __name__ == "__main__":
    main()
