"""Built-in executor: evaluate candidates in this process."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from neuronas.plugin import hookimpl


class LocalExecutor:
    name = "local"
    description = "Score candidates one after another in this process (the default)."

    def map(
        self, fn: Callable[[Any], Any], items: Iterable[Any], workers: int = 1
    ) -> Iterator[Any]:
        for item in items:
            yield fn(item)


@hookimpl
def neuronas_register_executors(register):
    register(LocalExecutor())
