"""What the initial weight distribution does to the score: PyTorch's defaults against SNASNet's.

Usage: python benchmarks/bench_init.py [--archs 30] [--dataset digits] [--width 8] [--hidden 128]
                                       [--samples 64] [--space neuronas-3op] [--seed 0]

For ``--archs`` random architectures of the space (cells A and B drawn independently), each scored
at 8-bit weights under both initialisations with the same seed and batches, it prints per scheme:
the mean spike rate of every LIF layer (averaged over architectures; a layer that never fires adds
the same constant to every candidate's kernel), how many scores are -inf, the spread of the scores,
and the Kendall tau between the two schemes' rankings of the same architectures.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import attrs
import numpy as np
import torch
from rich.table import Table
from scipy.stats import kendalltau

from neuronas.arch import Architecture, Macro
from neuronas.console import console
from neuronas.data import sample_batches
from neuronas.fitness import HammingLogDet, lif_layers
from neuronas.plugin import get_component


def layer_group(name: str) -> str:
    """'cell_a.edges.e0_1.lif' -> 'cell_a edges'; the macro's LIFs keep their names."""
    parts = name.split(".")
    return f"{parts[0]} edges" if parts[0].startswith("cell_") else name


def score_all(space, archs, batches, scheme):
    scores, rates = [], defaultdict(list)
    for arch in archs:
        arch = attrs.evolve(arch, macro=attrs.evolve(arch.macro, weight_init=scheme))
        net = space.build(arch, seed=0)
        get_component("quantizer", "fixed-point").quantize(net, 8)
        fired: dict[str, list[float]] = defaultdict(list)

        def recorder(group: str, fired=fired):
            return lambda _module, _inputs, out: fired[group].append(float(out.mean()))

        handles = [
            node.register_forward_hook(recorder(layer_group(name)))
            for name, node in lif_layers(net)
        ]
        scores.append(HammingLogDet().score(net, batches).value)
        for handle in handles:
            handle.remove()
        for group, values in fired.items():
            rates[group].append(float(np.mean(values)))
    return np.array(scores), {group: float(np.mean(v)) for group, v in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", type=int, default=30)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--space", default="neuronas-3op")
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    dataset = get_component("dataset", args.dataset)
    split = dataset.load(None, "train")
    channels, size, _ = split.images.shape[1:]
    macro = Macro(
        width=args.width, in_channels=channels, input_size=size, hidden=args.hidden,
        num_classes=split.num_classes,
    )  # fmt: skip
    space = get_component("space", args.space)
    rng = np.random.default_rng(args.seed)
    archs = [Architecture(space.sample(rng), space.sample(rng), macro) for _ in range(args.archs)]
    batches = sample_batches(split, args.samples, 2, args.seed)
    results = {
        scheme: score_all(space, archs, batches, scheme) for scheme in ("pytorch", "snasnet")
    }

    title = (
        f"{args.archs} random {args.space} architectures on {args.dataset}, width {args.width}, "
        f"hidden {args.hidden}, S = {args.samples}, R = 2, FxP8"
    )
    table = Table(title=title)
    table.add_column("")
    for scheme in results:
        table.add_column(f"init {scheme}", justify="right")
    groups = sorted({g for _scores, rates in results.values() for g in rates})
    for group in groups:
        table.add_row(
            f"spike rate: {group}",
            *(f"{rates.get(group, 0.0):.4f}" for _s, rates in results.values()),
        )
    for label, fn in (
        ("scores -inf", lambda s: f"{int(np.isneginf(s).sum())}"),
        ("score mean", lambda s: f"{np.mean(s[np.isfinite(s)]):.3f}"),
        ("score std over architectures", lambda s: f"{np.std(s[np.isfinite(s)]):.3f}"),
    ):
        table.add_row(label, *(fn(scores) for scores, _rates in results.values()))
    console.print(table)
    first, second = (scores for scores, _rates in results.values())
    finite = np.isfinite(first) & np.isfinite(second)
    tau, p_value = kendalltau(first[finite], second[finite])
    console.print(f"Kendall tau between the two schemes' rankings: {tau:+.3f} (p = {p_value:.2g})")


if __name__ == "__main__":
    main()
