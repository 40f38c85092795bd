"""Exceptions that neuronas raises for bad input, as opposed to bugs.

The CLI turns every `NeuronasError` into a one-line message and its `exit_code`; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class NeuronasError(Exception):
    """Base class of all user-facing errors."""

    exit_code = 1


class UsageError(NeuronasError):
    """Bad arguments or configuration given by the user."""

    exit_code = 2


class UnknownComponentError(UsageError):
    """A component name that no loaded plugin registered."""

    def __init__(self, kind: str, name: str, valid: Iterable[str]):
        self.kind = kind
        self.name = name
        self.valid = sorted(valid)
        message = f"unknown {kind} {name!r}; valid names: {', '.join(self.valid) or '(none)'}"
        close = difflib.get_close_matches(name, self.valid, n=1)
        if close:
            message += f". Did you mean {close[0]!r}?"
        super().__init__(message)


class AmbiguousComponentError(UsageError):
    """An unqualified name that several plugins registered."""


class PluginError(NeuronasError):
    """A plugin that cannot be loaded or that breaks the plugin rules."""


class ArchitectureSyntaxError(UsageError):
    """A malformed architecture or cell string; the message says where and what was expected."""


class DatasetError(NeuronasError):
    """A dataset that is missing or malformed on disk (bad input: exit code 2)."""

    exit_code = 2


class HardwareModelError(NeuronasError):
    """A layer or parameter that a hardware model cannot estimate."""


class NoFeasibleArchitecture(NeuronasError):
    """A search in which no candidate met every budget."""

    exit_code = 3


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (journals flushed, a resume hint), exit code 128 + 15."""

    exit_code = 143


def interrupted_exit_code(interrupt: KeyboardInterrupt) -> int:
    """130 for Ctrl-C, 143 for SIGTERM."""
    return getattr(interrupt, "exit_code", 130)
