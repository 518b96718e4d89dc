"""Derived permutation specs, applying permutations, weight and activation matching."""

from __future__ import annotations

from importlib import resources

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn
from torch.func import functional_call

from ridgeline.landscape import (
    Evaluator,
    activation_matching,
    align,
    apply_permutation,
    barrier_curve,
    distance,
    param_names,
    permutation_spec,
    state_of,
    weight_matching,
)
from ridgeline.landscape.permutation import (
    PermutationGroup,
    PermutationSpec,
    UnsupportedModelError,
    invert_permutation,
    random_permutation,
)
from ridgeline.models import build_model

MODEL_CONFS = sorted(
    p.name.removesuffix(".yaml")
    for p in resources.files("ridgeline.conf").joinpath("model").iterdir()
    if p.name.endswith(".yaml") and not p.name.startswith("vit")  # test_transformer_symmetry
)


def shipped_model(conf: str, seed: int = 0) -> nn.Sequential:
    """The model of ``conf/model/<conf>.yaml`` for MNIST- or CIFAR-shaped inputs, in float64.

    Its input shape is kept as ``model.input_shape`` for :func:`input_of`.
    """
    node = OmegaConf.load(str(resources.files("ridgeline.conf") / "model" / f"{conf}.yaml"))
    kwargs = {
        k: v
        for k, v in OmegaConf.to_container(node).items()
        if k not in ("_target_", "name", "input_shape", "num_classes")
    }
    shape = (1, 28, 28) if node.name in ("mlp", "cnn") else (3, 32, 32)
    torch.manual_seed(seed)
    model = build_model(node.name, shape, 10, **kwargs).double().eval()
    model.input_shape = shape
    return randomise_extras(model, seed)


def randomise_extras(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-zero biases, BatchNorm parameters/statistics and residual gains: a missed axis shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                for t in (m.weight, m.bias, m.running_mean):
                    t.copy_(torch.randn(t.shape, generator=g, dtype=t.dtype))
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            if getattr(m, "gain", None) is not None:
                m.gain.fill_(0.7)
    return model


def input_of(model: nn.Module, n: int = 2, seed: int = 1) -> torch.Tensor:
    """Random float64 inputs of the model's input shape."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *model.input_shape, generator=g, dtype=torch.float64)


def outputs(model: nn.Module, ps: dict, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return functional_call(model, ps, (x,))


@pytest.mark.parametrize("conf", MODEL_CONFS)
def test_random_permutation_of_every_shipped_model_keeps_its_outputs(conf: str) -> None:
    model = shipped_model(conf)
    spec = permutation_spec(model)
    x = input_of(model)
    ps = state_of(model)
    perm = random_permutation(spec, torch.Generator().manual_seed(2))
    permuted = apply_permutation(spec, ps, perm)
    assert distance(ps, permuted, param_names(model)) > 1.0  # the weights really moved
    expected = outputs(model, ps, x)
    torch.testing.assert_close(outputs(model, permuted, x), expected, rtol=1e-10, atol=1e-10)
    # applying the inverse restores every tensor exactly
    back = apply_permutation(spec, permuted, invert_permutation(perm))
    assert all(torch.equal(back[k], ps[k]) for k in ps)


@pytest.mark.parametrize("conf", ["resnet20", "resnet20_nf", "cnn"])
def test_a_spec_missing_one_tied_axis_changes_the_outputs(conf: str) -> None:
    model = shipped_model(conf)
    spec = permutation_spec(model)
    x = input_of(model)
    ps = state_of(model)
    perm = random_permutation(spec, torch.Generator().manual_seed(3))
    expected = outputs(model, ps, x)
    for g in spec.groups:
        for i in range(len(g.axes)):
            holed = PermutationGroup(g.name, g.size, g.axes[:i] + g.axes[i + 1 :], g.activations)
            others = tuple(h if h is not g else holed for h in spec.groups)
            got = outputs(model, apply_permutation(PermutationSpec(others), ps, perm), x)
            assert (got - expected).abs().max() > 1e-6, f"{g.name}: {g.axes[i]} is not needed"


def test_spec_ties_a_resnet_stage_and_blocks_flattened_conv_channels() -> None:
    resnet = permutation_spec(shipped_model("resnet20"))
    # 3 stages (tied through the residual stream) + 9 block-internal groups
    assert [g.size for g in resnet.groups].count(16) == 4 and len(resnet.groups) == 12
    stage1 = resnet.group("stem.conv")
    tied = {ax.name for ax in stage1.axes if ax.axis == 0}
    assert {"layer1_0.conv2.weight", "layer1_2.bn2.running_mean", "stem.bn.bias"} <= tied
    assert stage1.activations[:2] == ("stem_act", "layer1_0_act_1")
    cnn = permutation_spec(shipped_model("cnn"))  # 64 channels of 7x7 → Linear(3136, 10)
    fc_axis = [ax for ax in cnn.group("block2.conv").axes if ax.name == "fc.weight"]
    assert [(ax.axis, ax.block) for ax in fc_axis] == [(1, 49)]


def test_unsupported_module_is_named() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    with pytest.raises(UnsupportedModelError, match=r"module '1' \(LayerNorm\)"):
        permutation_spec(model)


@pytest.mark.parametrize("conf", ["mlp", "cnn_small", "resnet20", "resnet20_nf"])
def test_weight_matching_recovers_a_random_permutation_exactly(conf: str) -> None:
    model = shipped_model(conf)
    spec = permutation_spec(model)
    a = state_of(model)
    b = apply_permutation(spec, a, random_permutation(spec, torch.Generator().manual_seed(4)))
    aligned, rec = align(model, a, b, "weight", spec=spec)
    assert all(torch.equal(aligned[k], a[k]) for k in a)
    assert rec.dist_before > 1.0 and rec.dist_after == 0.0 and rec.moved_units > 0
    if conf == "mlp":  # the path to the aligned copy is flat: barrier 0 at every α (not before)
        model = model.float()
        x = input_of(model, n=64).float()
        y = torch.randint(0, 10, (64,), generator=torch.Generator().manual_seed(5))
        ev = Evaluator(model, x, y)
        as_float = {k: v.float() for k, v in a.items()}
        alphas = [0.0, 0.25, 0.5, 0.75, 1.0]
        after = barrier_curve(ev, as_float, {k: v.float() for k, v in aligned.items()}, alphas)
        before = barrier_curve(ev, as_float, {k: v.float() for k, v in b.items()}, alphas)
        assert after.loss == [after.loss[0]] * len(alphas) and after.loss_barrier.chord == 0.0
        assert max(before.loss) - min(before.loss) > 1e-3


@pytest.mark.parametrize("conf", ["mlp", "cnn_small", "resnet20"])
def test_aligning_a_network_to_itself_is_the_identity(conf: str) -> None:
    model = shipped_model(conf)
    spec = permutation_spec(model)
    a = state_of(model)
    perm, sweeps = weight_matching(spec, a, a)
    assert sweeps == 1 and all(torch.equal(p, torch.arange(len(p))) for p in perm.values())
    x = input_of(model, n=32)
    perm, n = activation_matching(model, spec, a, a, x, chunk_size=10)
    assert n == 32 and all(torch.equal(p, torch.arange(len(p))) for p in perm.values())


@pytest.mark.parametrize("conf", ["lenet_300_100", "cnn", "resnet20"])
def test_weight_matching_never_raises_the_distance(conf: str) -> None:
    a_model, b_model = shipped_model(conf, seed=0), shipped_model(conf, seed=1)  # two inits
    spec = permutation_spec(a_model)
    a, b = state_of(a_model), state_of(b_model)
    names = param_names(a_model)
    first, _ = weight_matching(spec, a, b, seed=0)
    other, _ = weight_matching(spec, a, b, seed=7)
    for perm in (first, other):
        assert distance(a, apply_permutation(spec, b, perm), names) < distance(a, b, names)
    again, _ = weight_matching(spec, a, b, seed=0)
    assert all(torch.equal(first[k], again[k]) for k in first)  # seeded: deterministic


def test_activation_matching_recovers_a_permutation_and_sums_shards_through_reduce() -> None:
    model = shipped_model("mlp")
    spec = permutation_spec(model)
    a = state_of(model)
    perm = random_permutation(spec, torch.Generator().manual_seed(6))
    b = apply_permutation(spec, a, perm)
    x = input_of(model, n=200)  # enough examples that no hidden unit is constant (dead)
    whole, n = activation_matching(model, spec, a, b, x)
    assert n == 200 and all(torch.equal(whole[k], invert_permutation(perm)[k]) for k in perm)
    # two "processes": the second's raw sums arrive through the reduce hook of the first
    shard: dict[str, torch.Tensor] = {}
    activation_matching(model, spec, a, b, x[120:], reduce=lambda t: shard.setdefault("t", t))
    joint, n = activation_matching(model, spec, a, b, x[:120], reduce=lambda t: t + shard["t"])
    assert n == 200 and all(torch.equal(joint[k], whole[k]) for k in whole)
    # a process with no examples contributes zeros and still takes part in the reduction
    everything: dict[str, torch.Tensor] = {}
    activation_matching(model, spec, a, b, x, reduce=lambda t: everything.setdefault("t", t))
    idle, n = activation_matching(model, spec, a, b, x[:0], reduce=lambda t: t + everything["t"])
    assert n == 200 and all(torch.equal(idle[k], whole[k]) for k in whole)
