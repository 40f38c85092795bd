"""The hamming-logdet kernel and metric, on hand-made codes and tiny hand-made spiking networks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from spikingjelly.activation_based import functional, layer, neuron
from torch import nn

import neuronas.plugin
from neuronas.contracts import FitnessMetric
from neuronas.errors import UsageError
from neuronas.fitness import (
    HammingLogDet,
    draw_batches,
    hamming_kernel,
    hamming_kernel_reference,
    log_abs_det,
    score_quantized,
)
from neuronas.quantization import FixedPointQuantizer


class TinyMultiStep(nn.Module):
    """conv-BN-LIF, conv-BN-LIF, linear, run for ``timesteps`` steps on a repeated image."""

    def __init__(self, timesteps: int = 3, width: int = 6) -> None:
        super().__init__()
        self.timesteps = timesteps
        self.body = nn.Sequential(
            layer.SeqToANNContainer(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width)),
            neuron.LIFNode(tau=2.0, step_mode="m"),
            layer.SeqToANNContainer(nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width)),
            neuron.LIFNode(tau=2.0, step_mode="m"),
            layer.SeqToANNContainer(nn.Flatten(), nn.Linear(width * 6 * 6, 5)),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images.unsqueeze(0).repeat(self.timesteps, 1, 1, 1, 1)).mean(0)


class TinySingleStep(nn.Module):
    """The same idea with single-step LIF nodes called once per timestep by the model."""

    def __init__(self, timesteps: int = 4) -> None:
        super().__init__()
        self.timesteps = timesteps
        self.fc1 = nn.Linear(12, 10)
        self.lif1 = neuron.LIFNode(tau=2.0)
        self.fc2 = nn.Linear(10, 7)
        self.lif2 = neuron.LIFNode(tau=2.0)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        total = 0
        for _ in range(self.timesteps):
            total = total + self.lif2(self.fc2(self.lif1(self.fc1(inputs))))
        return total / self.timesteps


def images(count: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(count, 3, 6, 6, generator=torch.Generator().manual_seed(seed))


def fresh_network(seed: int = 0, timesteps: int = 3) -> TinyMultiStep:
    torch.manual_seed(seed)
    return TinyMultiStep(timesteps=timesteps)


# --- the kernel ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_kernel_matches_loop_reference_on_random_codes(seed):
    rng = np.random.default_rng(seed)
    samples, neurons = rng.integers(2, 8), rng.integers(1, 40)
    density = rng.choice([0.02, 0.2, 0.5, 0.9])
    codes = (rng.random((samples, neurons)) < density).astype(np.int64)
    codes[0] = 0  # a silent sample: E = 0 on its diagonal, only epsilon keeps beta finite
    expected = hamming_kernel_reference(codes)
    actual = hamming_kernel(torch.from_numpy(codes)).numpy()
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 6).flatmap(
        lambda samples: st.lists(
            st.lists(st.integers(0, 1), min_size=5, max_size=5),
            min_size=samples,
            max_size=samples,
        )
    )
)
def test_kernel_matches_loop_reference_hypothesis(rows):
    codes = np.array(rows, dtype=np.int64)
    expected = hamming_kernel_reference(codes)
    actual = hamming_kernel(torch.from_numpy(codes)).numpy()
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-9)


def test_kernel_hand_computed_3x3():
    # N = 4 neurons; codes b1 = 1100, b2 = 1000, b3 = 0111.
    # firing rates r = (2/4, 1/4, 3/4).
    # Hamming distances: d12 = 1 (position 2), d13 = 3 (positions 1, 3, 4), d23 = 4 (all); d_ii = 0.
    # E_ij = N (r_i (1 - r_j) + (1 - r_i) r_j):
    #   E12 = 4 (1/2 * 3/4 + 1/2 * 1/4) = 2,  E13 = 4 (1/2 * 1/4 + 1/2 * 3/4) = 2,
    #   E23 = 4 (1/4 * 1/4 + 3/4 * 3/4) = 2.5.
    # K_ij = N - 0.5 / (E_ij + 0.001) * d_ij, and K_ii = N because d_ii = 0:
    #   K12 = 4 - 0.5/2.001,  K13 = 4 - 1.5/2.001,  K23 = 4 - 2/2.501.
    codes = torch.tensor([[1, 1, 0, 0], [1, 0, 0, 0], [0, 1, 1, 1]])
    k12, k13, k23 = 4 - 0.5 / 2.001, 4 - 1.5 / 2.001, 4 - 2 / 2.501
    expected = np.array([[4, k12, k13], [k12, 4, k23], [k13, k23, 4]])
    kernel = hamming_kernel(codes)
    np.testing.assert_allclose(kernel.numpy(), expected, rtol=0, atol=1e-12)
    # det of the symmetric [[a, x, y], [x, a, z], [y, z, a]] = a^3 + 2xyz - a(x^2 + y^2 + z^2)
    determinant = 4**3 + 2 * k12 * k13 * k23 - 4 * (k12**2 + k13**2 + k23**2)
    assert log_abs_det(kernel) == pytest.approx(math.log(abs(determinant)), abs=1e-12)


def test_singular_kernel_scores_minus_infinity():
    identical = torch.tensor([[1, 0, 1], [1, 0, 1], [0, 1, 1]])
    assert log_abs_det(hamming_kernel(identical)) == -math.inf


# --- the metric on networks ---------------------------------------------------------------------


def test_metric_equals_reference_computed_from_recorded_spikes():
    network = fresh_network()
    batch = images(5)
    recorded = []
    handles = [
        module.register_forward_hook(lambda _m, _i, out: recorded.append(out.clone()))
        for module in network.modules()
        if isinstance(module, neuron.LIFNode)
    ]
    with torch.no_grad():
        network.train()
        network(batch)
    for handle in handles:
        handle.remove()
    contributions = [
        hamming_kernel_reference((spikes[t] > 0).reshape(5, -1).numpy())
        for spikes in recorded
        for t in range(spikes.shape[0])
    ]
    expected = np.linalg.slogdet(sum(contributions) / len(contributions))[1]

    score = HammingLogDet().score(network, [batch])
    assert score.value == pytest.approx(expected, abs=1e-9)
    assert score.settings["contributions"] == len(contributions) == 2 * 3


def test_fitness_is_deterministic_on_a_fixed_seed():
    batches = draw_batches(images(40), batch_size=8, repeats=2, seed=3)
    first = HammingLogDet().score(fresh_network(seed=7), batches)
    second = HammingLogDet().score(fresh_network(seed=7), batches)
    assert first == second
    assert math.isfinite(first.value)
    other = HammingLogDet().score(fresh_network(seed=8), batches)
    assert other.value != first.value


def test_settings_record_s_r_carry_state_layers_and_timesteps():
    batches = [images(6, seed=1), images(6, seed=2), images(6, seed=3)]
    score = HammingLogDet().score(fresh_network(timesteps=4), batches, carry_state=False)
    assert score.settings["batch_size"] == 6
    assert score.settings["repeats"] == 3
    assert score.settings["carry_state"] is False
    assert score.settings["lif_layers"] == 2
    assert score.settings["timesteps"] == 4
    assert score.settings["contributions"] == 8
    assert len(score.per_batch) == 3
    assert score.value == pytest.approx(np.mean(score.per_batch))


def test_carry_state_keeps_membranes_between_batches_and_reset_does_not():
    first, second = images(6, seed=1), images(6, seed=2)
    network = fresh_network()
    metric = HammingLogDet()
    carried = metric.score(network, [first, second], carry_state=True)
    reset = metric.score(network, [first, second], carry_state=False)
    alone = metric.score(network, [second])
    assert carried.per_batch[0] == reset.per_batch[0]
    assert reset.per_batch[1] == alone.per_batch[0]
    assert carried.per_batch[1] != reset.per_batch[1]


def test_scoring_restores_mode_and_leaves_the_network_reset():
    network = fresh_network()
    network.eval()
    HammingLogDet().score(network, [images(4)])
    assert not network.training
    for module in network.modules():
        if isinstance(module, neuron.LIFNode):
            assert module.v == 0.0


def test_single_step_lif_nodes_count_one_contribution_per_call():
    torch.manual_seed(0)
    network = TinySingleStep(timesteps=4)
    score = HammingLogDet().score(network, [torch.randn(9, 12) * 3])
    assert score.settings["lif_layers"] == 2
    assert score.settings["timesteps"] == 4
    assert math.isfinite(score.value)


def test_silent_network_scores_minus_infinity_without_crashing():
    # Constant input: BatchNorm in train mode outputs zeros, no neuron fires, K is all N_l.
    score = HammingLogDet().score(fresh_network(), [torch.zeros(4, 3, 6, 6)] * 2)
    assert score.value == -math.inf
    assert score.per_batch == (-math.inf, -math.inf)


def test_metric_refuses_a_model_without_lif_layers():
    with pytest.raises(UsageError, match="spiking neuron layers"):
        HammingLogDet().score(nn.Sequential(nn.Linear(3, 3)), [torch.zeros(2, 3)])


def test_metric_refuses_batches_of_different_sizes():
    with pytest.raises(UsageError, match="same size"):
        HammingLogDet().score(fresh_network(), [images(4), images(5)])


def test_metric_names_a_lif_layer_whose_batch_dimension_is_wrong():
    network = nn.Sequential(nn.Linear(4, 4), neuron.LIFNode(step_mode="m"))
    with pytest.raises(UsageError, match="expected \\[T, 3"):
        HammingLogDet().score(network, [torch.ones(3, 4)])
    functional.reset_net(network)


def test_draw_batches_is_seeded_and_disjoint():
    data = torch.arange(20.0).reshape(20, 1)
    first = draw_batches(data, batch_size=4, repeats=3, seed=5)
    again = draw_batches(data, batch_size=4, repeats=3, seed=5)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    drawn = torch.cat(first).flatten().tolist()
    assert len(set(drawn)) == 12
    with pytest.raises(UsageError, match="need 24 images"):
        draw_batches(data, batch_size=8, repeats=3)


# --- registration and QaFE ----------------------------------------------------------------------


def test_builtin_metric_is_registered_and_says_higher_is_better():
    neuronas.plugin.reset()
    metric = neuronas.plugin.get_component("fitness", "hamming-logdet")
    assert isinstance(metric, FitnessMetric)
    assert metric.higher_is_better is True


def test_score_quantized_scores_the_fixed_point_network():
    batches = [images(6, seed=1), images(6, seed=2)]
    network = fresh_network()
    score, report = score_quantized(
        network, batches, metric=HammingLogDet(), quantizer=FixedPointQuantizer(), bits=4
    )
    assert report.bits == 4
    assert score.settings["weight_bits"] == 4
    assert score.settings["quantizer"] == "fixed-point"
    conv = network.body[0][0]
    step = report.layers["body.0.0"]["step"]
    assert torch.equal(conv.weight / step, torch.round(conv.weight / step))
    assert HammingLogDet().score(network, batches).value == score.value


def test_score_quantized_without_bits_scores_the_float_network_by_names():
    neuronas.plugin.reset()
    batches = [images(6)]
    score, report = score_quantized(fresh_network(), batches, bits=None, carry_state=False)
    assert report is None
    assert score.settings["weight_bits"] is None
    assert score.value == HammingLogDet().score(fresh_network(), batches).value
