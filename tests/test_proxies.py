"""The zero-cost proxies and the per-layer Hamming variant, each on a hand-computed case."""

import math

import numpy as np
import pytest
import torch
from spikingjelly.activation_based import neuron
from torch import nn

from neuronas.arch import Architecture, Cell, Macro
from neuronas.fitness import HammingLogDet, hamming_kernel_reference
from neuronas.plugin import get_component
from neuronas.proxies import JACOB_COV_K, JacobianCovariance, ParameterCount, SynFlow


def test_params_counts_conv_and_linear_weights_without_biases():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, bias=True), nn.Flatten(), nn.Linear(4, 3))
    score = ParameterCount().score(model, [])
    assert score.value == 1 * 2 * 9 + 4 * 3


def test_synflow_by_hand_and_weights_restored():
    # y = |w2| * |w1| * 1 on an all-ones input: R = 2 * 3 = 6; |w1 dR/dw1| = 2 * 3, |w2 dR/dw2| = 6
    model = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), nn.Conv2d(1, 1, 1, bias=False))
    with torch.no_grad():
        model[0].weight.fill_(-2.0)
        model[1].weight.fill_(3.0)
    score = SynFlow().score(model, [torch.randn(5, 1, 1, 1)])
    assert score.value == pytest.approx(math.log(12.0))
    assert score.settings["saliency_sum"] == pytest.approx(12.0)
    assert model[0].weight.item() == -2.0 and model[0].weight.dtype == torch.float32
    assert model[0].weight.grad is None


def test_synflow_passes_spiking_neurons_through_their_surrogate():
    space = get_component("space", "neuronas-3op")
    cell = Cell(("conv3x3",) * 6)
    net = space.build(Architecture(cell, cell, Macro(width=4, in_channels=1, input_size=8)), 0)
    score = SynFlow().score(net, [torch.randn(2, 1, 8, 8)])
    assert math.isfinite(score.value) and score.settings["saliency_sum"] > 0
    assert net.training  # mode restored


def test_jacob_cov_by_hand_for_a_linear_model():
    # every sample's input gradient is W^T 1: identical rows, correlation matrix of ones,
    # eigenvalues (4, 0, 0, 0)
    model = nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]]))
    score = JacobianCovariance().score(model, [torch.randn(4, 3)])
    k = JACOB_COV_K
    expected = -(math.log(4 + k) + 1 / (4 + k) + 3 * (math.log(k) + 1 / k))
    assert score.value == pytest.approx(expected, rel=1e-6)


def test_jacob_cov_prefers_samples_whose_gradients_differ():
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    diverse = JacobianCovariance().score(model, [torch.randn(6, 3) * 3]).value
    alike = JacobianCovariance().score(nn.Linear(3, 1), [torch.randn(6, 3)]).value
    assert diverse > alike


class TwoLayers(nn.Module):
    """Two single-step LIF layers of 2 and 3 neurons; an input of 2 charges to 1 and fires (0.5)."""

    def __init__(self):
        super().__init__()
        self.small = neuron.LIFNode(tau=2.0, v_threshold=0.5)
        self.large = neuron.LIFNode(tau=2.0, v_threshold=0.5)

    def forward(self, x):
        return self.small(x[:, :2]), self.large(x[:, 2:])


def test_per_layer_hamming_divides_each_layer_by_its_neurons_by_hand():
    codes = torch.tensor([[1, 0, 1, 1, 0], [0, 0, 1, 0, 0], [1, 1, 0, 1, 1]], dtype=torch.float32)
    x = codes * 2.0  # charges to 1.0 >= 0.5 where the code is 1
    small, large = codes[:, :2].numpy(), codes[:, 2:].numpy()
    plain = (hamming_kernel_reference(small) + hamming_kernel_reference(large)) / 2
    per_layer = (hamming_kernel_reference(small) / 2 + hamming_kernel_reference(large) / 3) / 2
    model = TwoLayers()
    assert HammingLogDet().score(model, [x]).value == pytest.approx(
        np.linalg.slogdet(plain)[1], rel=1e-9
    )
    assert HammingLogDet(per_layer=True).score(model, [x]).value == pytest.approx(
        np.linalg.slogdet(per_layer)[1], rel=1e-9
    )


@pytest.mark.parametrize(
    "name", ["hamming-logdet", "hamming-logdet-per-layer", "params", "synflow", "jacob-cov"]
)
def test_every_metric_is_registered_and_says_its_direction(name):
    metric = get_component("fitness", name)
    assert metric.higher_is_better is True
    assert "higher is better" in metric.description
