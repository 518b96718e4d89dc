"""The landscape core on a Vision Transformer (issue 32): derivatives and vmap run with SDPA
(math backend under the core), per-layer Δ_ℓᵀH_ℓℓΔ_ℓ and the Gauss-Newton split against the
explicit float64 Hessian and Jacobian, the residual R per sub-layer, the transformer grouping."""

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.functional import hessian
from torch.func import jvp

from ridgeline.landscape import (
    Evaluator,
    gauss_newton_split,
    lerp,
    lerp_groups,
    state_of,
    taylor_prediction,
)
from ridgeline.landscape.curvature import model_directional_derivatives
from ridgeline.landscape.grouping import grouped_layers
from ridgeline.landscape.kernels import composite_layer_norm, derivative_kernels, math_attention
from ridgeline.models import build_model
from ridgeline.models.vit import Attention

from .test_gauss_newton import explicit_split

SHAPE = (1, 8, 8)  # 2x2 patches of 4x4: 4 tokens and a class token
TINY = {"patch_size": 4, "dim": 8, "depth": 1, "heads": 2, "mlp_dim": 8}


def tiny_vit(seed: int, dtype: torch.dtype = torch.float64, kernel: str | None = None, **kw):
    """A tiny ViT with every parameter moved off its initial value (no zero bias, unit gain)."""
    torch.manual_seed(seed)
    model = build_model("vit", SHAPE, 3, **(TINY | kw)).to(dtype).eval()
    g = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g, dtype=torch.float64).to(dtype))
    for m in model.modules():
        if isinstance(m, Attention):
            m.kernel = kernel
    return model


def data(n: int = 7, dtype: torch.dtype = torch.float64, seed: int = 5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *SHAPE, generator=g, dtype=dtype), torch.randint(0, 3, (n,), generator=g)


def test_sdpa_model_runs_every_derivative_and_matches_explicit_attention():
    """float32, SDPA left to pick its kernel: nested jvp (which the CPU flash kernel refuses)
    runs under the core, and equals the same model with attention written in plain ops."""
    x, y = data(n=20, dtype=torch.float32)
    a, b = tiny_vit(0, torch.float32), tiny_vit(1, torch.float32)
    ta, tb = state_of(a), state_of(b)
    d = {k: tb[k] - ta[k] for k in ta}
    mid = lerp(ta, tb, 0.5)
    sdpa = model_directional_derivatives(Evaluator(a, x, y), mid, d)
    explicit = model_directional_derivatives(
        Evaluator(tiny_vit(0, kernel="explicit").float(), x, y), mid, d
    )
    assert sdpa == pytest.approx(explicit, rel=1e-4, abs=1e-6)
    assert abs(sdpa[2]) > 1e-3


@pytest.mark.parametrize("use_vmap", [True, False])
def test_evaluation_paths_agree_without_fallback_warning(use_vmap):
    """Loss and error of several parameter sets: vmap (math backend) and the loop (SDPA's own
    kernel) equal the explicit-attention model to float32 rounding; vmap batches (no
    per-sample fallback warning)."""
    x, y = data(n=50, dtype=torch.float32)
    a, b = tiny_vit(0, torch.float32), tiny_vit(1, torch.float32)
    sets = [lerp(state_of(a), state_of(b), t) for t in (0.0, 0.3, 0.5, 1.0)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # "There is a performance drop ..."
        got = Evaluator(a, x, y, use_vmap=use_vmap, path_cache={}).sums(sets)
    ref_model = tiny_vit(0, torch.float32, kernel="explicit")
    ref = Evaluator(ref_model, x, y, use_vmap=False, path_cache={}).sums(sets)
    assert torch.allclose(got[:, 0], ref[:, 0], rtol=1e-5, atol=1e-4)
    assert torch.equal(got[:, 1:], ref[:, 1:])  # error counts and n


def test_math_attention_restores_the_backend_choice():
    q = torch.randn(1, 2, 3, 4)
    with math_attention():
        inner = torch.nn.functional.scaled_dot_product_attention(q, q, q)
    outer = torch.nn.functional.scaled_dot_product_attention(q, q, q)
    assert torch.allclose(inner, outer, atol=1e-6)
    with pytest.raises(RuntimeError):  # back on the flash kernel: no forward-mode AD
        torch.func.jvp(
            lambda t: torch.nn.functional.scaled_dot_product_attention(t, t, t), (q,), (q,)
        )


def test_transformer_grouping():
    model = tiny_vit(0, depth=2)
    names = [g.name for g in grouped_layers(model)]
    assert names == [
        "embed",
        *[f"block{i}.{s}" for i in (1, 2) for s in ("norm1", "attn", "norm2", "mlp")],
        "norm",
        "head",
    ]
    groups = {g.name: g for g in grouped_layers(model)}
    assert set(groups["embed"].param_names) == {
        "embed.cls_token",
        "embed.pos_embed",
        "embed.proj.weight",
        "embed.proj.bias",
    }
    assert groups["block2.attn"].param_names == tuple(
        f"block2.attn.{m}.{p}" for m in ("qkv", "proj") for p in ("weight", "bias")
    )
    stages = [g.name for g in grouped_layers(model, "stage")]
    assert stages == ["embed", "block1", "block2", "norm", "head"]
    every = [n for g in grouped_layers(model, "stage") for n in g.param_names]
    assert sorted(every) == sorted(n for n, _ in model.named_parameters())
    assert len(grouped_layers(model, "module")) == 16
    plain = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2))
    assert [g.name for g in grouped_layers(plain)] == ["0", "2"]  # auto: module for the rest


# R = 0 exactly where the logits are affine in the layer's own parameters (the head; the final
# norm's gain and bias, read by the linear head); elsewhere softmax attention, LayerNorm and the
# GELU MLP make R ≠ 0.
AFFINE_IN_LOGITS = {"head", "norm"}


@pytest.mark.slow  # explicit Hessian, over 10 s
@pytest.mark.parametrize("seed", [0, 1])
def test_per_layer_curvature_and_split_equal_explicit_hessian(seed):
    """float64: ΔᵀH(θ_½)Δ, each Δ_ℓᵀH_ℓℓ(θ^{ℓ,½})Δ_ℓ and their G/R split equal the explicit
    autograd Hessian and Jacobian (explicit attention in the reference) to 1e-8 relative."""
    x, y = data(seed=seed + 10)
    a, b = tiny_vit(2 * seed), tiny_vit(2 * seed + 1)
    ref = tiny_vit(2 * seed, kernel="explicit")
    ta, tb = state_of(a), state_of(b)
    groups = grouped_layers(a)
    d = {k: tb[k] - ta[k] for k in ta}
    ev = Evaluator(a, x, y, chunk_size=4)  # 7 examples: chunks 4, 3
    tay = taylor_prediction(ev, ta, tb, groups=groups, endpoints=False)
    split = gauss_newton_split(ev, ta, tb, groups=groups)

    total, gn, _ = explicit_split(ref, lerp(ta, tb, 0.5), d, x, y)
    assert tay.dHd_mid == pytest.approx(total, rel=1e-8)
    assert split.whole.total == pytest.approx(total, rel=1e-8)
    assert split.whole.gauss_newton == pytest.approx(gn, rel=1e-8)
    assert split.whole.residual == pytest.approx(total - gn, rel=1e-8, abs=1e-10 * abs(total))
    assert [s.name for s in split.layers] == [g.name for g in groups]
    for s, lay, grp in zip(split.layers, tay.layers, groups, strict=True):
        point = lerp_groups(ta, tb, 0.5, [grp.name], groups, rest="a")
        dl = {k: d[k] for k in grp.param_names}
        t_l, g_l, _ = explicit_split(ref, point, dl, x, y)
        scale = max(abs(t_l), g_l)
        assert lay.dHd_single_mid == pytest.approx(t_l, rel=1e-8, abs=1e-12 * scale), grp.name
        assert s.total == pytest.approx(t_l, rel=1e-8, abs=1e-12 * scale), grp.name
        assert s.gauss_newton == pytest.approx(g_l, rel=1e-8), grp.name
        assert s.residual == pytest.approx(t_l - g_l, rel=1e-8, abs=1e-10 * scale), grp.name
        if grp.name in AFFINE_IN_LOGITS:
            assert abs(s.residual) <= 1e-12 * s.gauss_newton, grp.name
        else:
            assert abs(s.residual) > 1e-4 * s.gauss_newton, grp.name


def test_layer_norm_second_forward_derivative_is_exact_under_the_core():
    """torch's own F.layer_norm gives a wrong forward-over-forward second derivative (the trap
    the core routes around); under derivative_kernels the nested jvp equals the reverse-mode
    Hessian, with and without the affine part, and the composite LN equals F.layer_norm."""
    g = torch.Generator().manual_seed(0)
    x, v, w = (torch.randn(3, 5, 8, generator=g, dtype=torch.float64) for _ in range(3))
    gamma, beta = (torch.randn(8, generator=g, dtype=torch.float64) for _ in range(2))
    for affine in ((), (gamma, beta)):

        def f(t, affine=affine):
            return (F.layer_norm(t, (8,), *affine) * w).sum()

        def second(t):
            return jvp(lambda p: jvp(f, (p,), (v,))[1], (t,), (v,))[1]

        h = hessian(f, x).reshape(x.numel(), x.numel())
        exact = v.reshape(-1) @ h @ v.reshape(-1)
        with derivative_kernels():
            assert second(x) == pytest.approx(float(exact), rel=1e-12)
        assert torch.allclose(
            composite_layer_norm(x, (8,), *affine), F.layer_norm(x, (8,), *affine)
        )
    # torch 2.14.1: still wrong outside (if a torch upgrade fixes it, the workaround may go)
    assert abs(second(x) - exact) > 1e-5 * abs(exact)
