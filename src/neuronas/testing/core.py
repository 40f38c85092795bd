"""What every check shares: the rules of a kind, the error that names the broken one, the report."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import attrs

from neuronas.folders import PLAUSIBLE


class ConformanceError(AssertionError):
    """A component broke a rule of its kind's contract; the message names the rule and the input.

    An ``AssertionError``, so pytest reports it as a failed test with the message in full.
    """

    def __init__(self, component: str, rule: str, meaning: str, where: str, detail: str) -> None:
        self.component = component
        self.rule = rule
        self.where = where
        super().__init__(f"{component} breaks rule {rule!r} ({meaning}) on {where}: {detail}")


@attrs.frozen
class Conformance:
    """What a passed check covered: the component and the rules it was held to, in order."""

    component: str
    rules: tuple[str, ...]


@attrs.define
class Checker:
    """Holds one component to the rules of its kind and remembers which rules it was checked on."""

    component: str  # e.g. "hardware model 'my-chip'"
    rules: Mapping[str, str]  # rule -> what it requires
    checked: list[str] = attrs.field(factory=list)

    def fail(self, rule: str, where: str, detail: str) -> NoReturn:
        raise ConformanceError(self.component, rule, self.rules[rule], where, detail)

    def ensure(self, rule: str, holds: bool, where: str, detail: str) -> None:
        """Fail ``rule`` unless ``holds``; ``detail`` says what was found instead."""
        self.mark(rule)
        if not holds:
            self.fail(rule, where, detail)

    def mark(self, rule: str) -> None:
        if rule not in self.rules:
            raise KeyError(f"no rule {rule!r}")
        if rule not in self.checked:
            self.checked.append(rule)

    def run(self, rule: str, where: str, function: Callable[..., Any], *args: Any, **kwargs: Any):
        """``function(*args, **kwargs)``; an exception it raises fails ``rule``."""
        self.mark(rule)
        try:
            return function(*args, **kwargs)
        except ConformanceError:
            raise
        except Exception as error:
            self.fail(rule, where, f"raised {type(error).__name__}: {error}")

    def refuses(
        self, rule: str, where: str, expected: type[Exception], function: Callable[..., Any], *args
    ) -> Exception:
        """The ``expected`` error that ``function(*args)`` must raise; anything else fails ``rule``."""
        self.mark(rule)
        try:
            result = function(*args)
        except expected as error:
            return error
        except Exception as error:
            self.fail(
                rule,
                where,
                f"raised {type(error).__name__}: {error} (expected a {expected.__module__}."
                f"{expected.__name__})",
            )
        self.fail(rule, where, f"accepted it and returned {_short(result)}")

    def report(self) -> Conformance:
        return Conformance(self.component, tuple(self.checked))


def label(kind: str, component: Any) -> str:
    return f"{kind} {getattr(component, 'name', type(component).__name__)!r}"


def check_members(checker: Checker, component: Any, protocol: type) -> None:
    """The protocol's members, a usable ``name`` and a one-line ``description``."""
    from neuronas.plugin.registry import protocol_members

    missing = [member for member in protocol_members(protocol) if not hasattr(component, member)]
    where = f"the {type(component).__name__} object"
    checker.ensure(
        "members",
        not missing,
        where,
        f"lacks {', '.join(missing)} (see neuronas.contracts.{protocol.__name__})",
    )
    name = component.name
    checker.ensure(
        "members",
        isinstance(name, str) and bool(name) and ":" not in name and name.strip() == name,
        where,
        f"name={name!r}; a name is what users type: a non-empty string without ':' or spaces "
        "around it",
    )
    description = component.description
    checker.ensure(
        "members",
        isinstance(description, str) and bool(description.strip()),
        where,
        f"description={description!r}; `neuronas list` shows its first line",
    )


def is_real(value: Any) -> bool:
    """A plain number (int or float, never a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_cost(value: Any) -> bool:
    """A finite number >= 0 (and below `neuronas.folders.PLAUSIBLE`, as the kernel requires)."""
    return is_real(value) and math.isfinite(value) and 0 <= value <= PLAUSIBLE


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
