"""`neuronas export`: BatchNorm folding and the inference graph."""

from __future__ import annotations

import torch
from spikingjelly.activation_based import functional, neuron
from torch import nn

import neuronas
from neuronas.snn import TimeBatchNorm2d
from neuronas.snn.inference import fold_batchnorm, inference_network

# node 2 = skip(x0) + skip(x1) = 2 x0: a source reached twice through skip edges
CELL = "|skip~0|+|skip~0|skip~1|+|conv3x3~0|avgpool3x3~1|conv3x3~2|"
MACRO = "width=4;timesteps=4;input=1x8x8;classes=10;hidden=32;population=2"
ARCH = f"a={CELL};b={CELL};{MACRO}"


def randomise_batchnorm(model: nn.Module, seed: int = 1) -> None:
    """Running statistics and affine parameters far from their initial values."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            size = module.num_features
            module.running_mean.copy_(0.3 * torch.randn(size, generator=generator))
            module.running_var.copy_(0.5 + torch.rand(size, generator=generator))
            with torch.no_grad():
                module.weight.copy_(0.5 + torch.rand(size, generator=generator))
                module.bias.copy_(0.3 * torch.randn(size, generator=generator))


def lif_outputs(modules, store, kinds: tuple[type, ...] = (neuron.BaseNode,)):
    """Forward hooks that append every neuron layer's output to ``store[name]``."""
    return [
        module.register_forward_hook(
            lambda _m, _i, out, name=name: store.setdefault(name, []).append(out.detach())
        )
        for name, module in modules
        if isinstance(module, kinds)
    ]


# --- BatchNorm folding and the inference graph ---------------------------------------------------


def test_folding_batchnorm_into_the_conv_is_exact_in_eval_mode():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, 3, padding=1, bias=False)
    bn = TimeBatchNorm2d(5)
    randomise_batchnorm(bn)
    bn.eval()
    x = torch.randn(4, 3, 6, 6)
    with torch.no_grad():
        assert torch.allclose(fold_batchnorm(conv, bn)(x), bn(conv(x)), rtol=1e-5, atol=1e-6)
        conv, bn, x = conv.double(), bn.double(), x.double()
        assert torch.allclose(fold_batchnorm(conv, bn)(x), bn(conv(x)), rtol=1e-12, atol=1e-14)


def test_the_inference_graph_computes_what_the_network_computes():
    model = neuronas.build_model(ARCH, seed=0)
    randomise_batchnorm(model)
    with torch.no_grad():
        model.classifier.hidden.weight.mul_(8)  # so that the classifier's neurons spike
    model.eval().double()
    network = inference_network(model)
    nodes = [name for name, _sources in network.plan]
    assert "cell_a_edges_e0_3_conv" in nodes and "stem_conv_times2" in nodes
    assert not any("bn" in name for name in nodes if name not in ("downsample_bn_in", "head_bn"))
    images = torch.randn(16, 1, 8, 8, generator=torch.Generator().manual_seed(2)).double()
    expected, got = {}, {}
    hooks = lif_outputs(model.named_modules(), expected) + lif_outputs(
        network.named_children(), got
    )
    with torch.no_grad():
        logits = model(images)
        functional.reset_net(model)
        graph_logits = network.logits(images)
    for hook in hooks:
        hook.remove()
    assert torch.allclose(graph_logits, logits, rtol=1e-12, atol=1e-12)
    for name, (spikes,) in expected.items():  # multi-step: one [T, N, ...] call
        assert torch.equal(torch.stack(got[name.replace(".", "_")]), spikes), name
    assert sum(float(spikes[0].sum()) for spikes in expected.values()) > 0
