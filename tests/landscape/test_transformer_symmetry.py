"""Transformer symmetries: reparameterisation, derived spec, planted transforms, matchers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from ridgeline.landscape.params import lerp
from ridgeline.landscape.permutation import UnsupportedModelError
from ridgeline.landscape.transformer_learned import (
    LearnedMatchingSettings,
    apply_matrices,
    transformer_learned_matching,
)
from ridgeline.landscape.transformer_matching import (
    align_transformer,
    transformer_activation_matching,
    transformer_weight_matching,
)
from ridgeline.landscape.transformer_symmetry import (
    TransformerSpec,
    apply_transform,
    check_symmetry,
    fold_norms,
    identity_transform,
    invert_transform,
    random_transform,
    reparameterise,
    transformer_spec,
)
from ridgeline.models.vit import vit

DIM = 16


def tiny_vit(norm: str = "layernorm", pool: str = "cls", seed: int = 0) -> nn.Module:
    """A float64 ViT (2 blocks of 4 heads, MLP 24) with every tensor randomised, the norms'
    gains and shifts included, so a missed fold or axis shows."""
    torch.manual_seed(seed)
    model = vit([1, 28, 28], 10, dim=DIM, depth=2, heads=4, mlp_dim=24, norm=norm, pool=pool)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            scale = 0.3 if name.endswith("bias") or "norm" in name else 0.5
            base = 1.0 if "norm" in name and name.endswith("weight") else 0.0
            p.copy_(base + scale * torch.randn(p.shape, generator=g))
    return model.double().eval()


def params(model: nn.Module) -> dict[str, Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def inputs(n: int = 6, seed: int = 1) -> Tensor:
    return torch.randn(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed)).double()


def outputs(model: nn.Module, ps: dict[str, Tensor], x: Tensor) -> Tensor:
    with torch.no_grad():
        return functional_call(model, ps, (x,))


def midpoint_barrier(model: nn.Module, a: dict, b: dict, x: Tensor, y: Tensor) -> float:
    """max over α ∈ {¼, ½, ¾} of L(θ_α) − ((1−α)L_A + αL_B), cross-entropy in float64."""

    def loss(ps: dict) -> float:
        return float(F.cross_entropy(outputs(model, ps, x), y))

    la, lb = loss(a), loss(b)
    return max(loss(lerp(a, b, t)) - ((1 - t) * la + t * lb) for t in (0.25, 0.5, 0.75))


@pytest.mark.parametrize("norm", ["layernorm", "rmsnorm"])
@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_reparameterised_vit_computes_the_same_function(norm: str, pool: str) -> None:
    model = tiny_vit(norm, pool)
    spec = transformer_spec(model)
    assert not spec.reparameterised and len(spec.attention) == 2 and len(spec.mlps) == 2
    twin, twin_spec, folded = reparameterise(model, spec, params(model))
    assert twin_spec.reparameterised
    assert not any("norm" in k for k in folded)  # gains and shifts live in the readers now
    x = inputs()
    expected = outputs(model, params(model), x)
    torch.testing.assert_close(outputs(twin, folded, x), expected, rtol=0, atol=1e-10)
    if norm == "layernorm":  # every stream tensor is centred: Σ_i W[i] = 0 along the stream
        for s in twin_spec.stream:
            assert folded[s.name].sum(dim=s.axis).abs().max() < 1e-12, s.name
    # the twin is not the original model with its norms dropped: the folds matter
    dropped = {k: v for k, v in params(model).items() if "norm" not in k}
    assert (outputs(twin, dropped, x) - expected).abs().max() > 1e-3


@pytest.mark.parametrize("norm", ["layernorm", "rmsnorm"])
def test_planted_transforms_keep_the_function_and_every_axis_is_needed(norm: str) -> None:
    model = tiny_vit(norm)
    spec = transformer_spec(model)
    twin, twin_spec, folded = reparameterise(model, spec, params(model))
    x = inputs()
    expected = outputs(model, params(model), x)
    g = torch.Generator().manual_seed(5)
    cases = [(twin, twin_spec, folded, "orthogonal"), (model, spec, params(model), "permutation")]
    for net, sp, ps, group in cases:
        t = random_transform(sp, group, g)
        moved = apply_transform(sp, ps, t)
        assert max((moved[k] - ps[k]).abs().max() for k in ps) > 0.1  # the weights moved
        torch.testing.assert_close(outputs(net, moved, x), expected, rtol=0, atol=1e-10)
        back = apply_transform(sp, moved, invert_transform(t))
        assert max((back[k] - ps[k]).abs().max() for k in ps) < 1e-12
        for i in range(len(sp.stream)):  # a spec missing any stream axis breaks the function
            holed = TransformerSpec(
                sp.dim, sp.stream[:i] + sp.stream[i + 1 :], sp.norms, sp.attention, sp.mlps,
                sp.reparameterised,
            )  # fmt: skip
            got = outputs(net, apply_transform(holed, ps, t), x)
            assert (got - expected).abs().max() > 1e-6, sp.stream[i]
    assert check_symmetry(model, spec, x, g) < 1e-10


def test_an_orthogonal_map_needs_the_reparameterised_coordinates() -> None:
    model = tiny_vit()
    spec = transformer_spec(model)
    o = random_transform(transformer_spec(reparameterise(model, spec, params(model))[0]),
                         "orthogonal", torch.Generator().manual_seed(0))  # fmt: skip
    with pytest.raises(ValueError, match="reparameterise first"):
        apply_transform(spec, params(model), o)


def test_models_without_the_symmetry_are_named() -> None:
    with pytest.raises(UnsupportedModelError, match="no LayerNorm or RMSNorm"):
        transformer_spec(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)))
    post_norm = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 8), nn.Conv1d(8, 8, 1))
    with pytest.raises(UnsupportedModelError, match=r"module '3' \(Conv1d\)"):
        transformer_spec(post_norm)


def _span(spec: TransformerSpec, norm: str) -> Tensor:
    """Projector onto the span of the stream: 1⊥ (M = I − 11ᵀ/D) after a LayerNorm fold."""
    eye = torch.eye(spec.dim, dtype=torch.float64)
    return eye - 1.0 / spec.dim if norm == "layernorm" else eye


@pytest.mark.parametrize("norm", ["layernorm", "rmsnorm"])
@pytest.mark.parametrize("group", ["orthogonal", "permutation"])
@pytest.mark.parametrize("method", ["weight", "activation"])
def test_each_matcher_recovers_a_planted_transform(norm: str, group: str, method: str) -> None:
    """B = T(A); the matcher's answer R must undo T: heads and MLP units exactly (they are
    distinct here), the stream map on the span of the stream (for LayerNorm O·1 is free up to
    sign: every stream tensor is centred, so R·O = I on 1⊥ only), every weight to 1e-10, and
    the barrier between A and R(B) vanishes while the one between A and B does not."""
    model = tiny_vit(norm)
    spec = transformer_spec(model)
    if group == "orthogonal":
        net, sp, a = reparameterise(model, spec, params(model))
    else:
        net, sp, a = model, spec, params(model)
    planted = random_transform(sp, group, torch.Generator().manual_seed(11))
    b = apply_transform(sp, a, planted)
    x = inputs(48, seed=2)
    if method == "weight":
        found, iters = transformer_weight_matching(sp, a, b, group=group)
        assert iters < 100
    else:
        found, n = transformer_activation_matching(net, sp, a, b, x, group=group, chunk_size=20)
        assert n == 48
    inverse = invert_transform(planted)
    assert all(torch.equal(found.heads[k], v) for k, v in inverse.heads.items())
    assert all(torch.equal(found.units[k], v) for k, v in inverse.units.items())
    span = _span(sp, norm if group == "orthogonal" else "rmsnorm")
    residual = (found.stream @ planted.stream - torch.eye(sp.dim).double()) @ span
    assert residual.abs().max() < 1e-9
    aligned = apply_transform(sp, b, found)
    assert max((aligned[k] - a[k]).abs().max() for k in a) < 1e-10
    xe = inputs(32, seed=3)
    y = outputs(net, a, xe).argmax(1)
    assert midpoint_barrier(net, a, b, xe, y) > 1e-2  # unaligned: a real barrier
    assert abs(midpoint_barrier(net, a, aligned, xe, y)) <= 1e-6


@pytest.mark.parametrize("group", ["orthogonal", "permutation"])
def test_align_transformer_records_its_coordinates(group: str) -> None:
    model = tiny_vit()
    a = params(model)
    b = params(tiny_vit(seed=1))  # an independent network: nothing planted
    net, a_used, aligned, rec = align_transformer(model, a, b, "weight", group)
    assert rec.group == group
    assert rec.coordinates == ("reparameterised" if group == "orthogonal" else "original")
    assert rec.dist_after < rec.dist_before  # weight matching moves B towards A
    x = inputs()
    # the aligned B still computes B's function, in the returned model's coordinates
    torch.testing.assert_close(outputs(net, aligned, x), outputs(model, b, x), rtol=0, atol=1e-10)
    assert set(a_used) == set(aligned) == {n for n, _ in net.named_parameters()}


def test_a_layernorm_mlp_is_not_taken_for_a_transformer() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 2))
    with pytest.raises(UnsupportedModelError, match="no attention layer"):
        transformer_spec(model)


def test_matrix_form_equals_the_index_form() -> None:
    model = tiny_vit()
    twin, sp, a = reparameterise(model, transformer_spec(model), params(model))
    t = random_transform(sp, "orthogonal", torch.Generator().manual_seed(4))
    eye = {k: torch.eye(len(v), dtype=torch.float64) for k, v in {**t.heads, **t.units}.items()}
    mats = {k: eye[k][v] for k, v in {**t.heads, **t.units}.items()}
    heads = {g.name: mats[g.name] for g in sp.attention}
    units = {u.name: mats[u.name] for u in sp.mlps}
    by_matrix = apply_matrices(sp, a, t.stream, heads, units)
    by_index = apply_transform(sp, a, t)
    assert max((by_matrix[k] - by_index[k]).abs().max() for k in a) < 1e-12


@pytest.mark.parametrize("group", ["orthogonal", "permutation"])
def test_learned_matching_lowers_the_midpoint_loss_of_its_start(group: str) -> None:
    """Two independent ViTs, learned matching from the identity: the transform returned is a
    group element whose midpoint loss is the lowest checked, below the identity's."""
    model = tiny_vit()
    spec = transformer_spec(model)
    net, sp, a = reparameterise(model, spec, params(model))
    b = fold_norms(spec, params(tiny_vit(seed=1)))
    if group == "permutation":
        net, sp, a, b = model, spec, params(model), params(tiny_vit(seed=1))
    x = inputs(64, seed=4)
    y = outputs(net, a, x).argmax(1)
    settings = LearnedMatchingSettings(steps=40, lr=0.05, batch_size=32)
    found, losses = transformer_learned_matching(
        net, sp, a, b, x, y, identity_transform(sp), group=group, settings=settings
    )
    o = found.stream
    assert (o @ o.T - torch.eye(DIM).double()).abs().max() < 1e-10
    mid = lerp(a, apply_transform(sp, b, found), 0.5)
    assert float(F.cross_entropy(outputs(net, mid, x), y)) == pytest.approx(min(losses), rel=1e-9)
    assert min(losses) < losses[0] - 1e-3


def test_align_transformer_learned_starts_from_weight_matching_on_a_planted_pair() -> None:
    """From weight matching's exact answer the learned search keeps an equally good one: the
    aligned B has A's midpoint loss (the straight line is flat)."""
    model = tiny_vit()
    a = params(model)
    spec = transformer_spec(model)
    x = inputs(32, seed=6)
    y = outputs(model, a, x).argmax(1)
    # planted in the original weights: a permutation (orthogonal maps need the fold first)
    b = apply_transform(
        spec, a, random_transform(spec, "permutation", torch.Generator().manual_seed(9))
    )
    net, a_r, aligned, rec = align_transformer(
        model, a, b, "learned", "orthogonal", x=x, y=y, learned_steps=10
    )
    assert rec.method == "learned" and rec.coordinates == "reparameterised"
    assert rec.dist_after < 1e-9
    assert abs(midpoint_barrier(net, a_r, aligned, x, y)) <= 1e-6
