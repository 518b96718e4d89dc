"""Derivatives of a generic loss along directions: ΔᵀHΔ by nested jvp, Hv, top eigenvalue.

Forward-over-forward jvp gives (L, ⟨∇L, Δ⟩, ΔᵀHΔ) without forming H; forward-over-reverse gives
Hessian-vector products, and power iteration on them the largest-magnitude eigenvalue
(docs/design.md §4). A loss here is any function of a parameter set; model-level means over an
Evaluator's data are in :mod:`ridgeline.landscape.curvature`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

import torch
from torch import Tensor
from torch.func import grad, jvp

from ridgeline.landscape.kernels import derivative_kernels
from ridgeline.landscape.params import ParamSet, dot, norm
from ridgeline.landscape.results import EigenRecord

if TYPE_CHECKING:
    from typing_extensions import Unpack

LossFn = Callable[[ParamSet], Tensor]


def jvp_pair(
    func: Callable[..., Any], primals: tuple[Any, ...], tangents: tuple[Any, ...]
) -> tuple[Any, Any]:
    """``torch.func.jvp`` without aux: (func(*primals), its derivative along ``tangents``), under
    :func:`~ridgeline.landscape.kernels.derivative_kernels` (SDPA math, composite LayerNorm)."""
    with derivative_kernels():
        out = jvp(func, primals, tangents)
    return out[0], out[1]


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
        return jvp_pair(f, (p,), (tangent,))

    (value, d1), (_, d2) = jvp_pair(f1, (primal,), (tangent,))
    return value.detach(), d1.detach(), d2.detach()


def directional_second_derivative(
    loss_fn: LossFn, theta: Mapping[str, Tensor], direction: Mapping[str, Tensor]
) -> Tensor:
    """ΔᵀH(θ)Δ = d²/dt² L(θ + tΔ) at t=0 (docs/design.md §4), without forming H."""
    return directional_derivatives(loss_fn, theta, direction)[2]


def hvp(loss_fn: LossFn, theta: Mapping[str, Tensor], v: Mapping[str, Tensor]) -> ParamSet:
    """Hessian-vector product H(θ)v by forward-over-reverse (jvp of grad) over the keys of v."""
    _, fixed, primal = _split(theta, v)
    tangent = {k: v[k].to(primal[k].dtype) for k in primal}

    def f(p: ParamSet) -> Tensor:
        return loss_fn({**fixed, **p})

    return {k: t.detach() for k, t in jvp_pair(grad(f), (primal,), (tangent,))[1].items()}


class PowerOptions(TypedDict, total=False):
    """The options of :func:`power_iteration` (its defaults apply), as keywords of the
    top-eigenvalue functions."""

    iters: int
    tol: float
    generator: torch.Generator | None
    seed: int


def power_iteration(
    hvp_fn: Callable[[ParamSet], ParamSet],
    like: Mapping[str, Tensor],
    *,
    iters: int = 100,
    tol: float = 1e-4,
    generator: torch.Generator | None = None,
    seed: int = 0,
) -> EigenRecord:
    """Largest-magnitude eigenvalue of H by power iteration v ← Hv/‖Hv‖ (private generator).

    λ is the Rayleigh quotient vᵀHv of the unit iterate v and ``residual`` its relative residual
    ‖Hv − λv‖/|λ|. For a symmetric H some eigenvalue lies within ‖Hv − λv‖ of λ, so the
    residual bounds the eigenvalue's relative error; the iteration stops, ``converged``, once
    it is ≤ ``tol`` (the change of λ between iterations bounds nothing: it can be far below
    tol while λ is still off by more, when the two largest eigenvalues are close).
    """
    g = generator if generator is not None else torch.Generator().manual_seed(seed)
    v = {
        k: torch.randn(t.shape, generator=g, dtype=torch.float64).to(t.device, t.dtype)
        for k, t in like.items()
    }
    nv = norm(v)
    v = {k: t / nv for k, t in v.items()}
    lam, residual, converged, it = math.nan, math.nan, False, 0
    for _ in range(iters):
        it += 1
        w = hvp_fn(v)
        lam = dot(v, w)
        nw = norm(w)
        if not math.isfinite(nw) or nw == 0.0:
            break
        r = {k: w[k].double() - lam * v[k].double() for k in w}  # direct: no cancellation
        residual = norm(r) / max(abs(lam), 1e-30)
        if residual <= tol:
            converged = True
            break
        v = {k: t / nw for k, t in w.items()}
    return EigenRecord(eigenvalue=lam, iterations=it, converged=converged, residual=residual)


def top_eigenvalue(
    loss_fn: LossFn,
    theta: Mapping[str, Tensor],
    *,
    names: Sequence[str] | None = None,
    **power: Unpack[PowerOptions],
) -> EigenRecord:
    """Largest-magnitude Hessian eigenvalue of a generic loss over ``names`` (default: all keys)
    by :func:`power_iteration` with the options ``power`` (``iters``, ``tol``, ``seed``, ...)."""
    keys = list(theta) if names is None else list(names)
    like = {k: theta[k] for k in keys}
    return power_iteration(lambda v: hvp(loss_fn, theta, v), like, **power)
