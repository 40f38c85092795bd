"""Built-in search spaces: size, Algorithm 1 order, validity rules, sampling, plugin registration."""

import itertools

import numpy as np
import pytest
import torch

import neuronas
from neuronas.arch import Architecture, Cell, Macro
from neuronas.builtins.spaces import EXTENDED, NEURONAS_3OP, SNASNET, SNASNET_BACKWARD
from neuronas.contracts import SearchSpace
from neuronas.errors import UsageError
from neuronas.snn import (
    BUILTIN_OPS,
    CellModule,
    CellSearchSpace,
    OpSpec,
    SpikingConv,
    live_nodes,
)

TINY = Macro(width=4, timesteps=2, input_size=8, num_classes=3, hidden=8, population=2)


def cell(*ops):
    return Cell(ops)


def test_builtin_spaces_are_registered_by_the_spaces_plugin():
    host = neuronas.plugin.get_host()
    names = {entry.name for entry in host.registry.entries("space") if entry.plugin == "spaces"}
    assert names == {"neuronas-3op", "snasnet", "snasnet-backward", "extended"}
    space = neuronas.get_component("space", "neuronas-3op")
    assert isinstance(space, SearchSpace)
    assert space.ops == ("skip", "conv3x3", "avgpool3x3")


def test_enumeration_follows_algorithm_1_order():
    cells = list(NEURONAS_3OP.enumerate())
    expected = [Cell(ops) for ops in itertools.product(NEURONAS_3OP.ops, repeat=6)]
    assert cells == expected
    assert cells[0] == cell(*["skip"] * 6)
    assert cells[1] == cell("skip", "skip", "skip", "skip", "skip", "conv3x3")  # c23 fastest
    assert cells[243] == cell("conv3x3", *["skip"] * 5)  # c01 slowest


def test_snasnet_enumerates_cells_whose_direct_edge_is_not_zero_in_order():
    cells = list(SNASNET.enumerate())
    assert len(cells) == 4 * 5**5
    assert all(c.op(0, 3) != "zero" for c in cells)
    assert cells == sorted(cells, key=lambda c: [SNASNET.ops.index(op) for op in c.ops])


@pytest.mark.parametrize(
    ("ops", "valid"),
    [
        (("zero", "zero", "skip", "zero", "zero", "zero"), True),  # only the direct edge
        (("conv3x3", "conv3x3", "zero", "conv3x3", "conv3x3", "conv3x3"), False),  # no 0-3
        (("zero", "zero", "zero", "zero", "zero", "zero"), False),
        (("skip", "zero", "conv1x1", "zero", "zero", "zero"), True),  # node 1, 2 dead: still ok
        (("zero", "skip", "avgpool3x3", "conv3x3", "zero", "skip"), True),
    ],
)
def test_snasnet_validity_matches_hand_checked_cells(ops, valid):
    assert SNASNET.is_valid(Cell(ops)) is valid


@pytest.mark.parametrize(
    ("ops", "built"),
    [
        # node 1 unreachable from the input (0-1 zero): its out-edges go
        (
            ("zero", "skip", "conv3x3", "conv3x3", "conv1x1", "skip"),
            ("zero", "skip", "conv3x3", "zero", "zero", "skip"),
        ),
        # node 2 reaches nothing (2-3 zero): its in-edges go
        (
            ("skip", "conv3x3", "skip", "conv1x1", "conv3x3", "zero"),
            ("skip", "zero", "skip", "zero", "conv3x3", "zero"),
        ),
        # everything alive: unchanged
        (
            ("skip", "conv3x3", "skip", "conv1x1", "conv3x3", "avgpool3x3"),
            ("skip", "conv3x3", "skip", "conv1x1", "conv3x3", "avgpool3x3"),
        ),
    ],
)
def test_snasnet_builds_cells_without_dead_nodes(ops, built):
    assert SNASNET.canonical(Cell(ops)) == Cell(built)
    layers = SNASNET.layer_shapes(Architecture(Cell(ops), Cell(ops), TINY))
    convs = [layer.name for layer in layers if layer.role == "cell_a"]
    expected = [
        f"cell_a.edges.e{i}_{j}.conv" for i, j, op in Cell(built).items() if op.startswith("conv")
    ]
    assert sorted(convs) == sorted(expected)


def test_live_nodes_follow_non_zero_paths():
    c = cell("skip", "zero", "zero", "zero", "skip", "zero")  # 0 -> 1 -> 3; node 2 isolated
    assert live_nodes(c, lambda op: op == "zero") == {0, 1, 3}


def test_spaces_without_zero_accept_every_cell_of_their_ops():
    assert sum(1 for _ in EXTENDED.enumerate()) == 5**6
    assert not NEURONAS_3OP.is_valid(cell("conv5x5", *["skip"] * 5))
    assert EXTENDED.is_valid(cell("conv5x5", *["skip"] * 5))
    assert not NEURONAS_3OP.is_valid(Cell(("skip",) * 10))  # 5 nodes


@pytest.mark.parametrize("space", [NEURONAS_3OP, SNASNET, EXTENDED], ids=lambda s: s.name)
def test_sampling_is_seeded_and_valid(space):
    first = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    again = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    assert first == again
    rng = np.random.default_rng(0)
    drawn = [space.sample(rng) for _ in range(200)]
    assert all(space.is_valid(c) for c in drawn)
    assert len(set(drawn)) > 150  # spread over the space, not stuck on a few cells
    assert {op for c in drawn for op in c.ops} == set(space.ops)


def test_build_rejects_a_cell_outside_the_space_naming_it():
    bad = cell("conv5x5", *["skip"] * 5)
    good = cell(*["skip"] * 6)
    with pytest.raises(UsageError, match=r"cell B .* op 'conv5x5' on edge 0-1 is not in space"):
        NEURONAS_3OP.build(Architecture(good, bad, TINY))
    with pytest.raises(UsageError, match=r"cell A .*direct edge 0-3 must not be a zero op"):
        SNASNET.layer_shapes(Architecture(cell(*["zero"] * 6), good, TINY))


def test_a_third_party_space_with_more_nodes_and_its_own_op():
    class Double(torch.nn.Module):
        def forward(self, x):
            return 2 * x

    ops = {**BUILTIN_OPS, "double": OpSpec("double", lambda _w: Double())}
    space = CellSearchSpace("five", "5-node cells", ("double", "conv3x3"), nodes=5, op_specs=ops)

    class Plugin:
        @neuronas.hookimpl
        def neuronas_register_search_spaces(self, register):
            register(space)

    neuronas.register_plugin(Plugin(), name="five-plugin")
    found = neuronas.get_component("space", "five")
    assert sum(1 for _ in found.enumerate()) == 2**10
    arch = Architecture(cell(*["double"] * 10), cell("conv3x3", *["double"] * 9), TINY)
    net = found.build(arch, seed=0)
    assert net(torch.rand(2, 3, 8, 8)).shape == (2, 3)
    assert isinstance(net.cell_b.edges["e0_1"], SpikingConv)
    assert [layer.role for layer in found.layer_shapes(arch)].count("cell_b") == 1


# --- SNASNet's backward cells --------------------------------------------------------------------

THREE_NODE_BACKWARD = CellSearchSpace(
    "tiny-backward",
    "3-node backward cells",
    ("zero", "skip", "conv3x3"),
    nodes=3,
    require_direct_edge=True,
    backward=True,
)


def test_backward_space_enumerates_a_forward_or_a_backward_op_per_pair():
    # per pair: zero, 2 forward ops or 2 backward ops (5 choices); edge 0-2 forward and non-zero
    cells = list(THREE_NODE_BACKWARD.enumerate())
    assert len(cells) == 5 * 5 * 2
    assert len(set(cells)) == len(cells)
    # without feedback: pairs 0-1 and 1-2 zero or forward (3 x 3), edge 0-2 forward (2)
    assert sum(1 for c in cells if not c.back) == 3 * 3 * 2
    for each in cells:
        for source, target, op in each.back_items():
            assert op == "zero" or each.op(target, source) == "zero"


def test_backward_cells_need_a_backward_space_and_one_edge_per_pair():
    both = Cell.parse(
        "|skip~0|+|conv3x3~0|zero~1|+|skip~0|skip~1|zero~2|<|skip~1|zero~2|zero~3|+|zero~2|zero~3|+|zero~3|"
    )
    assert "has no backward edges" in SNASNET.why_invalid(both)
    assert "node pair 0-1 has both a forward edge (skip) and a backward edge (skip)" in (
        SNASNET_BACKWARD.why_invalid(both)
    )
    one = Cell.parse(
        "|zero~0|+|conv3x3~0|zero~1|+|skip~0|skip~1|zero~2|<|skip~1|zero~2|zero~3|+|zero~2|zero~3|+|zero~3|"
    )
    assert SNASNET_BACKWARD.is_valid(one)


def test_pruning_follows_backward_edges_as_snasnet_does():
    # node 1 has no forward input, but node 3 feeds it back (3 -> 1) and it feeds 2 -> 3: alive.
    fed_back = Cell.parse(
        "|zero~0|+|zero~0|conv3x3~1|+|skip~0|zero~1|skip~2|<|zero~1|zero~2|zero~3|+|zero~2|avgpool3x3~3|+|zero~3|"
    )
    assert live_nodes(fed_back, "zero".__eq__) == {0, 1, 2, 3}
    assert SNASNET_BACKWARD.canonical(fed_back) == fed_back
    # without the feedback edge node 1 is unreachable, so 1 -> 2 and then 2 -> 3 go too
    cut = Cell(fed_back.ops)
    assert live_nodes(cut, "zero".__eq__) == {0, 3}
    assert SNASNET_BACKWARD.canonical(cut) == cell("zero", "zero", "skip", "zero", "zero", "zero")


def test_backward_sampling_draws_both_kinds_of_edge():
    rng = np.random.default_rng(0)
    drawn = [SNASNET_BACKWARD.sample(rng) for _ in range(300)]
    assert all(SNASNET_BACKWARD.is_valid(c) for c in drawn)
    with_feedback = [c for c in drawn if c.back]
    # pair 0-3 is forward; each of the other 5 has no feedback with probability 1/2 + 1/2 * 1/5,
    # so 1 - 0.6**5 = 92% of the cells have some (seen: 89% of these 300)
    assert 0.8 * len(drawn) < len(with_feedback) < len(drawn)
    assert {op for c in with_feedback for op in c.back} == set(SNASNET_BACKWARD.ops)


def test_backward_cells_build_run_and_map_their_feedback_convs():
    fed_back = Cell.parse(
        "|zero~0|+|zero~0|conv3x3~1|+|skip~0|zero~1|skip~2|<|zero~1|zero~2|zero~3|+|zero~2|conv1x1~3|+|zero~3|"
    )
    arch = Architecture(fed_back, fed_back, TINY)
    net = SNASNET_BACKWARD.build(arch, seed=0)
    assert net(torch.rand(2, 3, 8, 8)).shape == (2, 3)
    names = [layer.name for layer in SNASNET_BACKWARD.layer_shapes(arch)]
    assert names == [
        "stem.conv",
        "cell_a.edges.e1_2.conv",
        "cell_a.back_edges.b3_1.conv",
        "downsample.conv",
        "cell_b.edges.e1_2.conv",
        "cell_b.back_edges.b3_1.conv",
    ]
    assert net.cell_a.back_edges["b3_1"].conv.kernel_size == (1, 1)


def test_feedback_reaches_the_next_timestep_only():
    # x1 = x0; x2 = skip(u1) with u1 = x1 + skip(x2 of the previous step); x2 = output.
    module = CellModule(Cell(("skip", "zero", "skip"), ("zero", "zero", "skip")), 1, BUILTIN_OPS)
    x = torch.tensor([1.0, 10.0, 100.0]).view(3, 1, 1, 1, 1)
    # t0: 1; t1: 10 + 1 = 11; t2: 100 + 11 = 111
    assert module(x).flatten().tolist() == [1.0, 11.0, 111.0]
