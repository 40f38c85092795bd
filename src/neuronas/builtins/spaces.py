"""Built-in search spaces (NeuroNAS 3-op, SNASNet 5-op, extended with 5x5/7x7 convs) and the
``neuronas show ARCH`` command."""

from __future__ import annotations

from typing import Any

import attrs
import click
from rich.table import Table

from neuronas.api import DEFAULTS, parse_architecture
from neuronas.arch import Cell
from neuronas.builtins.arch_options import arch_input_options
from neuronas.plugin import get_component, guard, hookimpl
from neuronas.snn import CellSearchSpace, count_parameters, memory_cost

NEURONAS_3OP = CellSearchSpace(
    name="neuronas-3op",
    description="NeuroNAS cells: skip, conv3x3, avgpool3x3 on all 6 edges (729 cells)",
    ops=("skip", "conv3x3", "avgpool3x3"),
)
SNASNET = CellSearchSpace(
    name="snasnet",
    description="SNASNet cells: zero, skip, conv1x1, conv3x3, avgpool3x3; edge 0-3 not zero "
    "(12500 cells)",
    ops=("zero", "skip", "conv1x1", "conv3x3", "avgpool3x3"),
    require_direct_edge=True,
    dropout=0.5,
    weight_init="snasnet",
)
SNASNET_BACKWARD = CellSearchSpace(
    name="snasnet-backward",
    description="SNASNet's default backward cells: per node pair a forward or a temporal feedback "
    "edge with one of its 5 ops; edge 0-3 not zero (236196 cells)",
    ops=("zero", "skip", "conv1x1", "conv3x3", "avgpool3x3"),
    require_direct_edge=True,
    backward=True,
    dropout=0.5,
    weight_init="snasnet",
)
EXTENDED = CellSearchSpace(
    name="extended",
    description="3-op cells plus conv5x5 and conv7x7 (the paper's Scenario-2, 15625 cells)",
    ops=("skip", "conv3x3", "avgpool3x3", "conv5x5", "conv7x7"),
)


@hookimpl
def neuronas_register_search_spaces(register: Any) -> None:
    for space in (NEURONAS_3OP, SNASNET, SNASNET_BACKWARD, EXTENDED):
        register(space)


def cell_equations(cell: Cell) -> list[str]:
    """One line per node, e.g. ``x2 = conv3x3(x0) + skip(x1)``; zero edges are left out. With
    backward edges, node inputs are u_i = x_i + f_i and each feedback f_i gets a line."""
    fed_back = {i for _j, i, op in cell.back_items() if op != "zero"}

    def node(index: int) -> str:
        return f"u{index}" if index in fed_back else f"x{index}"

    lines = [f"u{i} = x{i} + f{i}" for i in sorted(fed_back)]
    for target in range(1, cell.nodes):
        terms = [f"{op}({node(source)})" for source, op in cell.inputs_of(target) if op != "zero"]
        lines.append(f"x{target} = {' + '.join(terms) or '0'}")
    for target in sorted(fed_back):
        terms = [f"{op}({node(j)})" for j, op in cell.back_inputs_of(target) if op != "zero"]
        lines.append(f"f{target} = {' + '.join(terms)}  (at the next timestep)")
    return lines


@click.command("show")
@click.argument("arch_text", metavar="ARCH")
@click.option(
    "--space",
    "space_name",
    default=DEFAULTS.space,
    show_default=True,
    help="Search space that builds the cells.",
)
@arch_input_options
@click.option("--include-classifier", is_flag=True, help="Also map the classifier's linear layers.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_command(
    arch_text: str,
    space_name: str,
    dataset: str,
    event_size: int | None,
    include_classifier: bool,
    as_json: bool,
) -> None:
    """Show an architecture: its cells as equations, its weight layers and its memory cost.

    ARCH is an architecture string ('a=<cell>;b=<cell>;width=..') or one cell string
    ('|conv3x3~0|+|skip~0|conv3x3~1|+|...|'), then used as both cell A and cell B. What it leaves
    out is what `neuronas run` would use (width 128, the dataset's input and classes, ...).
    """
    from neuronas.console import console, print_json

    space = get_component("space", space_name)
    arch = parse_architecture(arch_text, space_name, dataset, event_size)
    layers = space.layer_shapes(arch, include_classifier=include_classifier)
    params = count_parameters(guard.call("space", space, "build", arch, seed=0))
    canonical = getattr(space, "canonical", lambda cell: cell)
    cells = {}
    for key, cell in arch.cells.items():
        built = canonical(cell)
        cells[key] = {"string": str(cell), "built_as": str(built), "nodes": cell_equations(built)}
    memory = memory_cost(layers)
    if as_json:
        print_json(
            {
                "architecture": str(arch),
                "space": space.name,
                "cells": cells,
                "layers": [{**attrs.asdict(layer), "weights": layer.weights} for layer in layers],
                "memory_cost": memory,
                "mapped_weights": sum(layer.weights for layer in layers),
                "params": params.as_dict(),
            }
        )
        return
    console.print(f"[bold]architecture[/] {arch}", highlight=False, soft_wrap=True)
    console.print(f"[bold]space[/] {space.name}", highlight=False)
    for key, info in cells.items():
        console.print(f"\n[bold]cell {key.upper()}[/] {info['string']}", highlight=False)
        if info["built_as"] != info["string"]:
            console.print(
                f"  built as {info['built_as']} (dead nodes removed)",
                highlight=False,
                soft_wrap=True,
            )
        for line in info["nodes"]:
            console.print(f"  {line}", highlight=False)
    table = Table(title="weight layers")
    table.add_column("layer", no_wrap=True)
    table.add_column("kind")
    for column in ("channels", "kernel", "map", "weights"):
        table.add_column(column, justify="right", no_wrap=True)
    for layer in layers:
        table.add_row(
            layer.name,
            layer.kind,
            f"{layer.in_channels}->{layer.out_channels}",
            f"{layer.kernel}x{layer.kernel} s{layer.stride}",
            f"{layer.in_size}->{layer.out_size}",
            f"{layer.weights:,}",
        )
    console.print(table)
    console.print(f"memory cost (conv weights): {memory:,}", highlight=False)
    if include_classifier:
        console.print(
            f"mapped weights (with classifier): {sum(layer.weights for layer in layers):,}",
            highlight=False,
        )
    console.print(
        f"classifier params: {params.classifier:,}   BatchNorm params: {params.batchnorm:,}   "
        f"total params: {params.total:,}",
        highlight=False,
        soft_wrap=True,
    )


@hookimpl
def neuronas_register_commands(cli: Any) -> None:
    cli.add_command(show_command)
