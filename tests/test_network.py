"""The spiking network: forward semantics on hand-checkable tensors, layer shapes against what a
forward pass convolves, parameter counts, and seeded (common random numbers) initialisation."""

import math

import attrs
import pytest
import torch
from spikingjelly.activation_based import functional, neuron
from torch import nn

from neuronas.arch import Architecture, Cell, Macro
from neuronas.builtins.spaces import EXTENDED, NEURONAS_3OP, SNASNET, SNASNET_BACKWARD
from neuronas.errors import UsageError
from neuronas.snn import (
    BUILTIN_OPS,
    CellModule,
    SpikingNetwork,
    count_parameters,
    feature_sizes,
    free_dropout,
    make_lif,
    memory_cost,
)

TINY = Macro(width=4, timesteps=2, input_size=8, num_classes=3, hidden=8, population=2)
ALL_CONV = Cell(("conv3x3",) * 6)
ALL_SKIP = Cell(("skip",) * 6)
MIXED = Cell(("conv3x3", "skip", "avgpool3x3", "conv3x3", "skip", "avgpool3x3"))


def arch_of(a, b=None, **macro):
    return Architecture(a, b or a, attrs.evolve(TINY, **macro))


# --- forward semantics ---------------------------------------------------------------------------


def test_cell_sums_its_edges_node_by_node():
    x = torch.arange(2 * 1 * 1 * 3 * 3, dtype=torch.float32).view(2, 1, 1, 3, 3)
    # x1 = x0; x2 = x0 + x1 = 2 x0; x3 = x0 + x1 + x2 = 4 x0
    assert torch.equal(CellModule(ALL_SKIP, 1, BUILTIN_OPS)(x), 4 * x)
    # x1 = skip(x0); x2 = avgpool(x0); x3 = skip(x1) + skip(x2) = x0 + avgpool(x0)
    cell = Cell(("skip", "avgpool3x3", "zero", "zero", "skip", "skip"))
    pooled = nn.functional.avg_pool2d(x.flatten(0, 1), 3, 1, 1).view_as(x)
    assert torch.allclose(CellModule(cell, 1, BUILTIN_OPS)(x), x + pooled)
    # all zero: the output is zeros of the input's shape
    assert torch.equal(CellModule(Cell(("zero",) * 6), 1, BUILTIN_OPS)(x), torch.zeros_like(x))


def test_lif_integrates_leaks_fires_and_resets_to_zero():
    lif = make_lif()
    assert (lif.tau, lif.v_threshold, lif.v_reset, lif.detach_reset) == (4 / 3, 1.0, 0.0, True)
    # H[t] = V[t-1] + (X - V[t-1]) / tau: 0.9 -> 0.675 -> 0.84375 -> 0.8859 ... never fires;
    # 1.5 -> 1.125 fires and resets to 0, every step.
    x = torch.tensor([[0.9, 1.5]] * 3)
    assert lif(x).tolist() == [[0.0, 1.0]] * 3
    assert lif.v.tolist() == pytest.approx([0.9 - 0.9 * 0.25**3, 0.0])


def test_conv_edge_spikes_then_convolves_then_normalises():
    edge = BUILTIN_OPS["conv1x1"].make(2).eval()
    with torch.no_grad():
        edge.conv.weight.copy_(torch.tensor([[1.0, 0.5], [0.25, 2.0]]).view(2, 2, 1, 1))
    # channel 0 fires at every step (input 2), channel 1 never (input 0.5)
    x = torch.tensor([2.0, 0.5]).view(1, 1, 2, 1, 1).repeat(3, 1, 1, 1, 1)
    out = edge(x) * math.sqrt(1 + edge.bn.eps)  # undo eval-mode BN with fresh statistics
    assert out.flatten().tolist() == pytest.approx([1.0, 0.25] * 3)


def test_logits_are_the_timestep_mean_of_population_averaged_outputs():
    net = NEURONAS_3OP.build(arch_of(MIXED, timesteps=3), seed=0).eval()
    seen = {}
    net.classifier.out.register_forward_hook(lambda m, i, o: seen.setdefault("out", o))
    x = torch.rand(2, 3, 8, 8)
    with torch.no_grad():
        logits = net(x)
    out = seen["out"]  # [T, N, classes * population]
    assert out.shape == (3, 2, 3 * 2)
    expected = out.view(3, 2, 3, 2).mean(-1).mean(0)
    assert logits.shape == (2, 3)
    assert torch.allclose(logits, expected)


def test_stem_runs_once_and_its_output_is_repeated_every_timestep():
    net = NEURONAS_3OP.build(arch_of(ALL_SKIP, timesteps=4), seed=0)
    calls = []
    net.stem.register_forward_hook(lambda m, i, o: calls.append(o))
    net.cell_a.register_forward_hook(lambda m, i, o: calls.append(i[0]))
    net(torch.rand(2, 3, 8, 8))
    stem_out, cell_in = calls
    assert stem_out.shape == (2, 4, 8, 8)
    assert cell_in.shape == (4, 2, 4, 8, 8)
    assert all(torch.equal(cell_in[t], stem_out) for t in range(4))


@pytest.mark.parametrize("space", [NEURONAS_3OP, SNASNET, EXTENDED], ids=lambda s: s.name)
def test_spikes_are_binary_in_eval_mode_and_reset_makes_runs_repeatable(space):
    cell = Cell(("avgpool3x3",) + ("conv3x3",) * 5)
    net = space.build(arch_of(cell), seed=1).eval()
    spikes = []
    for module in net.modules():
        if isinstance(module, neuron.LIFNode):
            module.register_forward_hook(lambda m, i, o: spikes.append(o))
    x = 3 * torch.rand(4, 3, 8, 8)
    with torch.no_grad():
        first = net(x)
        functional.reset_net(net)
        second = net(x)
    assert torch.equal(first, second)
    assert len(spikes) == 2 * (5 + 5 + 3)  # 5 conv edges per cell, downsample, head, classifier
    assert all(torch.all((s == 0) | (s == 1)) for s in spikes)
    assert any(s.sum() > 0 for s in spikes)


def test_forward_rejects_an_input_of_the_wrong_shape():
    net = NEURONAS_3OP.build(arch_of(ALL_SKIP))
    with pytest.raises(UsageError, match=r"shape \(2, 3, 16, 16\); expected \[N, 3, 8, 8\]"):
        net(torch.rand(2, 3, 16, 16))


def test_training_mode_backpropagates_through_the_surrogate():
    net = NEURONAS_3OP.build(arch_of(ALL_CONV), seed=0)
    net(2 * torch.rand(4, 3, 8, 8)).sum().backward()
    assert net.cell_a.edges["e0_1"].conv.weight.grad is not None


# --- sizes and layer shapes ----------------------------------------------------------------------


def test_feature_sizes_follow_the_stem_stride_and_the_two_pools():
    assert attrs.astuple(feature_sizes(Macro(input_size=64, stem_stride=2))) == (32, 16, 8)
    assert attrs.astuple(feature_sizes(Macro(input_size=32))) == (32, 16, 8)
    assert attrs.astuple(feature_sizes(Macro(input_size=4))) == (4, 2, 1)


@pytest.mark.parametrize(
    ("size", "stride", "suggestion"),
    [
        (2, 1, "multiple of 4 \\(e.g. 4\\)"),
        (30, 1, "e.g. 28"),
        (36, 2, "multiple of 8 \\(e.g. 32\\)"),
        (63, 2, "of 8"),
    ],
)
def test_inputs_the_pools_cannot_halve_twice_are_refused_clearly(size, stride, suggestion):
    arch = arch_of(ALL_SKIP, input_size=size, stem_stride=stride)
    with pytest.raises(
        UsageError, match=f"input size {size} with stem stride {stride}.*{suggestion}"
    ):
        NEURONAS_3OP.layer_shapes(arch)
    with pytest.raises(UsageError, match="two 2x2 average pools"):
        NEURONAS_3OP.build(arch)


def convolved_layers(net, x):
    """(name, kind, in, out, kernel, stride, in side, out side) of every conv/linear a forward runs."""
    seen = []
    names = {module: name for name, module in net.named_modules()}

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            seen.append(
                (
                    names[module],
                    "conv",
                    module.in_channels,
                    module.out_channels,
                    module.kernel_size[0],
                    module.stride[0],
                    inputs[0].shape[-1],
                    output.shape[-1],
                )
            )
        else:
            seen.append(
                (names[module], "linear", module.in_features, module.out_features, 1, 1, 1, 1)
            )

    for module in net.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            module.register_forward_hook(hook)
    with torch.no_grad():
        net(x)
    return seen


@pytest.mark.parametrize(
    ("space", "a", "b", "macro"),
    [
        (NEURONAS_3OP, MIXED, ALL_CONV, {}),
        (NEURONAS_3OP, ALL_SKIP, MIXED, {"input_size": 16, "stem_stride": 2, "in_channels": 1}),
        (
            EXTENDED,
            Cell(("conv5x5", "conv7x7", "skip", "conv3x3", "avgpool3x3", "conv7x7")),
            ALL_SKIP,
            {"width": 6},
        ),
        (
            SNASNET,
            Cell(("zero", "conv1x1", "skip", "conv3x3", "conv3x3", "conv1x1")),
            Cell(("conv1x1", "zero", "skip", "conv3x3", "zero", "zero")),
            {},
        ),
    ],
)
@pytest.mark.parametrize("include_classifier", [False, True])
def test_layer_shapes_equal_what_a_forward_pass_convolves(space, a, b, macro, include_classifier):
    arch = arch_of(a, b, **macro)
    net = space.build(arch)
    derived = [
        (
            layer.name,
            layer.kind,
            layer.in_channels,
            layer.out_channels,
            layer.kernel,
            layer.stride,
            layer.in_size,
            layer.out_size,
        )
        for layer in space.layer_shapes(arch, include_classifier=include_classifier)
    ]
    seen = convolved_layers(
        net, torch.rand(2, arch.macro.in_channels, *(2 * [arch.macro.input_size]))
    )
    if not include_classifier:
        seen = [layer for layer in seen if layer[1] == "conv"]
    assert derived == seen


# --- parameter counts ----------------------------------------------------------------------------


# width 4 on 3x8x8: stem 3*4*9 = 108, downsample 4*8*9 = 288; a cell A conv3x3 edge 4*4*9 = 144,
# a cell B conv3x3 edge 8*8*9 = 576; BN: stem 8, downsample 8 + 16, head 16, 8 / 16 per conv edge;
# classifier: (8 * 2 * 2) * 8 = 256 hidden weights, 8 * 6 + 6 out weights and biases = 54.
@pytest.mark.parametrize(
    ("space", "a", "b", "memory", "batchnorm"),
    [
        (NEURONAS_3OP, ALL_SKIP, ALL_SKIP, 108 + 288, 8 + 24 + 16),
        (NEURONAS_3OP, ALL_CONV, ALL_CONV, 108 + 288 + 6 * 144 + 6 * 576, 48 + 6 * 8 + 6 * 16),
        (NEURONAS_3OP, MIXED, ALL_SKIP, 108 + 288 + 2 * 144, 48 + 2 * 8),
        (
            EXTENDED,
            Cell(("conv5x5", "conv7x7") + ("skip",) * 4),
            Cell(("conv7x7",) + ("skip",) * 5),
            108 + 288 + 4 * 4 * 25 + 4 * 4 * 49 + 8 * 8 * 49,
            48 + 2 * 8 + 16,
        ),
        (
            SNASNET,
            Cell(("conv1x1", "zero", "skip", "zero", "conv3x3", "zero")),
            ALL_SKIP,
            108 + 288 + 16 + 144,
            48 + 2 * 8,
        ),
        # dead node 2 (its only way out, 2-3, is zero): the conv3x3 edges 0-2, 1-2 are not built
        (
            SNASNET,
            Cell(("skip", "conv3x3", "skip", "conv3x3", "conv1x1", "zero")),
            ALL_SKIP,
            108 + 288 + 16,
            48 + 8,
        ),
    ],
)
def test_parameter_counts_match_hand_computed_values(space, a, b, memory, batchnorm):
    arch = arch_of(a, b)
    layers = space.layer_shapes(arch)
    assert memory_cost(layers) == memory
    assert memory_cost(space.layer_shapes(arch, include_classifier=True)) == memory
    with_classifier = space.layer_shapes(arch, include_classifier=True)
    assert memory_cost(with_classifier, include_classifier=True) == memory + 256 + 48
    summary = count_parameters(space.build(arch))
    assert summary.as_dict() == {
        "memory": memory,
        "classifier": 256 + 54,
        "batchnorm": batchnorm,
        "other": 0,
        "total": memory + 310 + batchnorm,
    }
    assert summary.total == sum(p.numel() for p in space.build(arch).parameters())


def test_default_macro_memory_matches_snasnet_sized_layers():
    # CIFAR macro, width 128: one conv3x3 per cell -> 3456 + 147456 + 294912 + 589824
    cell = Cell(("conv3x3",) + ("skip",) * 5)
    assert memory_cost(NEURONAS_3OP.layer_shapes(Architecture(cell, cell))) == 1_035_648


# --- seeded initialisation -----------------------------------------------------------------------


def weights(net):
    return {name: p.detach().clone() for name, p in net.named_parameters()}


def test_same_seed_same_weights_and_none_is_fresh_default_init():
    arch = arch_of(MIXED)
    assert all(
        torch.equal(x, y)
        for x, y in zip(
            weights(NEURONAS_3OP.build(arch, seed=5)).values(),
            weights(NEURONAS_3OP.build(arch, seed=5)).values(),
            strict=True,
        )
    )
    fresh = weights(NEURONAS_3OP.build(arch)), weights(NEURONAS_3OP.build(arch))
    assert not torch.equal(fresh[0]["stem.conv.weight"], fresh[1]["stem.conv.weight"])
    other_seed = weights(NEURONAS_3OP.build(arch, seed=6))
    assert not torch.equal(
        other_seed["stem.conv.weight"],
        weights(NEURONAS_3OP.build(arch, seed=5))["stem.conv.weight"],
    )


def test_shared_layers_at_the_same_place_get_identical_weights():
    first = weights(EXTENDED.build(arch_of(MIXED, ALL_CONV), seed=3))
    other_cell = Cell(("conv3x3", "conv5x5", "skip", "conv7x7", "skip", "conv3x3"))
    second = weights(EXTENDED.build(arch_of(other_cell, ALL_CONV), seed=3))
    for name in (
        "stem.conv.weight",
        "downsample.conv.weight",
        "classifier.hidden.weight",
        "classifier.out.bias",
        "cell_a.edges.e0_1.conv.weight",
        "cell_b.edges.e1_2.conv.weight",
    ):
        assert torch.equal(first[name], second[name]), name
    # the same op on another edge, or another op on the same edge, is drawn independently
    assert not torch.equal(
        first["cell_a.edges.e0_1.conv.weight"], first["cell_a.edges.e1_2.conv.weight"]
    )
    assert not torch.equal(
        first["cell_a.edges.e1_2.conv.weight"].flatten()[:16],
        second["cell_a.edges.e1_2.conv.weight"].flatten()[:16],
    )
    assert first["cell_a.edges.e1_2.conv.weight"].shape == (4, 4, 3, 3)


def test_seeded_init_uses_pytorchs_default_distribution():
    net = NEURONAS_3OP.build(arch_of(ALL_CONV, width=8), seed=0)
    for module in (net.downsample.conv, net.classifier.hidden, net.classifier.out):
        fan_in = module.weight[0].numel()
        bound = 1 / math.sqrt(fan_in)  # kaiming_uniform(a=sqrt(5))
        assert module.weight.abs().max() <= bound
        assert module.weight.abs().max() > 0.9 * bound
        assert abs(module.weight.mean()) < 0.1 * bound
    assert net.classifier.out.bias.abs().max() <= 1 / math.sqrt(net.classifier.out.in_features)
    bn = net.cell_a.edges["e0_1"].bn
    assert torch.equal(bn.weight, torch.ones(8)) and torch.equal(bn.running_var, torch.ones(8))


def test_seeded_build_equals_seeding_a_default_built_network():
    arch = arch_of(MIXED)
    built = NEURONAS_3OP.build(arch, seed=9)
    reference = SpikingNetwork(arch, BUILTIN_OPS)
    reference.reset_parameters(9)
    assert built.state_dict().keys() == reference.state_dict().keys()
    for key, value in reference.state_dict().items():
        assert torch.equal(built.state_dict()[key], value), key


# --- SNASNet's classifier dropout ----------------------------------------------------------------


def test_dropout_keeps_one_seeded_mask_per_sequence_and_is_off_in_eval():
    net = NEURONAS_3OP.build(arch_of(MIXED, dropout=0.5), seed=0)
    dropout = net.classifier.dropout
    x = torch.ones(2, 4, 6)  # [T, N, features]
    first = dropout(x)
    assert torch.equal(first[0], first[1])  # one mask for every timestep
    assert set(first.unique().tolist()) == {0.0, 2.0}
    functional.reset_net(net)
    assert torch.equal(dropout(x), first)  # seeded: the same mask after a reset
    other = NEURONAS_3OP.build(arch_of(MIXED, dropout=0.5), seed=1).classifier.dropout
    assert not torch.equal(other(x), first)
    assert torch.equal(dropout.eval()(x), x)


def test_free_dropout_draws_a_fresh_mask_per_sequence_for_training():
    net = free_dropout(NEURONAS_3OP.build(arch_of(MIXED, dropout=0.5), seed=0))
    dropout = net.classifier.dropout
    x = torch.ones(2, 64, 6)
    first = dropout(x)
    functional.reset_net(net)
    assert not torch.equal(dropout(x), first)
    assert isinstance(NEURONAS_3OP.build(arch_of(MIXED), seed=0).classifier.dropout, nn.Identity)


def test_the_fast_lif_path_is_spikingjellys_lif_bit_for_bit():
    torch.manual_seed(0)
    x = torch.randn(6, 32, 5, 7) * 1.5
    for reset in (0.0, -0.25):
        fast = make_lif(v_reset=reset)
        reference = neuron.LIFNode(
            step_mode="m", tau=4 / 3, v_threshold=1.0, v_reset=reset, detach_reset=True
        )
        with torch.no_grad():  # the fast path; SpikingJelly's own is taken with gradients
            for _ in range(2):  # the membrane carries into the second sequence
                assert torch.equal(fast(x), reference(x))
                assert torch.equal(fast.v, reference.v)
        with torch.enable_grad():
            assert torch.equal(fast(x.requires_grad_()), reference(x))


@pytest.mark.parametrize("space, cell", [(NEURONAS_3OP, MIXED), (SNASNET_BACKWARD, None)])
def test_stepping_through_time_gives_the_same_spikes_and_logits(space, cell):
    cell = cell or Cell.parse(
        "|zero~0|+|zero~0|conv3x3~1|+|skip~0|zero~1|skip~2|<|zero~1|zero~2|zero~3|+|zero~2|conv1x1~3|+|zero~3|"
    )
    net = space.build(arch_of(cell, timesteps=3, dropout=0.5), seed=0)
    x = torch.rand(4, 3, 8, 8)
    runs = []
    for step in (False, True):
        net.step_through_time = step
        spikes = []
        handle = net.downsample.lif.register_forward_hook(
            lambda _m, _i, out, s=spikes: s.append(out)
        )
        with torch.no_grad():
            logits = [net(x), net(x)]  # the membranes carry into the second call
        functional.reset_net(net)
        handle.remove()
        runs.append((torch.cat(spikes), logits))
    assert torch.equal(runs[0][0], runs[1][0])
    for all_at_once, stepped in zip(runs[0][1], runs[1][1], strict=True):
        assert torch.allclose(all_at_once, stepped, rtol=0, atol=1e-6)
