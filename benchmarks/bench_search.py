"""Search-level speed: executor scaling, random 5000 vs two-phase (the paper's Fig. 13), cost-model rate.

Usage: python benchmarks/bench_search.py [--parts executors,fig13,costs] [--width 4] [--timesteps 2]
           [--batch 16] [--hidden 16] [--executor-candidates 48] [--workers 2] [--random-sample 200]
           [--fig13-executor process] [--ray]

1. Executors: the same small ``random`` search with ``local`` (torch's default threads, and 1) and
   ``process`` (``--workers``); ``--ray`` adds a local Ray instance. Each runs N/4 and N candidates:
   the difference gives the steady rate (candidates / s, compared as a ratio) and the fixed start-up.
2. Fig. 13: ``two-phase`` over the whole space, run whole, against ``random`` with 5000 candidates on
   the same space, budgets, network and executor, extrapolated from a timed sample of
   ``--random-sample`` candidates: the wall times of N/4 and N candidates (the first is a prefix of
   the second) give a fixed overhead and a per-candidate time; 5000 candidates = fixed + 5000 x it.
   ``--random-sample 5000`` runs the random search whole instead.
3. Cost models: evaluations per second of spikeflow and spikesim on the 12-layer network of
   bench_cost_model.py, and of the whole per-candidate cost step of a search (layer shapes + model).

Each search runs in a fresh temporary folder with seed 0. The table says which numbers are measured
and which are extrapolated; the header gives the machine and its load (other work slows all columns).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

import torch
from bench_cost_model import twelve_layers
from rich.console import Console
from rich.table import Table

import neuronas
from neuronas.arch import Architecture, Macro
from neuronas.builtins.executors import available_cpus
from neuronas.plugin import get_component
from neuronas.search.config import SearchConfig

PAPER_RANDOM_CANDIDATES = 5000


def machine() -> str:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"{platform.processor() or platform.machine()}, {available_cpus()} CPUs, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), load average {load}"
    )


def run(options: dict[str, Any]) -> dict[str, Any]:
    """One search in a fresh folder: its result.json, and the wall time as ``wall_s``."""
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        neuronas.search(out=folder, **options)
        wall = time.perf_counter() - started
        result = json.loads((Path(folder) / "result.json").read_text())
    result["wall_s"] = wall
    return result


def network(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "width": args.width,
        "timesteps": args.timesteps,
        "fitness_batch": args.batch,
        "hidden": args.hidden,
        "dataset": "digits",
        "seed": 0,
    }


def bench_executors(args: argparse.Namespace) -> Table:
    """Each executor runs N/4 and N candidates (a prefix, same seed): start-up and steady rate."""
    options = {**network(args), "strategy": "random"}
    candidates = args.executor_candidates
    default_threads = torch.get_num_threads()
    setups = [("local", 1, default_threads), ("local", 1, 1), ("process", args.workers, None)]
    if args.ray:
        setups.append(("ray", args.workers, None))
    run({**options, "candidates": 2})  # warm-up: imports, data, first-call costs
    table = Table(title=f"executors: random search, {candidates // 4} and {candidates} candidates")
    columns = ("executor", "workers", "torch threads", "wall s (N)", "start-up s", "candidates / s")
    for column in (*columns, "vs local", "same result"):
        table.add_column(column, justify="left" if column == "executor" else "right")
    baseline = None
    for executor, workers, threads in setups:
        torch.set_num_threads(threads or default_threads)
        walls = []
        for count in (candidates // 4, candidates):
            result = run({**options, "candidates": count, "executor": executor, "workers": workers})
            if executor != "local":
                get_component("executor", executor).close()
            walls.append(result["wall_s"])
        torch.set_num_threads(default_threads)
        rate = (candidates - candidates // 4) / (walls[1] - walls[0])
        startup = max(0.0, walls[1] - candidates / rate)
        best = (result["best"]["arch"], result["best"]["score"])
        if baseline is None:
            baseline = (rate, best)
        table.add_row(
            executor,
            str(workers),
            str(threads) if threads else "1 per worker",
            f"{walls[1]:.1f}",
            f"{startup:.1f}",
            f"{rate:.2f}",
            f"{rate / baseline[0]:.2f}x",
            "yes" if best == baseline[1] else "NO",
        )
    return table


def bench_fig13(args: argparse.Namespace) -> Table:
    space = get_component("space", "neuronas-3op")
    cells = sum(1 for _ in space.enumerate())
    options = {**network(args), "executor": args.fig13_executor, "workers": args.workers}
    two_phase = run({**options, "strategy": "two-phase"})
    if args.random_sample >= PAPER_RANDOM_CANDIDATES:
        return fig13_table(args, cells, two_phase, whole=run({**options, "strategy": "random"}))
    small = run({**options, "strategy": "random", "candidates": args.random_sample // 4})
    sample = run({**options, "strategy": "random", "candidates": args.random_sample})
    if args.fig13_executor != "local":
        get_component("executor", args.fig13_executor).close()
    # wall time is linear in N (the small sample is a prefix of the large one: same seed)
    per_candidate = (sample["wall_s"] - small["wall_s"]) / (
        args.random_sample - args.random_sample // 4
    )
    overhead = max(0.0, sample["wall_s"] - args.random_sample * per_candidate)
    random_total = overhead + PAPER_RANDOM_CANDIDATES * per_candidate
    table = fig13_table(args, cells, two_phase)
    table.add_row(
        f"random, {args.random_sample} sampled",
        str(sample["candidates_evaluated"]),
        str(sample["candidates_scored"]),
        f"{sample['wall_s']:.1f}",
        f"measured; with N/4: {per_candidate * 1e3:.0f} ms / candidate + {overhead:.1f} s",
        "-",
    )
    table.add_row(
        f"random, {PAPER_RANDOM_CANDIDATES}",
        str(PAPER_RANDOM_CANDIDATES),
        "-",
        f"{random_total:.1f}",
        f"extrapolated: fixed + {PAPER_RANDOM_CANDIDATES} x per-candidate",
        f"{random_total / two_phase['wall_s']:.2f}x",
    )
    return table


def fig13_table(
    args: argparse.Namespace,
    cells: int,
    two_phase: dict[str, Any],
    whole: dict[str, Any] | None = None,
) -> Table:
    """The table with the two-phase row, and the whole random search's row when it was run."""
    table = Table(
        title=f"Fig. 13: two-phase vs random-{PAPER_RANDOM_CANDIDATES}, neuronas-3op "
        f"({cells} cells), default budgets, executor {args.fig13_executor}"
    )
    for column in ("search", "candidates", "scored", "time s", "how", "vs two-phase"):
        table.add_column(column, justify="left" if column in ("search", "how") else "right")
    for name, result in (("two-phase", two_phase), (f"random, {PAPER_RANDOM_CANDIDATES}", whole)):
        if result is not None:
            table.add_row(
                name,
                str(result["candidates_evaluated"]),
                str(result["candidates_scored"]),
                f"{result['wall_s']:.1f}",
                "measured, whole search",
                f"{result['wall_s'] / two_phase['wall_s']:.2f}x",
            )
    return table


def bench_costs() -> Table:
    layers = twelve_layers()
    space = get_component("space", "neuronas-3op")
    arch = Architecture(next(space.enumerate()), next(space.enumerate()), Macro())
    table = Table(title="cost evaluations per second")
    for column in ("what", "us / evaluation", "evaluations / s"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for name in ("spikeflow", "spikesim"):
        model = get_component("hardware", name)
        config = model.make_config({"weight_bits": 8})
        cases = [
            (
                f"{name}, {len(layers)}-layer network",
                lambda m=model, c=config: m.estimate(layers, c),
            ),
            (
                f"{name}, search step: shapes + model",
                lambda m=model, c=config: m.estimate(space.layer_shapes(arch), c),
            ),
        ]
        for label, function in cases:
            runs = 1000
            best = min(timeit.repeat(function, number=runs, repeat=5)) / runs
            table.add_row(label, f"{best * 1e6:.1f}", f"{1 / best:,.0f}")
    return table


def main() -> None:
    console = Console(width=120)
    defaults = SearchConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="executors,fig13,costs")
    parser.add_argument("--width", type=int, default=4)
    parser.add_argument("--timesteps", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16, help="fitness batch S")
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--executor-candidates", type=int, default=48)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--random-sample", type=int, default=200, help=f"{PAPER_RANDOM_CANDIDATES}: run it whole"
    )
    parser.add_argument(
        "--fig13-executor", default="process", help="executor of both Fig. 13 searches (--workers)"
    )
    parser.add_argument("--ray", action="store_true", help="also time a local Ray instance")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    console.print(f"machine: {machine()}", highlight=False)
    console.print(
        f"network: width {args.width}, T = {args.timesteps}, S = {args.batch}, "
        f"hidden {args.hidden}, digits (1x8x8); init {defaults.init}, reuse {defaults.reuse}",
        highlight=False,
    )
    if "executors" in parts:
        console.print(bench_executors(args))
    if "fig13" in parts:
        console.print(bench_fig13(args))
    if "costs" in parts:
        console.print(bench_costs())


if __name__ == "__main__":
    main()
