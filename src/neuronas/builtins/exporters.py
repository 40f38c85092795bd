"""The built-in ``nir`` exporter and the ``neuronas export`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from neuronas.hardware import parse_assignments
from neuronas.nir_export import NirExporter
from neuronas.plugin import hookimpl


@hookimpl
def neuronas_register_exporters(register: Any) -> None:
    register(NirExporter())


@click.command("export")
@click.argument("source", metavar="CHECKPOINT|RUN_DIR", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "format_name",
    default="nir",
    show_default=True,
    help="Exporter, i.e. the file format (see `neuronas list exporter`).",
)
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="File to write, e.g. model.nir."
)
@click.option(
    "--weight-bits",
    type=int,
    help="Post-training quantize to N-bit fixed point first [default: a QAT checkpoint's or the "
    "run's precision, else full precision].",
)
@click.option(
    "--hardware",
    "hardware_name",
    help="Hardware model of the mapping [default: the run's, else spikeflow].",
)
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override one hardware parameter of the mapping, e.g. --set crossbar_size=128. "
    "Repeatable.",
)
@click.option(
    "--mapping",
    "mapping_path",
    type=click.Path(path_type=Path),
    help="Where to write the hardware mapping [default: mapping.json next to --out].",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def export_command(
    source: Path,
    format_name: str,
    out: Path,
    weight_bits: int | None,
    hardware_name: str | None,
    assignments: tuple[str, ...],
    mapping_path: Path | None,
    as_json: bool,
) -> None:
    """Export a trained or found network (NIR by default) and its hardware mapping.

    CHECKPOINT is a checkpoint.pt or the training folder holding it: the trained weights. RUN_DIR is
    a `neuronas run` folder: its best architecture with the seeded initial weights its search scored
    (untrained). Writes --out and mapping.json: every weight layer's PEs, crossbars, tiles, area,
    latency and energy on the hardware model. See docs/from-search-to-chip.md.
    """
    from neuronas.console import console, print_json
    from neuronas.exporting import export

    result = export(
        source,
        out,
        format=format_name,
        weight_bits=weight_bits,
        hardware=hardware_name,
        params=parse_assignments(assignments),
        mapping=mapping_path,
    )
    if as_json:
        print_json(result.to_dict())
        return
    metadata, cost = result.metadata, result.cost
    console.print(f"[bold]exported[/] {metadata['arch']}", highlight=False, soft_wrap=True)
    console.print(
        f"{metadata['precision']}; {metadata['weights_from']}", highlight=False, soft_wrap=True
    )
    for path in result.files:
        console.print(f"wrote {path} ({format_name})", highlight=False)
    console.print(
        f"wrote {result.mapping} ({cost.model}: {cost.area_mm2:.4g} mm^2, "
        f"{cost.latency_ms:.4g} ms, {cost.energy_uj:.4g} uJ, {cost.n_pe} PEs)",
        highlight=False,
    )


@hookimpl
def neuronas_register_commands(cli: Any) -> None:
    cli.add_command(export_command)
