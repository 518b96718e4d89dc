"""Gauss-Newton split of the curvature along Δ: ΔᵀHΔ = ΔᵀGΔ + ΔᵀRΔ (docs/design.md §4).

For a mean loss L = (1/n)Σᵢ ℓ(zᵢ(θ), yᵢ) of network outputs zᵢ, the chain rule along θ + tΔ gives
ΔᵀHΔ = (1/n)Σᵢ [uᵢᵀ H_out,i uᵢ + ∇_zℓᵢᵀ wᵢ] with uᵢ = JᵢΔ (jvp of the outputs) and
wᵢ = Δᵀ∇²zᵢΔ (second jvp): the first term is the Gauss-Newton part G ⪰ 0, the second the
residual R (Schraudolph 2002; Martens 2020, "New insights and perspectives on the natural
gradient method" §8). For softmax cross-entropy H_out = diag(p) − ppᵀ, so
uᵀH_out u = Σ_c p_c u_c² − (Σ_c p_c u_c)² = Σ_c p_c (u_c − ū)², and ∇_zℓ = p − onehot(y).
Both come from one nested forward-mode jvp of the outputs (never a Hessian or Jacobian matrix),
summed in float64 over the evaluator's chunks and divided once: exact means.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from ridgeline.landscape.derivatives import jvp_pair
from ridgeline.landscape.evaluate import Evaluator
from ridgeline.landscape.normalization import Endpoints
from ridgeline.landscape.params import (
    LayerGroup,
    ParamSet,
    layer_blocks,
    lerp,
    norm,
    param_delta,
)
from ridgeline.landscape.results import CurvatureSplit, GaussNewtonRecord
from ridgeline.landscape.sums import Reduce, exact_means


def _output_jets(
    module: nn.Module, theta: ParamSet, tangent: ParamSet, h: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """(z, u, w) = (f(θ), J_fΔ, Δᵀ∇²fΔ) of the outputs along Δ by nested jvp (keys of Δ move)."""
    fixed = {k: v for k, v in theta.items() if k not in tangent}
    primal = {k: theta[k] for k in tangent}
    tan = {k: tangent[k].to(primal[k].dtype) for k in tangent}

    def out(p: ParamSet) -> Tensor:
        return functional_call(module, {**fixed, **p}, (h,))

    def first(p: ParamSet) -> tuple[Tensor, Tensor]:
        return jvp_pair(out, (p,), (tan,))

    (z, u), (_, w) = jvp_pair(first, (primal,), (tan,))
    return z.detach(), u.detach(), w.detach()


def cross_entropy_split(z: Tensor, u: Tensor, w: Tensor, y: Tensor) -> Tensor:
    """Sums over a chunk [loss, G, R] of softmax cross-entropy from logits jets (z, u, w) [B, C].

    G = Σᵢ Σ_c p_c (u_c − Σ_c' p_c' u_c')² = Σᵢ uᵢᵀ(diag p − ppᵀ)uᵢ ≥ 0; R = Σᵢ (p − onehot)ᵀwᵢ.
    """
    if z.dim() != 2:
        raise ValueError(f"cross-entropy split needs logits [batch, classes], got {tuple(z.shape)}")
    zd, ud, wd = z.double(), u.double(), w.double()
    p = torch.softmax(zd, dim=1)
    mean_u = (p * ud).sum(1, keepdim=True)
    gn = (p * (ud - mean_u) ** 2).sum()
    onehot = F.one_hot(y.long(), zd.shape[1]).to(zd.dtype)
    res = ((p - onehot) * wd).sum()
    loss = F.cross_entropy(zd, y.long(), reduction="sum")
    return torch.stack([loss, gn, res])


def _generic_split(evaluator: Evaluator, z: Tensor, u: Tensor, w: Tensor, y: Tensor) -> Tensor:
    """[loss, G, R] sums for the evaluator's own per-example loss ℓ(z, y): uᵀ∇²_zℓ u and ∇_zℓᵀw."""
    assert evaluator.per_example_loss is not None
    loss_fn = evaluator.per_example_loss

    def total(zz: Tensor) -> Tensor:
        return loss_fn(zz, y).double().sum()

    def along_u(zz: Tensor) -> tuple[Tensor, Tensor]:
        return jvp_pair(total, (zz,), (u,))

    (value, _), (_, gn) = jvp_pair(along_u, (z,), (u,))
    _, res = jvp_pair(total, (z,), (w.to(z.dtype),))
    return torch.stack([value.detach(), gn.detach(), res.detach().double()])


def _start_stage(evaluator: Evaluator, keys: Sequence[str]) -> int:
    return min((evaluator.stage_of(k) for k in keys), default=0)


def _chunk_split(
    evaluator: Evaluator, theta: ParamSet, tangent: ParamSet, xc: Tensor, yc: Tensor
) -> Tensor:
    """[loss, G, R] sums of one chunk at θ along Δ (stages before Δ's first stage run plainly)."""
    start = _start_stage(evaluator, list(tangent)) if evaluator.stage_names is not None else 0
    h = xc
    if start > 0:
        assert isinstance(evaluator.template, nn.Sequential)  # stages: an nn.Sequential
        prefix = evaluator.template[:start]
        with torch.no_grad():
            ps = {k: v for k, v in theta.items() if evaluator.stage_of(k) < start}
            h = functional_call(prefix, ps, (xc,))
        theta = {k: v for k, v in theta.items() if evaluator.stage_of(k) >= start}
    module = evaluator.module_from(start)
    z, u, w = _output_jets(module, theta, tangent, h)
    if evaluator.per_example_loss is None:
        return cross_entropy_split(z, u, w, yc)
    return _generic_split(evaluator, z, u, w, yc)


def curvature_splits(
    evaluator: Evaluator,
    points: Sequence[ParamSet],
    directions: Sequence[Mapping[str, Tensor]],
    reduce: Reduce | None = None,
) -> list[tuple[float, float, float]]:
    """Exact means (L, ΔᵀGΔ, ΔᵀRΔ) at each prepared point along its direction, one data pass.

    Each chunk is loaded once for all points; the float64 sums go through one ``reduce`` call.
    """
    if len(points) != len(directions):
        raise ValueError(f"{len(points)} points for {len(directions)} directions")
    acc = torch.zeros(len(points), 3, dtype=torch.float64)
    n = 0
    for xc, yc in evaluator.chunks():
        for i, (th, d) in enumerate(zip(points, directions, strict=True)):
            acc[i] += _chunk_split(evaluator, dict(th), dict(d), xc, yc).cpu()
        n += len(yc)
    return [(r[0], r[1], r[2]) for r in exact_means(acc, n, reduce).tolist()]


def _split(name: str, row: tuple[float, float, float], d: Mapping[str, Tensor]) -> CurvatureSplit:
    loss, gn, res = row
    return CurvatureSplit(
        name=name, total=gn + res, gauss_newton=gn, residual=res, loss=loss, delta_norm=norm(d)
    )


def gauss_newton_split(
    evaluator: Evaluator,
    theta_a: Mapping[str, Tensor],
    theta_b: Mapping[str, Tensor],
    *,
    layerwise: bool = True,
    groups: Sequence[LayerGroup] | None = None,
    reduce: Reduce | None = None,
) -> GaussNewtonRecord:
    """ΔᵀHΔ = ΔᵀGΔ + ΔᵀRΔ at θ_½ (whole Δ) and per layer ℓ at θ^{ℓ,½} along Δ_ℓ (§3, §4).

    θ^{ℓ,½} = θ_A with layer ℓ at ½ (the point of ``layers[ℓ].dHd_single_mid`` of
    :func:`taylor_prediction`), so each layer's ``total`` is that block's curvature. Δ covers
    parameters only; points are prepared by the evaluator's BN policy (α = ½ for REPAIR).
    Cross-entropy closed form unless the evaluator has its own ``per_example_loss``.
    """
    d = param_delta(evaluator.template, theta_a, theta_b)
    blocks = layer_blocks(evaluator.template, theta_a, theta_b, d, groups) if layerwise else []
    points = [lerp(theta_a, theta_b, 0.5), *(b.point for b in blocks)]
    directions = [d, *(b.delta for b in blocks)]
    labels = ["whole", *(b.group.name for b in blocks)]
    ends = Endpoints(dict(theta_a), dict(theta_b), [0.5] * len(points))
    prepared = evaluator.prepare(points, endpoints=ends)
    rows = curvature_splits(evaluator, prepared, directions, reduce)
    splits = [_split(n, r, dd) for n, r, dd in zip(labels, rows, directions, strict=True)]
    return GaussNewtonRecord(
        whole=splits[0],
        layers=splits[1:],
        loss_kind="cross_entropy" if evaluator.per_example_loss is None else "per_example",
        bn_policy=evaluator.bn_policy.value,
        n_examples=evaluator.n,
    )
