"""The frozen configuration of a precision sweep: the searches it runs and how it trains their picks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from neuronas.errors import UsageError
from neuronas.quantization import check_bits
from neuronas.search.config import SearchConfig

#: The paper's precisions (Figs. 11-13) and SNASNet's 5000 random iterations.
PAPER_BITS = (4, 6, 8, 10, 12, 14, 16)
BASELINE_CANDIDATES = 5000
#: SNASNet has no quantization; the paper costs it at 32-bit fixed point.
BASELINE_BITS = 32


def _bits(_instance: Any, _attribute: attrs.Attribute, value: tuple[int, ...]) -> None:
    if not value:
        raise UsageError("--weight-bits must name at least one precision")
    if len(set(value)) != len(value):
        raise UsageError(f"--weight-bits names a precision twice: {', '.join(map(str, value))}")
    for bits in value:
        check_bits(bits)


def _at_least(minimum: int):
    def check(_instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            name = attribute.name.replace("_", "-")
            raise UsageError(f"--{name} must be an integer >= {minimum}, got {value!r}")

    return check


def _non_negative(_instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not value >= 0:
        raise UsageError(f"--{attribute.name.replace('_', '-')} must be >= 0, got {value!r}")


@attrs.frozen
class Row:
    """One search of the sweep: its folder name, how the table calls it, and its options."""

    key: str
    method: str
    bits: int
    search: SearchConfig


@attrs.frozen
class SweepConfig:
    """One search per precision with ``search``'s options (its ``weight_bits`` replaced), and with
    ``baseline`` (a search space) SNASNet's search as the paper runs it: ``baseline_candidates``
    random architectures, one cell for A and B, budgets not checked, costed at FxP32 by the same
    hardware model. ``train_epochs`` > 0 trains every pick with the `neuronas train` recipe,
    quantization-aware at its precision."""

    search: SearchConfig = attrs.field(factory=SearchConfig)
    weight_bits: tuple[int, ...] = attrs.field(default=PAPER_BITS, converter=tuple, validator=_bits)
    baseline: str | None = None
    baseline_candidates: int = attrs.field(default=BASELINE_CANDIDATES, validator=_at_least(1))
    train_epochs: int = attrs.field(default=0, validator=_at_least(0))
    train_batch_size: int = attrs.field(default=64, validator=_at_least(1))
    train_lr: float = attrs.field(default=0.1, converter=float, validator=_non_negative)
    train_device: str = attrs.field(default="cpu", validator=attrs.validators.in_(("cpu", "cuda")))

    def rows(self) -> list[Row]:
        """The searches in the order the table lists them: the precisions, then the baseline."""
        rows = [
            Row(
                f"neuronas-fxp{bits}", "NeuroNAS", bits, attrs.evolve(self.search, weight_bits=bits)
            )
            for bits in self.weight_bits
        ]
        if self.baseline is not None:
            baseline = attrs.evolve(
                self.search,
                space=self.baseline,
                strategy="random",
                candidates=self.baseline_candidates,
                same_cells=True,
                constraints=False,
                weight_bits=BASELINE_BITS,
            )
            key = f"baseline-{self.baseline}-fxp{BASELINE_BITS}"
            rows.append(Row(key, "SNASNet (random)", BASELINE_BITS, baseline))
        return rows

    def to_dict(self) -> dict[str, Any]:
        values = attrs.asdict(self, recurse=False)
        values["search"] = self.search.to_dict()
        values["weight_bits"] = list(self.weight_bits)
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SweepConfig:
        """A config from ``sweep-config.json``; unknown keys and bad values are UsageErrors."""
        if not isinstance(values, Mapping):
            raise UsageError(f"sweep options must be an object, got {type(values).__name__}")
        unknown = set(values) - {field.name for field in attrs.fields(cls)}
        if unknown:
            raise UsageError(f"unknown sweep option(s): {', '.join(sorted(unknown))}")
        values = dict(values)
        values["search"] = SearchConfig.from_dict(values.get("search") or {})
        try:
            return cls(**values)
        except (TypeError, ValueError) as error:
            raise UsageError(f"sweep options: {error}") from None
