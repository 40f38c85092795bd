"""The precision sweep of the NeuroNAS paper (Figs. 11-13) on the Python API: `neuronas sweep`.

For each weight precision FxP<b>, NeuroNAS (two-phase search over the 3-op space, QaFE at b bits)
searches under the paper's budgets (10M weights, 1000 mm^2, 500 ms, 1000 uJ); the table gives the
found network's memory, area, latency and energy and the search time, next to the SNASNet baseline
(a random search over the 5-op space at FxP32, budgets not checked). The sweep folder also holds
the table as JSON and CSV and the figures (sweep-cost.png, sweep-search-time.png).

The default is small enough for a CPU: precisions 4, 8 and 16, width 4, digits, a 40-candidate
baseline (about a minute). The paper's scale:

    python examples/precision_sweep.py --dataset cifar100 --data-dir data --width 128 \
        --bits 16 14 12 10 8 6 4 --fitness-batch 256 --baseline-candidates 5000
"""

from __future__ import annotations

import argparse
import sys
import tempfile

import torch

from neuronas.search.config import SearchConfig
from neuronas.sweep import SweepConfig, run_sweep
from neuronas.sweep.report import text_table


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
    parser.add_argument("--out", help="sweep folder [default: a temporary one]")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny run for tests: a 6-candidate random search stands in for the two-phase search",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # tiny networks: a second thread costs more than it gains

    search = SearchConfig(
        dataset=args.dataset,
        data_dir=args.data_dir,
        width=args.width,
        hidden=args.hidden,
        fitness_batch=args.fitness_batch,
        fitness_batches=args.fitness_batches,
        hardware=args.hardware,
        seed=args.seed,
        **({"strategy": "random", "candidates": 6} if args.smoke else {}),
    )
    config = SweepConfig(
        search=search,
        weight_bits=tuple(args.bits),
        baseline="snasnet",
        baseline_candidates=6 if args.smoke else args.baseline_candidates,
    )
    with tempfile.TemporaryDirectory() as scratch:
        summary = run_sweep(config, args.out or scratch)
        print(text_table(summary["rows"]), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
