"""Microseconds per cost evaluation of a 12-layer network, per hardware model (target <= 50 us).

SpikeSim's own code takes about 0.5 ms per network. Run: ``python benchmarks/bench_cost_model.py``.
"""

from __future__ import annotations

import timeit

from rich.console import Console
from rich.table import Table

from neuronas.arch import LayerShape
from neuronas.hardware import SpikeFlowModel, SpikeSimModel

TARGET_US = 50.0


def twelve_layers() -> list[LayerShape]:
    """A CIFAR-sized network: stem, three stages of 3x3 convs, a 1x1 and the classifier."""
    shapes = [(3, 128, 32), (128, 128, 32), (128, 128, 32), (128, 128, 32), (128, 256, 16),
              (256, 256, 16), (256, 256, 16), (256, 512, 8), (512, 512, 8), (512, 512, 8),
              (512, 256, 8)]  # fmt: skip
    layers = [
        LayerShape("conv", cin, cout, 1 if i == 10 else 3, size, size, name=f"conv{i}")
        for i, (cin, cout, size) in enumerate(shapes)
    ]
    layers.append(LayerShape("linear", 256 * 8 * 8, 10, 1, 1, 1, name="classifier"))
    return layers


def main() -> None:
    layers = twelve_layers()
    table = Table(title=f"cost evaluation, {len(layers)}-layer network")
    for column in ("model", "us / evaluation", "evaluations / s", f"<= {TARGET_US:.0f} us"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for model in (SpikeFlowModel(), SpikeSimModel()):
        config = model.make_config({"weight_bits": 8})
        runs = 2000
        best = min(
            timeit.repeat(lambda m=model, c=config: m.estimate(layers, c), number=runs, repeat=5)
        )
        micros = best / runs * 1e6
        table.add_row(
            model.name,
            f"{micros:.1f}",
            f"{1e6 / micros:,.0f}",
            "yes" if micros <= TARGET_US else "no",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
