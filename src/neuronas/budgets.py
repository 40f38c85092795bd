"""The chip's budgets (memory, area, latency, energy), each described once, and their limits."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import attrs

from neuronas.errors import UsageError


@attrs.frozen
class Budget:
    """One of the chip's budgets, described once: what the config, the CLI, the evaluator, the
    result table and the report call it."""

    name: str  # what violations and checks call it
    field: str  # the `Budgets` field that holds its limit
    cost_key: str  # the key of the cost it limits, in every costs mapping
    axis: str  # the report's --x choice for that cost
    unit: str
    default: float
    default_text: str  # how the CLI shows the default

    @property
    def option(self) -> str:
        """The command-line option, e.g. --max-area."""
        return "--max-" + self.field.removeprefix("max_").split("_")[0]


BUDGETS = (
    Budget("memory", "max_params", "params", "params", "weights", 10e6, "10M"),
    Budget("area", "max_area_mm2", "area_mm2", "area", "mm^2", 1000.0, "1000"),
    Budget("latency", "max_latency_ms", "latency_ms", "latency", "ms", 500.0, "500"),
    Budget("energy", "max_energy_uj", "energy_uj", "energy", "uJ", 1000.0, "1000"),
)
BUDGET = {budget.name: budget for budget in BUDGETS}
BUDGET_NAMES = tuple(BUDGET)
COST_KEYS = {budget.name: budget.cost_key for budget in BUDGETS}
UNITS = {budget.cost_key: budget.unit for budget in BUDGETS}

_SUFFIXES = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}


def parse_quantity(text: str | float | int | None, what: str) -> float | None:
    """'10M' -> 1e7, '500' -> 500.0, 'none'/'off' -> None (budget switched off)."""
    if text is None:
        return None
    if isinstance(text, int | float):
        value = float(text)
    else:
        cleaned = text.strip().lower()
        if cleaned in ("none", "off", "inf"):
            return None
        match = re.fullmatch(r"(-?[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kmg]?)", cleaned)
        if not match:
            raise UsageError(
                f"{what}: {text!r} is not a number (examples: 1000, 2.5e3, 10M, 'none' to switch "
                "the budget off)"
            )
        value = float(match.group(1)) * _SUFFIXES[match.group(2)]
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{what} must be a positive number, got {text!r}")
    return value


def _limit(name: str) -> Any:
    """The `Budgets` field of budget ``name``: its default, parsed like the command line's."""
    budget = BUDGET[name]
    where = f"{budget.field} ({budget.option})"
    return attrs.field(default=budget.default, converter=lambda v: parse_quantity(v, where))


@attrs.frozen
class Budgets:
    """The chip's budgets (the paper's defaults); ``None`` switches one off."""

    max_params: float | None = _limit("memory")
    max_area_mm2: float | None = _limit("area")
    max_latency_ms: float | None = _limit("latency")
    max_energy_uj: float | None = _limit("energy")

    def limit(self, budget: str) -> float | None:
        return getattr(self, BUDGET[budget].field)

    def violations(self, costs: Mapping[str, float]) -> dict[str, float]:
        """Relative violation per budget, (cost - limit) / limit: <= 0 is feasible."""
        result = {}
        for budget in BUDGET_NAMES:
            limit = self.limit(budget)
            if limit is not None:
                result[budget] = (costs[COST_KEYS[budget]] - limit) / limit
        return result
