"""A HardwareCost as plain data with units, for ``--json``, journals and result files."""

from __future__ import annotations

from typing import Any

from neuronas.budgets import BUDGETS
from neuronas.contracts import HardwareCost

#: The unit of each total, by the name the report and ``--json`` give it.
UNITS = {budget.axis: budget.unit for budget in BUDGETS}


def cost_as_dict(cost: HardwareCost) -> dict[str, Any]:
    """Totals, breakdowns and the resolved hardware parameters; ``params`` is the weight count."""
    return {
        "model": cost.model,
        "area_mm2": cost.area_mm2,
        "latency_ms": cost.latency_ms,
        "energy_uj": cost.energy_uj,
        "n_pe": cost.n_pe,
        "n_tiles": cost.n_tiles,
        "params": cost.n_weights,
        "energy_uj_per_layer": list(cost.energy_uj_per_layer),
        "area_mm2_by_component": dict(cost.area_mm2_by_component),
        "energy_uj_by_component": dict(cost.energy_uj_by_component),
        "per_layer": [dict(layer) for layer in cost.per_layer],
        "hardware_params": dict(cost.params),
        "notes": list(cost.notes),
        "units": UNITS,
    }
