"""`check_executor`: the `neuronas.contracts.Executor` contract, rule by rule.

The functions it maps live at module level, so executors that pickle them to other processes or
machines can ship them.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from neuronas.contracts import Executor
from neuronas.testing.core import Checker, Conformance, check_members, label

#: Every rule `check_executor` holds an executor to, in the order it checks them.
EXECUTOR_RULES: dict[str, str] = {
    "members": "name, description and map, as neuronas.contracts.Executor",
    "order": "map(fn, items, workers) yields fn(item) for every item, in the order of items",
    "empty": "no items give no results",
    "in-process": "an in_process executor yields what fn returns unconsumed (a generator stays "
    "one, so each candidate is journaled as it is scored)",
    "errors": "an exception in fn reaches the caller of map",
}

ITEMS = tuple(range(7))


def square(item: int) -> int:
    return item * item


def count_up(item: int) -> Iterator[int]:
    yield from range(item)


def fail(item: int) -> int:
    raise ValueError(f"deliberate failure on item {item}")


def _results(executor: Any, fn: Any, items: Any, workers: int) -> list[Any]:
    return list(executor.map(fn, items, workers))


def check_executor(executor: Any, *, workers: tuple[int, ...] = (1, 2)) -> Conformance:
    """Hold ``executor`` to every rule of `EXECUTOR_RULES` with each worker count in ``workers``;
    a broken rule is a `ConformanceError`."""
    check = Checker(label("executor", executor), EXECUTOR_RULES)
    check_members(check, executor, Executor)
    expected = [square(item) for item in ITEMS]
    for count in workers:
        where = f"map(square, {list(ITEMS)}, workers={count})"
        results = check.run("order", where, _results, executor, square, ITEMS, count)
        check.ensure("order", results == expected, where, f"gave {results!r}")
        where = f"map(square, [], workers={count})"
        empty = check.run("empty", where, _results, executor, square, (), count)
        check.ensure("empty", empty == [], where, f"gave {empty!r}")
    if getattr(executor, "in_process", False):
        where = "map(count_up, [0, 1, 2, 3])"
        results = check.run("in-process", where, _results, executor, count_up, range(4), 1)
        check.ensure(
            "in-process",
            all(inspect.isgenerator(result) for result in results)
            and [list(result) for result in results] == [list(range(n)) for n in range(4)],
            where,
            f"gave {results!r}, not the generators fn returned",
        )
    check.mark("errors")
    try:
        results = list(executor.map(fail, ITEMS, workers[0]))
    except Exception:
        return check.report()
    check.fail("errors", "map(fail, ...), fn raising on every item", f"gave {results!r}")
