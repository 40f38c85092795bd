"""How long building a network takes at the default width (target: well under 100 ms).

Run: python benchmarks/bench_build.py [--repeats N]
Prints, per space and init mode, the median and best of N builds and of layer_shapes().
"seeded (warm)" is the search loop's case: the layers every candidate shares are drawn once.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from neuronas.arch import Architecture, Macro
from neuronas.builtins.spaces import EXTENDED, NEURONAS_3OP, SNASNET
from neuronas.snn import network


def timed(fn, archs: list[Architecture]) -> list[tuple[float, float]]:
    """(wall ms, process CPU ms) of ``fn(arch)`` for each architecture; CPU time is what a busy
    machine inflates least."""
    times = []
    for arch in archs:
        wall, cpu = time.perf_counter(), time.process_time()
        fn(arch)
        times.append(((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000))
    return times


def measure(space, repeats: int) -> list[tuple[str, list[tuple[float, float]]]]:
    rng = np.random.default_rng(0)
    archs = [Architecture(space.sample(rng), space.sample(rng), Macro()) for _ in range(repeats)]
    space.build(archs[0])  # imports and first-touch allocations are not what we measure
    return [
        ("default init (seed=None)", timed(space.build, archs)),
        (
            "seeded, cold cache",
            timed(lambda a: (network._init_cache.clear(), space.build(a, 0)), archs),
        ),
        ("seeded, warm cache", timed(lambda a: space.build(a, seed=0), archs)),
        ("layer_shapes", timed(space.layer_shapes, archs)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    table = Table(
        title=f"build time, default macro (width 128, 3x32x32), {torch.get_num_threads()} threads"
    )
    for column in ("space", "what", "median wall ms", "best wall ms", "median CPU ms"):
        table.add_column(column, justify="left" if column in ("space", "what") else "right")
    for space in (NEURONAS_3OP, SNASNET, EXTENDED):
        for label, times in measure(space, args.repeats):
            wall = [w for w, _ in times]
            cpu = statistics.median(c for _, c in times)
            table.add_row(
                space.name,
                label,
                f"{statistics.median(wall):.1f}",
                f"{min(wall):.1f}",
                f"{cpu:.1f}",
            )
    Console().print(table)


if __name__ == "__main__":
    main()
