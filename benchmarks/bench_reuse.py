"""Exact reuse and scoring throughput: two-phase search time with and without reuse, and one
candidate's fitness time as achieved GFLOP/s next to this machine's fp32 matmul GFLOP/s.

Usage: python benchmarks/bench_reuse.py [--threads 1] [--search-width 8] [--search-batch 64]
                                        [--score-width 128] [--score-batch 256] [--skip-search]

The search runs ``two-phase`` on ``digits`` twice with the same seed (``--reuse`` and
``--no-reuse``) and checks that both find the same architecture with the same score. The FLOP count
of a forward pass counts multiply-adds as 2 FLOPs in the convolutions (the stem once per batch, the
rest per timestep), the classifier's hidden layer, and the Gram matmuls of the kernel (2 S^2 N per
LIF layer and timestep); BatchNorm, LIF updates and pooling are left out (they are a few percent).
"""

from __future__ import annotations

import argparse
import time

import torch
from rich.table import Table

from neuronas.arch import Architecture, Macro
from neuronas.console import console
from neuronas.contracts import ScoringSettings
from neuronas.plugin import get_component
from neuronas.reuse import ReuseScorer
from neuronas.search.config import SearchConfig
from neuronas.search.evaluator import CandidateScorer
from neuronas.search.run import run_search
from neuronas.snn.network import feature_sizes


def search_times(args: argparse.Namespace) -> list[tuple[str, float, str, float]]:
    rows = []
    for reuse in (False, True):
        config = SearchConfig(
            strategy="two-phase",
            dataset="digits",
            width=args.search_width,
            fitness_batch=args.search_batch,
            reuse=reuse,
            seed=0,
        )
        started = time.perf_counter()
        result = run_search(config)
        elapsed = time.perf_counter() - started
        rows.append(
            ("reuse" if reuse else "from scratch", elapsed, result.best.arch, result.best.score)
        )
    return rows


def forward_flops(arch: Architecture, space, samples: int, repeats: int) -> float:
    """FLOPs of one candidate's fitness forward passes over ``repeats`` batches (see the docstring)."""
    macro = arch.macro
    steps = macro.timesteps
    total = 0.0
    for layer in space.layer_shapes(arch):
        per_sample = (
            2 * layer.in_channels * layer.out_channels * layer.kernel**2 * layer.out_size**2
        )
        total += per_sample * samples * (1 if layer.role == "stem" else steps)
    sizes = feature_sizes(macro)
    features = 2 * macro.width * sizes.classifier**2
    total += 2 * features * macro.hidden * samples * steps
    lif_neurons = [
        layer.in_channels * layer.in_size**2
        for layer in space.layer_shapes(arch)
        if layer.role.startswith("cell")
    ]  # each conv edge starts with a LIF
    lif_neurons += [macro.width * sizes.stem**2, 2 * macro.width * sizes.cell_b**2, macro.hidden]
    total += sum(2 * samples * samples * n * steps for n in lif_neurons)
    return total * repeats


def matmul_gflops(size: int = 2048, runs: int = 5) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    started = time.perf_counter()
    for _ in range(runs):
        a @ b
    return 2 * size**3 * runs / (time.perf_counter() - started) / 1e9


def scoring_rows(args: argparse.Namespace) -> list[tuple[str, float, float]]:
    space = get_component("space", "neuronas-3op")
    macro = Macro(width=args.score_width)
    cell = next(c for c in space.enumerate() if str(c).count("conv3x3") == 2)
    arch = Architecture(cell, cell, macro)
    generator = torch.Generator().manual_seed(0)
    batches = tuple(torch.randn(args.score_batch, 3, 32, 32, generator=generator) for _ in range(2))
    settings = ScoringSettings(
        space="neuronas-3op",
        fitness="hamming-logdet",
        quantizer="fixed-point",
        weight_bits=8,
        rounding="nearest",
        seed=0,
        init="shared",
        carry_state=True,
        batches=batches,
    )
    flops = forward_flops(arch, space, args.score_batch, len(batches))
    rows = []
    for name, scorer in (
        ("from scratch", CandidateScorer(settings)),
        ("reuse path, 1 candidate", ReuseScorer(settings)),
    ):
        started = time.perf_counter()
        scorer.score_group([arch.to_string()])
        seconds = time.perf_counter() - started
        rows.append((name, seconds, flops))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--search-width", type=int, default=8)
    parser.add_argument("--search-batch", type=int, default=64)
    parser.add_argument("--score-width", type=int, default=128)
    parser.add_argument("--score-batch", type=int, default=256)
    parser.add_argument("--skip-search", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if not args.skip_search:
        rows = search_times(args)
        table = Table(
            title=f"two-phase on digits, width {args.search_width}, S={args.search_batch}, "
            f"R=2, T=5, {args.threads} thread(s)"
        )
        for column in ("scorer", "search s", "speed-up", "best score", "best arch"):
            table.add_column(column)
        scratch = rows[0][1]
        for name, seconds, arch, score in rows:
            table.add_row(name, f"{seconds:.1f}", f"{scratch / seconds:.2f}x", f"{score:.6f}", arch)
        console.print(table)
        same = rows[0][2] == rows[1][2] and abs(rows[0][3] - rows[1][3]) <= 1e-9 * abs(rows[0][3])
        console.print(f"same result with and without reuse: {same}")

    peak = matmul_gflops()
    table = Table(
        title=f"one candidate's fitness at width {args.score_width}, 3x32x32, "
        f"S={args.score_batch}, R=2, T=5, {args.threads} thread(s)"
    )
    for column in ("path", "seconds", "GFLOP", "GFLOP/s", "of matmul"):
        table.add_column(column, justify="right")
    for name, seconds, flops in scoring_rows(args):
        rate = flops / seconds / 1e9
        table.add_row(
            name, f"{seconds:.2f}", f"{flops / 1e9:.0f}", f"{rate:.1f}", f"{rate / peak:.0%}"
        )
    table.add_row("fp32 matmul 2048^3", "", "", f"{peak:.1f}", "100%")
    console.print(table)


if __name__ == "__main__":
    main()
