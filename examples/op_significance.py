"""The op-significance study of the NeuroNAS paper (Sec. III-A, Fig. 8), on the Python API.

Scenario-1: remove one operation at a time from SNASNet's 5-op cell space (zero, skip, conv1x1,
conv3x3, avgpool3x3), search each ablated space, and tabulate the best fitness and its memory (conv
weights). Scenario-2: in the 3-op space (skip, conv3x3, avgpool3x3), swap conv3x3 for conv5x5 or
conv7x7. Each ablated space is a `CellSearchSpace` registered from this script as a one-file plugin.

The default is small enough for a CPU (a random search of a few candidates per space, width 4, on
the bundled digits dataset). The paper's scale, for example:

    python examples/op_significance.py --dataset cifar100 --data-dir data --width 128 \
        --strategy two-phase --fitness-batch 256
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

import neuronas
from neuronas.snn import CellSearchSpace

SNASNET_OPS = ("zero", "skip", "conv1x1", "conv3x3", "avgpool3x3")
NEURONAS_OPS = ("skip", "conv3x3", "avgpool3x3")
#: No budget is checked: the study is about what the operations do for fitness and memory.
NO_BUDGETS = {
    "max_params": None,
    "max_area_mm2": None,
    "max_latency_ms": None,
    "max_energy_uj": None,
}


def scenario_spaces() -> list[tuple[str, str, CellSearchSpace]]:
    """(scenario, change, space) for every row of the study."""
    rows = [
        (
            "1",
            "all 5 ops",
            CellSearchSpace("ops-all5", "SNASNet's 5 ops", SNASNET_OPS, require_direct_edge=True),
        )
    ]
    for removed in SNASNET_OPS:
        ops = tuple(op for op in SNASNET_OPS if op != removed)
        rows.append(
            (
                "1",
                f"without {removed}",
                CellSearchSpace(
                    f"ops-no-{removed}",
                    f"SNASNet's ops without {removed}",
                    ops,
                    require_direct_edge="zero" in ops,
                ),
            )
        )
    for conv in ("conv3x3", "conv5x5", "conv7x7"):
        ops = tuple(conv if op == "conv3x3" else op for op in NEURONAS_OPS)
        change = "3 ops (conv3x3)" if conv == "conv3x3" else f"conv3x3 -> {conv}"
        rows.append(("2", change, CellSearchSpace(f"ops-3-{conv}", f"3-op cells with {conv}", ops)))
    return rows


class AblatedSpaces:
    """A one-file plugin: registers the study's spaces next to the built-in ones."""

    def __init__(self, spaces: list[CellSearchSpace]) -> None:
        self.spaces = spaces

    @neuronas.hookimpl
    def neuronas_register_search_spaces(self, register):
        for space in self.spaces:
            register(space)


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    for line in (headers, ["-" * width for width in widths], *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strategy", default="random", help="random (default) or two-phase")
    parser.add_argument("--candidates", type=int, default=40, help="random search: candidates")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir")
    parser.add_argument("--width", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--fitness-batch", type=int, default=16)
    parser.add_argument("--fitness-batches", type=int, default=2)
    parser.add_argument("--weight-bits", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenario", choices=("1", "2", "both"), default="both")
    parser.add_argument("--smoke", action="store_true", help="tiny run for tests: 3 candidates")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # tiny networks: a second thread costs more than it gains

    rows = [r for r in scenario_spaces() if args.scenario in ("both", r[0])]
    neuronas.register_plugin(AblatedSpaces([space for _s, _c, space in rows]), name="op-study")
    table = []
    for scenario, change, space in rows:
        started = time.perf_counter()
        result = neuronas.search(
            space=space.name,
            strategy=args.strategy,
            candidates=3 if args.smoke else args.candidates,
            dataset=args.dataset,
            data_dir=args.data_dir,
            width=args.width,
            hidden=args.hidden,
            fitness_batch=args.fitness_batch,
            fitness_batches=args.fitness_batches,
            weight_bits=args.weight_bits,
            budgets=NO_BUDGETS,
            constraints=False,
            seed=args.seed,
        )
        best = result.best
        table.append(
            [
                scenario,
                change,
                ",".join(space.ops),
                str(result.candidates_scored),
                f"{best.score:.3f}" if best else "-",
                f"{int(best.costs['params']):,}" if best else "-",
                f"{time.perf_counter() - started:.1f}",
            ]
        )
    headers = ["scenario", "space", "ops", "scored", "best fitness", "memory (weights)", "time (s)"]
    print_table(headers, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
