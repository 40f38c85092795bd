"""The options that fill what an architecture string leaves out, shared by the commands that parse
one (`neuronas show`, `neuronas cost`), so each says it the same way (see
`neuronas.api.parse_architecture`)."""

from __future__ import annotations

from collections.abc import Callable

import click

from neuronas.api import DEFAULTS


def arch_input_options(command: Callable) -> Callable:
    """``--dataset`` and ``--event-size``: the input shape and classes an ARCH string may omit."""
    command = click.option(
        "--event-size",
        type=click.IntRange(min=1),
        help="Side of an event dataset's frames (down-sampled) [default: the dataset's].",
    )(command)
    return click.option(
        "--dataset",
        default=DEFAULTS.dataset,
        show_default=True,
        help="Dataset whose input and classes fill what ARCH leaves out.",
    )(command)
