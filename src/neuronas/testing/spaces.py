"""`check_search_space`: the `neuronas.contracts.SearchSpace` contract, rule by rule."""

from __future__ import annotations

import itertools
from typing import Any

import attrs

from neuronas.arch import OP_NAME_PATTERN, Architecture, Cell, LayerShape, Macro
from neuronas.contracts import SearchSpace
from neuronas.errors import NeuronasError
from neuronas.testing import networks
from neuronas.testing.core import Checker, Conformance, check_members, label

#: Every rule `check_search_space` holds a space to, in the order it checks them.
SPACE_RULES: dict[str, str] = {
    "members": "name, description, ops and the five methods of neuronas.contracts.SearchSpace",
    "ops": "ops is a non-empty tuple of distinct operation names",
    "enumerate": "enumerate yields distinct valid cells of the space's ops",
    "enumerate-order": "enumerate yields the same cells in the same order every time",
    "sample": "sample(rng) returns a valid cell of the space",
    "sample-seeded": "sample draws from the rng it is given only, so a seed repeats the cells",
    "is-valid": "is_valid returns a bool, False for a cell with an op outside the space",
    "layer-shapes": "layer_shapes returns conv and linear LayerShapes of positive sizes, the same "
    "every time; include_classifier=True adds layers and drops none",
    "build": "build returns a torch.nn.Module that maps [N, C, H, W] inputs to [N, classes]",
    "build-seeded": "build with the same seed gives the same weights, another seed other weights",
    "shapes-match-network": "layer_shapes(include_classifier=True) are the conv and linear layers "
    "of the built network",
    "invalid-cell": "an architecture with a cell outside the space is a NeuronasError",
}

#: How many cells of ``enumerate`` are checked (a space may hold millions).
ENUMERATED = 1000
SAMPLED = 20


def _layer_problem(layer: Any) -> str | None:
    if not isinstance(layer, LayerShape):
        return f"a {type(layer).__name__}, not a neuronas.arch.LayerShape"
    if layer.kind not in ("conv", "linear"):
        return f"kind {layer.kind!r} (hardware models map 'conv' and 'linear')"
    for field in ("in_channels", "out_channels", "kernel", "in_size", "out_size", "stride"):
        value = getattr(layer, field)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            return f"{field}={value!r} (a positive integer)"
    return None


def check_search_space(space: Any, *, macro: Macro = networks.SMALL_MACRO) -> Conformance:
    """Hold ``space`` to every rule of `SPACE_RULES`; a broken rule is a `ConformanceError`.

    The first `ENUMERATED` cells of ``enumerate()`` are checked, and networks are built at
    ``macro`` (width 8 on 1x8x8 inputs: a moment on a CPU). Needs torch.
    """
    import numpy as np
    import torch

    check = Checker(label("search space", space), SPACE_RULES)
    check_members(check, space, SearchSpace)
    ops = space.ops
    check.ensure(
        "ops",
        isinstance(ops, tuple)
        and bool(ops)
        and len(set(ops)) == len(ops)
        and all(isinstance(op, str) and OP_NAME_PATTERN.fullmatch(op) for op in ops),
        "space.ops",
        f"ops={ops!r}",
    )

    first = check.run(
        "enumerate", "enumerate()", lambda: list(itertools.islice(space.enumerate(), ENUMERATED))
    )
    check.ensure("enumerate", bool(first), "enumerate()", "it yields no cell")
    seen: set[Cell] = set()
    for index, cell in enumerate(first):
        where = f"cell {index} of enumerate()"
        check.ensure("enumerate", isinstance(cell, Cell), where, f"a {type(cell).__name__}")
        check.ensure("enumerate", cell not in seen, where, f"{cell} comes twice")
        seen.add(cell)
        outside = sorted((set(cell.ops) | set(cell.back)) - set(ops))
        check.ensure("enumerate", not outside, where, f"{cell} uses {outside}")
        valid = check.run("is-valid", f"is_valid({cell})", space.is_valid, cell)
        check.ensure("enumerate", valid is True, where, f"is_valid({cell}) gave {valid!r}")
    again = list(itertools.islice(space.enumerate(), ENUMERATED))
    check.ensure(
        "enumerate-order", again == first, "enumerate() twice", "the cells or their order changed"
    )

    sampled = []
    for _ in range(2):
        rng = np.random.default_rng(0)
        sampled.append(
            [check.run("sample", "sample(rng)", space.sample, rng) for _ in range(SAMPLED)]
        )
    for index, cell in enumerate(sampled[0]):
        where = f"draw {index} of sample(np.random.default_rng(0))"
        check.ensure("sample", isinstance(cell, Cell), where, f"a {type(cell).__name__}")
        check.ensure("sample", space.is_valid(cell) is True, where, f"{cell} is not valid")
    check.ensure(
        "sample-seeded",
        sampled[0] == sampled[1],
        "sample(np.random.default_rng(0)) 20 times, twice",
        "the same seed gave other cells",
    )

    outsider = Cell(("not-an-op", *first[0].ops[1:]), first[0].back)
    verdict = check.run("is-valid", f"is_valid({outsider})", space.is_valid, outsider)
    check.ensure(
        "is-valid", verdict is False, f"is_valid({outsider})", f"gave {verdict!r}, not False"
    )

    archs = {
        "the first enumerated cell": Architecture(first[0], first[0], macro),
        "two sampled cells": Architecture(sampled[0][0], sampled[0][1], macro),
    }
    for what, arch in archs.items():
        where = f"{what}, {arch}"
        layers = check.run("layer-shapes", where, space.layer_shapes, arch)
        check.ensure(
            "layer-shapes",
            isinstance(layers, list | tuple) and bool(layers),
            where,
            f"layer_shapes returned {layers!r}",
        )
        for layer in layers:
            problem = _layer_problem(layer)
            check.ensure("layer-shapes", problem is None, where, f"a layer is {problem}")
        check.ensure(
            "layer-shapes",
            list(space.layer_shapes(arch)) == list(layers),
            where,
            "two calls gave other layers",
        )
        full = check.run("layer-shapes", where, space.layer_shapes, arch, include_classifier=True)
        for layer in full:
            problem = _layer_problem(layer)
            check.ensure("layer-shapes", problem is None, where, f"a classifier layer is {problem}")
        missing = [layer for layer in layers if layer not in full]
        check.ensure(
            "layer-shapes",
            not missing and len(full) >= len(layers),
            where,
            f"include_classifier=True drops {missing[:1]}",
        )

        model = check.run("build", where, space.build, arch, seed=0)
        check.ensure(
            "build",
            isinstance(model, torch.nn.Module),
            where,
            f"build returned a {type(model).__name__}",
        )
        state = {key: value.clone() for key, value in model.state_dict().items()}
        batch = networks.input_batches(macro)[0]
        output = check.run("build", f"{where}, one batch", networks.forward, model, batch)
        expected = (batch.shape[0], macro.num_classes)
        check.ensure(
            "build",
            isinstance(output, torch.Tensor) and tuple(output.shape) == expected,
            f"{where}, a batch of shape {tuple(batch.shape)}",
            f"the output has shape {tuple(getattr(output, 'shape', ()))}, not {expected}",
        )
        same = space.build(arch, seed=0).state_dict()
        check.ensure(
            "build-seeded",
            state.keys() == same.keys() and all(torch.equal(state[k], same[k]) for k in state),
            f"{where}, seed=0 twice",
            "the weights differ",
        )
        other = space.build(arch, seed=1).state_dict()
        check.ensure(
            "build-seeded",
            any(not torch.equal(state[k], other[k]) for k in state if k in other),
            f"{where}, seeds 0 and 1",
            "the weights are the same",
        )
        built, described = networks.module_shapes(model), networks.layer_shape_keys(full)
        check.ensure(
            "shapes-match-network",
            built == described,
            where,
            f"the network's (kind, in, out, kernel) layers are {built}, layer_shapes "
            f"describes {described}",
        )

    bad = attrs.evolve(archs["the first enumerated cell"], cell_b=outsider)
    for method in ("layer_shapes", "build"):
        check.refuses(
            "invalid-cell",
            f"{method}() of an architecture whose cell B is {outsider}",
            NeuronasError,
            getattr(space, method),
            bad,
        )
    return check.report()
