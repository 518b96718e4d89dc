"""Second-order barrier prediction (docs/design.md §4) over an Evaluator's data.

B(α) ≈ −½α(1−α)ΔᵀH(θ_α)Δ, so B_mid ≈ −⅛ΔᵀH(θ_½)Δ (exact for a quadratic loss). These
model-level functions accumulate exact means over the evaluation chunks of an
:class:`Evaluator`, in eval mode (BN running statistics are buffers, never differentiated),
from the primitives of :mod:`ridgeline.landscape.derivatives`; :func:`taylor_prediction` runs
all its terms through the tangent engine (:mod:`ridgeline.landscape.tangents`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor
from torch.func import functional_call

from ridgeline.landscape.derivatives import (
    LossFn,
    PowerOptions,
    directional_derivatives,
    hvp,
    power_iteration,
)
from ridgeline.landscape.evaluate import Evaluator
from ridgeline.landscape.params import (
    LayerGroup,
    ParamSet,
    delta,
    layer_blocks,
    lerp,
    norm,
    param_delta,
    param_names,
)
from ridgeline.landscape.results import EigenRecord, LayerCurvature, TaylorRecord
from ridgeline.landscape.sums import Reduce, exact_means
from ridgeline.landscape.tangents import TangentTask, loss_sum, run_tangent_tasks

if TYPE_CHECKING:
    from typing_extensions import Unpack


def _chunk_loss(evaluator: Evaluator, xc: Tensor, yc: Tensor) -> LossFn:
    """Summed loss of one chunk as a function of the parameter set.

    Per-example losses (and so their first and second directional derivatives) are summed in
    float64 (:func:`~ridgeline.landscape.tangents.loss_sum`): a float32 sum would round
    differently for each chunk size, so sharded (DDP) and one-process means would differ.
    """

    def fn(ps: ParamSet) -> Tensor:
        return loss_sum(evaluator, functional_call(evaluator.template, ps, (xc,)), yc)

    return fn


def _params_only(evaluator: Evaluator, direction: Mapping[str, Tensor]) -> ParamSet:
    """The entries of ``direction`` that are parameters of the model (buffers left out)."""
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
    sums = torch.zeros(3, dtype=torch.float64)
    n = 0
    for xc, yc in evaluator.chunks():
        l, d1, d2 = directional_derivatives(_chunk_loss(evaluator, xc, yc), th, d)
        sums += torch.stack([l.double(), d1.double(), d2.double()]).cpu()
        n += len(yc)
    mean_l, mean_d1, mean_d2 = exact_means(sums, n, reduce).tolist()
    return mean_l, mean_d1, mean_d2


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
    means = exact_means(torch.cat([acc[k].reshape(-1).cpu() for k in keys]), n, reduce)
    out, i = {}, 0
    for k in keys:
        m = v[k].numel()
        out[k] = means[i : i + m].view_as(v[k]).to(v[k].device, v[k].dtype)
        i += m
    return out


def model_top_eigenvalue(
    evaluator: Evaluator,
    theta: Mapping[str, Tensor],
    *,
    names: Sequence[str] | None = None,
    reduce: Reduce | None = None,
    **power: Unpack[PowerOptions],
) -> EigenRecord:
    """Top (largest-magnitude) eigenvalue of the mean-loss Hessian over parameters ``names``
    (default: the model's) by :func:`~ridgeline.landscape.derivatives.power_iteration` with the
    options ``power`` (``iters``, ``tol``, ``seed``, ...)."""
    th = evaluator.prepare([dict(theta)])[0]
    keys = param_names(evaluator.template) if names is None else list(names)
    like = {k: th[k] for k in keys}
    return power_iteration(lambda v: model_hvp(evaluator, th, v, reduce), like, **power)


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
    *,
    endpoints: bool = True,
    layerwise: bool = True,
    groups: Sequence[LayerGroup] | None = None,
    reduce: Reduce | None = None,
) -> TaylorRecord:
    """B_mid ≈ −⅛ΔᵀH(θ_½)Δ, curvature ΔᵀHΔ/‖Δ‖², endpoint expansion, layer-wise blocks.

    Endpoint expansion: ¼⟨∇L_A − ∇L_B, Δ⟩ + (1/16)Δᵀ(H_A + H_B)Δ. Layer ℓ: −⅛Δ_ℓᵀH_ℓℓ(θ^{ℓ,½})Δ_ℓ;
    cross-layer remainder ΔᵀH(θ_½)Δ − Σ_ℓ Δ_ℓᵀH_ℓℓ(θ_½)Δ_ℓ (docs/design.md §4).

    All terms come from one pass over the data: the tangents at one point share its primal pass
    (``vmap`` over tangents), and a layer block starts at its layer's stage, with the stages
    before it run once as a plain forward pass (an ``nn.Sequential`` model).
    """
    d = param_delta(evaluator.template, theta_a, theta_b)
    dn = norm(d)
    ta, tb = dict(theta_a), dict(theta_b)
    prepared = evaluator.prepare([lerp(theta_a, theta_b, 0.5), ta, tb])
    mid, pa, pb = prepared
    first = min((evaluator.stage_of(k) for k in d), default=0)
    tasks = [TangentTask(mid, [d], first)]
    if endpoints:
        tasks += [TangentTask(pa, [d], first), TangentTask(pb, [d], first)]
    layer_rows: list[tuple[LayerGroup, ParamSet, TangentTask, int, TangentTask]] = []
    if layerwise:
        blocks = layer_blocks(evaluator.template, theta_a, theta_b, d, groups)
        singles = evaluator.prepare([b.point for b in blocks])
        for b, single in zip(blocks, singles, strict=True):
            # Δ_ℓ alone, at θ_½ and at θ^{ℓ,½}: both start at ℓ's stage (the prefix runs once
            # per point), and with ℓ an affine head only the input of the rest moves
            start = min(evaluator.stage_of(k) for k in b.delta)
            mid_task = TangentTask(mid, [b.delta], start)
            single_task = TangentTask(single, [b.delta], start)
            tasks += [mid_task, single_task]
            layer_rows.append((b.group, b.delta, mid_task, 0, single_task))
    res, path = run_tangent_tasks(evaluator, tasks, reduce)
    by_id = {id(t): r for t, r in zip(tasks, res, strict=True)}
    l_mid, g_mid, h_mid = res[0][0]
    rec = TaylorRecord(
        loss_mid=l_mid,
        grad_dot_delta_mid=g_mid,
        dHd_mid=h_mid,
        predicted_barrier=-h_mid / 8.0,
        delta_norm=dn,
        curvature_mid=h_mid / dn**2 if dn > 0 else math.nan,
        n_examples=evaluator.n,
        eval_path=path,
    )
    if endpoints:
        (_, ga, ha), (_, gb, hb) = res[1][0], res[2][0]
        rec.grad_dot_delta_a, rec.grad_dot_delta_b, rec.dHd_a, rec.dHd_b = ga, gb, ha, hb
        rec.endpoint_expansion = 0.25 * (ga - gb) + (ha + hb) / 16.0
    if layerwise:
        total = 0.0
        for g, dl, mid_task, row, single_task in layer_rows:
            h_full = by_id[id(mid_task)][row][2]
            h_single = by_id[id(single_task)][0][2]
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
