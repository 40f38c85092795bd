"""The precision sweep of the NeuroNAS paper (Figs. 12 and 13), on the Python API.

For each weight precision FxP<b>, NeuroNAS (two-phase search over the 3-op space, QaFE at b bits)
searches under the paper's budgets (10M weights, 1000 mm^2, 500 ms, 1000 uJ); the table gives the
found network's memory, area, latency and energy and the search time, next to the SNASNet baseline
(a random search over the 5-op space at FxP32, budgets not checked).

The default is small enough for a CPU: precisions 4, 8 and 16, width 4, digits, a 40-candidate
baseline (about a minute or two). The paper's scale:

    python examples/precision_sweep.py --dataset cifar100 --data-dir data --width 128 \
        --bits 16 14 12 10 8 6 4 --fitness-batch 256 --baseline-candidates 5000
"""

from __future__ import annotations

import argparse
import sys

import torch

import neuronas

PAPER_BUDGETS = {
    "max_params": 10e6,
    "max_area_mm2": 1000.0,
    "max_latency_ms": 500.0,
    "max_energy_uj": 1000.0,
}


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    for line in (headers, ["-" * width for width in widths], *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)))


def row(name: str, bits: int, result: neuronas.SearchResult) -> list[str]:
    if not result.feasible and result.config.constraints:
        return [
            name,
            f"FxP{bits}",
            "nothing meets the budgets",
            *["-"] * 6,
            f"{result.search_time_s:.1f}",
        ]
    costs = result.best.costs
    memory_kib = costs["params"] * bits / 8 / 1024
    return [
        name,
        f"FxP{bits}",
        f"{result.best.score:.3f}",
        f"{int(costs['params']):,}",
        f"{memory_kib:,.1f}",
        f"{costs['area_mm2']:.4g}",
        f"{costs['latency_ms']:.4g}",
        f"{costs['energy_uj']:.4g}",
        str(result.candidates_evaluated),
        f"{result.search_time_s:.1f}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bits", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir")
    parser.add_argument("--width", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--fitness-batch", type=int, default=16)
    parser.add_argument("--fitness-batches", type=int, default=2)
    parser.add_argument("--hardware", default="spikeflow")
    parser.add_argument("--baseline-candidates", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny run for tests: a 6-candidate random search stands in for the two-phase search",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # tiny networks: a second thread costs more than it gains

    common = {
        "dataset": args.dataset,
        "data_dir": args.data_dir,
        "width": args.width,
        "hidden": args.hidden,
        "fitness_batch": args.fitness_batch,
        "fitness_batches": args.fitness_batches,
        "hardware": args.hardware,
        "seed": args.seed,
    }
    neuronas_strategy = {"strategy": "random", "candidates": 6} if args.smoke else {}
    # One-time costs (imports, the dataset's first load) would otherwise land on the first row.
    neuronas.search(strategy="random", candidates=1, constraints=False, **common)
    rows = []
    for bits in args.bits:
        try:
            result = neuronas.search(
                space="neuronas-3op",
                weight_bits=bits,
                budgets=PAPER_BUDGETS,
                **neuronas_strategy,
                **common,
            )
        except neuronas.NoFeasibleArchitecture as error:
            result = error.result
        rows.append(row("NeuroNAS", bits, result))
    baseline = neuronas.search(
        space="snasnet",
        strategy="random",
        candidates=6 if args.smoke else args.baseline_candidates,
        weight_bits=32,
        budgets=PAPER_BUDGETS,
        constraints=False,
        **common,
    )
    rows.append(row("SNASNet (random)", 32, baseline))
    headers = [
        "method",
        "weights",
        "fitness",
        "memory (weights)",
        "memory (KiB)",
        "area (mm^2)",
        "latency (ms)",
        "energy (uJ)",
        "evaluated",
        "search time (s)",
    ]
    print_table(headers, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
