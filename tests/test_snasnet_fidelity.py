"""The scoring network is SNASNet's, end to end, checked without SNASNet's code.

A hand-computed BatchNorm -> LIF example shows what BatchNorm per timestep changes against pooled
statistics; a NumPy restatement of SNASNet's network (it steps through time, every BatchNorm call
sees the N samples of one timestep, backward cells feed node values forward by one timestep) runs a
tiny network next to neuronas's and must give the same spike codes in every LIF layer and the same
score to 1e-9, for forward and backward cells, with dropout and SNASNet's initialisation.
(``benchmarks/snasnet_side_by_side.py`` runs the same comparison against SNASNet's own code.)
"""

import math

import attrs
import numpy as np
import pytest
import torch
from spikingjelly.activation_based import functional

from neuronas.arch import Architecture, Cell, Macro
from neuronas.builtins.spaces import NEURONAS_3OP, SNASNET_BACKWARD
from neuronas.fitness import EPSILON, HammingLogDet, lif_layers
from neuronas.snn import SequenceDropout, TimeBatchNorm2d, make_lif

TAU, THRESHOLD, BN_EPS = 4.0 / 3.0, 1.0, 1e-5


# --- a hand-computed example ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("per_step", "codes"),
    [
        # per timestep: t0 [0, 2] and t1 [10, 30] both normalise to [-1, 1] (x2 = gamma), so
        # sample 2 charges to 0.75 * 2 = 1.5 and fires at both steps; sample 1 never does.
        (True, [[0, 1], [0, 1]]),
        # pooled: mean 10.5, var 140.75, so t0 -> [-1.77, -1.43] (no spike) and t1 -> [-0.08,
        # 3.29]: sample 2 charges from -1.07 to -1.07 + 0.75 (3.29 + 1.07) = 2.2 and fires at t1.
        (False, [[0, 0], [0, 1]]),
    ],
)
def test_batchnorm_per_timestep_against_pooled_by_hand(per_step, codes):
    bn = TimeBatchNorm2d(1)
    bn.per_step = per_step
    with torch.no_grad():
        bn.weight.fill_(2.0)
    x = torch.tensor([[0.0, 2.0], [10.0, 30.0]]).view(2, 2, 1, 1, 1)
    spikes = make_lif()(bn(x))
    assert spikes.view(2, 2).tolist() == codes


@pytest.mark.parametrize("gradients", [True, False], ids=["autograd", "no-grad"])
def test_batchnorm_per_timestep_is_batchnorm_called_once_per_timestep(gradients):
    torch.manual_seed(0)
    x = torch.randn(3, 4, 2, 5, 5) * torch.tensor([1.0, 5.0, 9.0]).view(3, 1, 1, 1, 1)
    ours, plain = TimeBatchNorm2d(2), torch.nn.BatchNorm2d(2)
    expected = torch.stack([plain(step) for step in x])
    with torch.set_grad_enabled(gradients):
        assert torch.equal(ours(x), expected)
    assert torch.equal(ours.running_mean, plain.running_mean)
    assert torch.equal(ours.running_var, plain.running_var)
    assert int(ours.num_batches_tracked) == 3
    ours.per_step = False
    pooled = ours(x)
    assert not torch.allclose(pooled, expected)
    reference = torch.nn.functional.batch_norm(
        x.flatten(0, 1), None, None, ours.weight, ours.bias, True, 0.0, ours.eps
    )
    assert torch.allclose(pooled.flatten(0, 1), reference)
    ours.eval()  # running statistics: the same for every timestep, so T is folded
    assert torch.equal(ours(x).flatten(0, 1), torch.nn.BatchNorm2d.forward(ours, x.flatten(0, 1)))


# --- SNASNet's network restated in NumPy ---------------------------------------------------------


def conv(x, weight, stride=1):
    """Cross-correlation with 'same' padding; x [N, C, H, W], weight [F, C, k, k]."""
    pad = weight.shape[-1] // 2
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    size = (x.shape[-1] - 1) // stride + 1
    out = np.zeros((x.shape[0], weight.shape[0], size, size))
    for i in range(size):
        for j in range(size):
            window = padded[:, :, i * stride : i * stride + weight.shape[-1], j * stride :][
                ..., : weight.shape[-1]
            ]
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", window, weight)
    return out


def batchnorm(x, gamma, beta):
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    return (x - mean) / np.sqrt(var + BN_EPS) * gamma.reshape(1, -1, 1, 1) + beta.reshape(
        1, -1, 1, 1
    )


def avgpool(x, kernel, stride, pad):
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    size = (x.shape[-1] + 2 * pad - kernel) // stride + 1
    out = np.zeros((*x.shape[:2], size, size))
    for i in range(size):
        for j in range(size):
            window = padded[
                :, :, i * stride : i * stride + kernel, j * stride : j * stride + kernel
            ]
            out[:, :, i, j] = window.sum(axis=(2, 3)) / kernel**2
    return out


class Reference:
    """SNASNet's forward pass, one timestep at a time, with the weights of a neuronas network."""

    def __init__(self, net, dropout_mask=None):
        self.w = {k: v.detach().double().numpy() for k, v in net.state_dict().items()}
        self.arch = net.arch
        self.potentials: dict[str, np.ndarray] = {}
        self.codes: dict[str, list[np.ndarray]] = {}
        self.margin = math.inf
        self.dropout_mask = dropout_mask

    def lif(self, name, x):
        v = self.potentials.get(name, np.zeros_like(x))
        charged = v + (x - v) / TAU
        self.margin = min(self.margin, float(np.abs(charged - THRESHOLD).min()))
        spikes = (charged >= THRESHOLD).astype(np.float64)
        self.potentials[name] = np.where(spikes > 0, 0.0, charged)
        self.codes.setdefault(name, []).append(spikes.reshape(len(x), -1) > 0)
        return spikes

    def bn(self, prefix, x):
        return batchnorm(x, self.w[f"{prefix}.weight"], self.w[f"{prefix}.bias"])

    def op(self, prefix, op, x):
        if op == "skip":
            return x
        if op == "avgpool3x3":
            return avgpool(x, 3, 1, 1)
        spikes = self.lif(f"{prefix}.lif", x)
        return self.bn(f"{prefix}.bn", conv(spikes, self.w[f"{prefix}.conv.weight"]))

    def cell(self, label, cell, x, feedback):
        """One timestep of a cell: u_i = x_i + feedback_i; returns x_last and the next feedback."""
        last = cell.nodes - 1
        inputs = [x + feedback.get(0, 0.0)]
        for target in range(1, last + 1):
            value = np.zeros_like(x)
            for source, op in cell.inputs_of(target):
                if op != "zero":
                    value = value + self.op(f"{label}.edges.e{source}_{target}", op, inputs[source])
            inputs.append(value + (feedback.get(target, 0.0) if target < last else 0.0))
        following = {}
        for source, target, op in cell.back_items():
            if op != "zero":
                term = self.op(f"{label}.back_edges.b{source}_{target}", op, inputs[source])
                following[target] = following.get(target, 0.0) + term
        return inputs[-1], following

    def forward(self, images):
        macro = self.arch.macro
        static = self.bn("stem.bn", conv(images, self.w["stem.conv.weight"]))
        feedback_a, feedback_b = {}, {}
        logits = 0.0
        for _ in range(macro.timesteps):
            x, feedback_a = self.cell("cell_a", self.arch.cell_a, static, feedback_a)
            spikes = self.lif("downsample.lif", self.bn("downsample.bn_in", x))
            x = self.bn("downsample.bn", conv(spikes, self.w["downsample.conv.weight"]))
            x, feedback_b = self.cell("cell_b", self.arch.cell_b, avgpool(x, 2, 2, 0), feedback_b)
            x = avgpool(self.lif("head.lif", self.bn("head.bn", x)), 2, 2, 0).reshape(len(x), -1)
            if self.dropout_mask is not None:
                x = x * self.dropout_mask
            hidden = self.lif("classifier.lif", x @ self.w["classifier.hidden.weight"].T)
            out = hidden @ self.w["classifier.out.weight"].T + self.w["classifier.out.bias"]
            logits = logits + out.reshape(len(x), macro.num_classes, -1).mean(-1)
        return logits / macro.timesteps


def reference_score(codes_per_batch):
    """SNASNet's kernel (Eq. 1 with per-pair beta) from the codes, in float64."""
    scores = []
    for codes in codes_per_batch:
        kernel, count = 0.0, 0
        for layer_codes in codes.values():
            for code in layer_codes:
                x = code.astype(np.float64)
                neurons = x.shape[1]
                rate = x.mean(1, keepdims=True)
                expected = neurons * (rate @ (1 - rate).T + (1 - rate) @ rate.T)
                distance = x @ (1 - x).T + (1 - x) @ x.T
                kernel = kernel + neurons - 0.5 / (expected + EPSILON) * distance
                count += 1
        scores.append(np.linalg.slogdet(kernel / count)[1])
    return float(np.mean(scores))


MACRO = Macro(width=2, timesteps=3, in_channels=1, input_size=8, hidden=6, population=2)
FORWARD_CELL = Cell(("conv3x3", "skip", "avgpool3x3", "conv3x3", "skip", "conv3x3"))
BACKWARD_CELL = Cell.parse(
    "|conv1x1~0|+|skip~0|zero~1|+|conv3x3~0|avgpool3x3~1|zero~2|"
    "<|zero~1|zero~2|zero~3|+|conv3x3~2|zero~3|+|skip~3|"
)


@pytest.mark.parametrize(
    ("space", "cell", "macro_options"),
    [
        (NEURONAS_3OP, FORWARD_CELL, {}),
        (NEURONAS_3OP, FORWARD_CELL, {"weight_init": "snasnet"}),
        (SNASNET_BACKWARD, BACKWARD_CELL, {"weight_init": "snasnet", "dropout": 0.5}),
    ],
    ids=["forward", "forward-snasnet-init", "backward-dropout"],
)
def test_codes_and_score_equal_snasnets_network_restated_in_numpy(space, cell, macro_options):
    macro = attrs.evolve(MACRO, **macro_options)
    arch = Architecture(cell, cell, macro)
    net = space.build(arch, seed=3)
    if macro.weight_init == "snasnet":  # the conv weights are small; BN rescales them anyway
        assert float(net.classifier.hidden.weight.detach().std()) == pytest.approx(0.01, rel=0.3)
    batches = [torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(k)) for k in (1, 2)]
    recorded: dict[str, list[torch.Tensor]] = {}
    handles = [
        node.register_forward_hook(
            lambda _m, _i, out, name=name: recorded.setdefault(name, []).extend(
                step.reshape(step.shape[0], -1) > 0 for step in out
            )
        )
        for name, node in lif_layers(net)
    ]
    score = HammingLogDet().score(net, batches, carry_state=True)
    for handle in handles:
        handle.remove()
    dropout = next((m for m in net.modules() if isinstance(m, SequenceDropout)), None)
    mask = None
    if dropout is not None:
        features = net.classifier.hidden.in_features
        mask = dropout.create_mask(torch.zeros(6, features)).double().numpy()
        assert set(np.unique(mask)) == {0.0, 2.0}
    reference = Reference(net, mask)
    per_batch = []
    for batch in batches:
        reference.codes = {}
        reference.forward(batch.double().numpy())
        per_batch.append(reference.codes)
    assert reference.margin > 1e-5, "a membrane too close to the threshold for a float comparison"
    assert set(recorded) == set(per_batch[0])
    for name, codes in recorded.items():
        expected = [code for batch_codes in per_batch for code in batch_codes[name]]
        assert len(codes) == len(expected), name
        for ours, theirs in zip(codes, expected, strict=True):
            assert np.array_equal(ours.numpy(), theirs), name
    spiking = sum(int(c.sum()) for codes in recorded.values() for c in codes)
    assert spiking > 0
    assert score.value == pytest.approx(reference_score(per_batch), rel=1e-9, abs=1e-9)


def test_pooled_batchnorm_changes_the_codes_of_the_same_network():
    arch = Architecture(FORWARD_CELL, FORWARD_CELL, MACRO)
    pooled = Architecture(FORWARD_CELL, FORWARD_CELL, attrs.evolve(MACRO, batchnorm="pooled"))
    batch = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    codes = []
    for each in (arch, pooled):
        net = NEURONAS_3OP.build(each, seed=3)
        spikes = []
        net.downsample.lif.register_forward_hook(lambda _m, _i, out, s=spikes: s.append(out))
        with torch.no_grad():
            net(batch)
        functional.reset_net(net)
        codes.append(spikes[0])
    assert not torch.equal(codes[0], codes[1])


def test_snasnet_init_matches_its_distributions():
    torch.manual_seed(0)
    arch = Architecture(FORWARD_CELL, FORWARD_CELL, Macro(width=16, weight_init="snasnet"))
    for seed in (None, 0):
        net = NEURONAS_3OP.build(arch, seed=seed)
        conv = net.downsample.conv.weight
        bound = math.sqrt(6 / ((1 + 2**2) * conv[0].numel()))  # kaiming uniform, a = 2
        assert float(conv.detach().abs().max()) <= bound
        assert float(conv.detach().abs().max()) > 0.95 * bound
        assert float(net.classifier.hidden.weight.detach().std()) == pytest.approx(0.01, rel=0.05)
        assert float(net.classifier.out.bias.detach().abs().max()) == 0.0
