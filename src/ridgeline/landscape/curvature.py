"""Second-order barrier prediction: ΔᵀHΔ by nested jvp, never forming the Hessian (DESIGN §2).

B(α) ≈ −½α(1−α)ΔᵀH(θ_α)Δ, so B_mid ≈ −⅛ΔᵀH(θ_½)Δ (exact for a quadratic loss). Model-level
functions accumulate exact means over the evaluation chunks of an :class:`Evaluator`, in eval
mode (BN running statistics are buffers, never differentiated).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.func import functional_call, grad, jvp

from ridgeline.landscape.evaluate import Evaluator, Reduce
from ridgeline.landscape.params import (
    LayerGroup,
    ParamSet,
    delta,
    dot,
    layer_groups,
    lerp,
    lerp_groups,
    norm,
    param_names,
)
from ridgeline.landscape.records import EigenRecord, LayerCurvature, TaylorRecord

LossFn = Callable[[ParamSet], Tensor]


def _split(theta: Mapping[str, Tensor], direction: Mapping[str, Tensor]):
    keys = list(direction)
    fixed = {k: v for k, v in theta.items() if k not in direction}
    primal = {k: theta[k] for k in keys}
    return keys, fixed, primal


def directional_derivatives(
    loss_fn: LossFn, theta: Mapping[str, Tensor], direction: Mapping[str, Tensor]
) -> tuple[Tensor, Tensor, Tensor]:
    """(L(θ), ⟨∇L(θ), Δ⟩, ΔᵀH(θ)Δ) by forward-over-forward jvp; keys absent from Δ stay fixed."""
    _, fixed, primal = _split(theta, direction)
    tangent = {k: direction[k].to(primal[k].dtype) for k in primal}

    def f(p: ParamSet) -> Tensor:
        return loss_fn({**fixed, **p})

    def f1(p: ParamSet) -> tuple[Tensor, Tensor]:
        return jvp(f, (p,), (tangent,))

    (value, d1), (_, d2) = jvp(f1, (primal,), (tangent,))
    return value.detach(), d1.detach(), d2.detach()


def directional_second_derivative(
    loss_fn: LossFn, theta: Mapping[str, Tensor], direction: Mapping[str, Tensor]
) -> Tensor:
    """ΔᵀH(θ)Δ = d²/dt² L(θ + tΔ) at t=0 (DESIGN §2), without forming H."""
    return directional_derivatives(loss_fn, theta, direction)[2]


def hvp(loss_fn: LossFn, theta: Mapping[str, Tensor], v: Mapping[str, Tensor]) -> ParamSet:
    """Hessian-vector product H(θ)v by forward-over-reverse (jvp of grad) over the keys of v."""
    _, fixed, primal = _split(theta, v)
    tangent = {k: v[k].to(primal[k].dtype) for k in primal}

    def f(p: ParamSet) -> Tensor:
        return loss_fn({**fixed, **p})

    return {k: t.detach() for k, t in jvp(grad(f), (primal,), (tangent,))[1].items()}


def power_iteration(
    hvp_fn: Callable[[ParamSet], ParamSet],
    like: Mapping[str, Tensor],
    iters: int = 100,
    tol: float = 1e-4,
    generator: torch.Generator | None = None,
    seed: int = 0,
) -> EigenRecord:
    """Largest-magnitude eigenvalue of H by power iteration v ← Hv/‖Hv‖ (private generator)."""
    g = generator if generator is not None else torch.Generator().manual_seed(seed)
    v = {
        k: torch.randn(t.shape, generator=g, dtype=torch.float64).to(t.device, t.dtype)
        for k, t in like.items()
    }
    nv = norm(v)
    v = {k: t / nv for k, t in v.items()}
    lam, prev, residual, converged, it = math.nan, math.nan, math.nan, False, 0
    for _ in range(iters):
        it += 1
        w = hvp_fn(v)
        lam = dot(v, w)
        nw = norm(w)
        residual = math.sqrt(max(0.0, nw**2 - lam**2)) / max(abs(lam), 1e-30)
        if not math.isfinite(nw) or nw == 0.0:
            break
        v = {k: t / nw for k, t in w.items()}
        if math.isfinite(prev) and abs(lam - prev) <= tol * max(abs(lam), 1e-30):
            converged = True
            break
        prev = lam
    return EigenRecord(eigenvalue=lam, iterations=it, converged=converged, residual=residual)


def top_eigenvalue(
    loss_fn: LossFn,
    theta: Mapping[str, Tensor],
    names: Sequence[str] | None = None,
    iters: int = 100,
    tol: float = 1e-4,
    generator: torch.Generator | None = None,
) -> EigenRecord:
    """Largest-magnitude Hessian eigenvalue of a generic loss over ``names`` (default: all keys)."""
    keys = list(theta) if names is None else list(names)
    like = {k: theta[k] for k in keys}
    return power_iteration(lambda v: hvp(loss_fn, theta, v), like, iters, tol, generator)


# ---------------------------------------------------------------------------------------------
# Model + data wrappers (exact means over the evaluator's chunks)


def _chunk_loss(evaluator: Evaluator, xc: Tensor, yc: Tensor) -> LossFn:
    def fn(ps: ParamSet) -> Tensor:
        out = functional_call(evaluator.template, ps, (xc,))
        if evaluator.per_example_loss is not None:
            return evaluator.per_example_loss(out, yc).sum()
        return F.cross_entropy(out, yc, reduction="sum")

    return fn


def _params_only(evaluator: Evaluator, direction: Mapping[str, Tensor]) -> ParamSet:
    names = set(param_names(evaluator.template))
    return {k: v for k, v in direction.items() if k in names}


def model_directional_derivatives(
    evaluator: Evaluator,
    theta: Mapping[str, Tensor],
    direction: Mapping[str, Tensor],
    reduce: Reduce | None = None,
    prepared: bool = False,
) -> tuple[float, float, float]:
    """Exact means (L, ⟨∇L, Δ⟩, ΔᵀHΔ) at θ over the evaluator's data (Δ over parameters only)."""
    th = dict(theta) if prepared else evaluator.prepare([dict(theta)])[0]
    d = _params_only(evaluator, direction)
    sums = torch.zeros(4, dtype=torch.float64)
    for xc, yc in evaluator.chunks():
        l, d1, d2 = directional_derivatives(_chunk_loss(evaluator, xc, yc), th, d)
        sums += torch.stack(
            [l.double(), d1.double(), d2.double(), l.new_tensor(len(yc)).double()]
        ).cpu()
    if reduce is not None:
        sums = reduce(sums)
    n = float(sums[3])
    return float(sums[0]) / n, float(sums[1]) / n, float(sums[2]) / n


def model_hvp(
    evaluator: Evaluator,
    theta: Mapping[str, Tensor],
    v: Mapping[str, Tensor],
    reduce: Reduce | None = None,
) -> ParamSet:
    """Exact-mean Hessian-vector product H(θ)v over the evaluator's data (θ already prepared)."""
    keys = list(v)
    acc = {k: torch.zeros_like(v[k], dtype=torch.float64) for k in keys}
    n = 0
    for xc, yc in evaluator.chunks():
        hv = hvp(_chunk_loss(evaluator, xc, yc), theta, v)
        for k in keys:
            acc[k] += hv[k].double()
        n += len(yc)
    flat = torch.cat([acc[k].reshape(-1).cpu() for k in keys] + [torch.tensor([float(n)]).double()])
    if reduce is not None:
        flat = reduce(flat)
    total, out, i = float(flat[-1]), {}, 0
    for k in keys:
        m = v[k].numel()
        out[k] = (flat[i : i + m] / total).view_as(v[k]).to(v[k].device, v[k].dtype)
        i += m
    return out


def model_top_eigenvalue(
    evaluator: Evaluator,
    theta: Mapping[str, Tensor],
    names: Sequence[str] | None = None,
    iters: int = 100,
    tol: float = 1e-4,
    seed: int = 0,
    reduce: Reduce | None = None,
) -> EigenRecord:
    """Top (largest-magnitude) eigenvalue of the mean-loss Hessian over parameters ``names``."""
    th = evaluator.prepare([dict(theta)])[0]
    keys = param_names(evaluator.template) if names is None else list(names)
    like = {k: th[k] for k in keys}
    gen = torch.Generator().manual_seed(seed)
    return power_iteration(lambda v: model_hvp(evaluator, th, v, reduce), like, iters, tol, gen)


def predicted_barrier_curve(
    evaluator: Evaluator,
    theta_a: Mapping[str, Tensor],
    theta_b: Mapping[str, Tensor],
    alphas: Sequence[float],
    reduce: Reduce | None = None,
) -> list[float]:
    """Second-order prediction B(α) ≈ −½α(1−α)ΔᵀH(θ_α)Δ at each α of the grid."""
    d = _params_only(evaluator, delta(theta_a, theta_b))
    out = []
    for a in alphas:
        _, _, d2 = model_directional_derivatives(evaluator, lerp(theta_a, theta_b, a), d, reduce)
        out.append(-0.5 * a * (1 - a) * d2)
    return out


def taylor_prediction(
    evaluator: Evaluator,
    theta_a: Mapping[str, Tensor],
    theta_b: Mapping[str, Tensor],
    groups: Sequence[LayerGroup] | None = None,
    layerwise: bool = True,
    endpoints: bool = True,
    reduce: Reduce | None = None,
) -> TaylorRecord:
    """B_mid ≈ −⅛ΔᵀH(θ_½)Δ, curvature ΔᵀHΔ/‖Δ‖², endpoint expansion, layer-wise blocks.

    Endpoint expansion: ¼⟨∇L_A − ∇L_B, Δ⟩ + (1/16)Δᵀ(H_A + H_B)Δ. Layer ℓ: −⅛Δ_ℓᵀH_ℓℓ(θ^{ℓ,½})Δ_ℓ;
    cross-layer remainder ΔᵀH(θ_½)Δ − Σ_ℓ Δ_ℓᵀH_ℓℓ(θ_½)Δ_ℓ (DESIGN §2).
    """
    d = _params_only(evaluator, delta(theta_a, theta_b))
    dn = norm(d)
    mid = evaluator.prepare([lerp(theta_a, theta_b, 0.5)])[0]
    l_mid, g_mid, h_mid = model_directional_derivatives(evaluator, mid, d, reduce, prepared=True)
    rec = TaylorRecord(
        loss_mid=l_mid,
        grad_dot_delta_mid=g_mid,
        dHd_mid=h_mid,
        predicted_barrier=-h_mid / 8.0,
        delta_norm=dn,
        curvature_mid=h_mid / dn**2 if dn > 0 else math.nan,
        n_examples=evaluator.n,
    )
    if endpoints:
        _, ga, ha = model_directional_derivatives(evaluator, theta_a, d, reduce)
        _, gb, hb = model_directional_derivatives(evaluator, theta_b, d, reduce)
        rec.grad_dot_delta_a, rec.grad_dot_delta_b, rec.dHd_a, rec.dHd_b = ga, gb, ha, hb
        rec.endpoint_expansion = 0.25 * (ga - gb) + (ha + hb) / 16.0
    if layerwise:
        if groups is None:
            groups = [g for g in layer_groups(evaluator.template) if g.param_names]
        total = 0.0
        for g in groups:
            dl = {k: d[k] for k in g.param_names if k in d}
            if not dl:
                continue
            single = lerp_groups(theta_a, theta_b, 0.5, [g.name], groups, rest="a")
            _, _, h_single = model_directional_derivatives(evaluator, single, dl, reduce)
            _, _, h_full = model_directional_derivatives(evaluator, mid, dl, reduce, prepared=True)
            total += h_full
            rec.layers.append(
                LayerCurvature(
                    name=g.name,
                    dHd_single_mid=h_single,
                    predicted_barrier=-h_single / 8.0,
                    dHd_full_mid=h_full,
                    delta_norm=norm(dl),
                )
            )
        rec.cross_layer_remainder = h_mid - total
    return rec
