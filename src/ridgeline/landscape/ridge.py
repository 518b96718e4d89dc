"""The ridge on the straight path: where L(θ_α) peaks over its chord and the curvature there.

With chord(α) = (1−α)L(θ_A) + αL(θ_B), α* = argmax over the grid of L(α) − chord(α) (the chord
barrier of docs/design.md §2 is its height) and ΔᵀH(θ_α*)Δ the curvature along Δ = θ_B − θ_A
at the peak (§4): B(α) ≈ −½α(1−α)ΔᵀH(θ_α)Δ, so a positive peak over the chord with negative
curvature there is a ridge crossed by the path. Like every Taylor term this expands the loss of
the straight path θ_α itself, so a REPAIR-corrected curve has no ridge here (docs/design.md §7):
its peak and its curvature are those of the uncorrected path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from torch import Tensor

from ridgeline.landscape.barrier import validate_alphas
from ridgeline.landscape.curvature import model_directional_derivatives
from ridgeline.landscape.derivatives import directional_derivatives
from ridgeline.landscape.evaluate import Evaluator
from ridgeline.landscape.normalization import Endpoints
from ridgeline.landscape.params import BNPolicy, ParamSet, delta, lerp, norm, param_names
from ridgeline.landscape.results import BarrierRecord, RidgeRecord
from ridgeline.landscape.sums import Reduce

LossFn = Callable[[ParamSet], Tensor]


def chord_excess(alphas: Sequence[float], losses: Sequence[float]) -> list[float]:
    """L(α) − ((1−α)L(0) + αL(1)) at each α of the grid (which holds 0 and 1, docs/design.md §2)."""
    al = validate_alphas(alphas)
    if len(losses) != len(al):
        raise ValueError(f"{len(losses)} losses for {len(al)} alphas")
    l0, l1 = float(losses[0]), float(losses[-1])
    return [float(v) - ((1 - a) * l0 + a * l1) for a, v in zip(al, losses, strict=True)]


def locate_peak(alphas: Sequence[float], losses: Sequence[float]) -> tuple[int, float]:
    """(index, height) of max_α [L(α) − chord(α)], the first on ties; (−1, nan) if any is NaN."""
    excess = chord_excess(alphas, losses)
    if any(math.isnan(e) for e in excess):
        return -1, math.nan
    i = max(range(len(excess)), key=lambda j: (excess[j], -j))
    return i, excess[i]


def ridge_on_path(
    evaluator: Evaluator | LossFn,
    theta_a: Mapping[str, Tensor],
    theta_b: Mapping[str, Tensor],
    alphas: Sequence[float],
    losses: Sequence[float],
    reduce: Reduce | None = None,
) -> RidgeRecord:
    """α* = argmax_α L(α) − chord(α) on the given curve, and ΔᵀH(θ_α*)Δ, its /‖Δ‖², its sign.

    ``evaluator``: an :class:`Evaluator` (exact mean over its data, Δ over parameters only, the
    point prepared by its BN policy with α* as its place between θ_A and θ_B) or a loss function
    of a parameter set (a toy). Curvature by nested jvp (docs/design.md §4); predicted_height =
    −½α*(1−α*)ΔᵀH(θ_α*)Δ. A NaN on the curve gives NaN throughout and no curvature evaluation.
    ``bn_policy='repair'`` is refused: the ridge, α* and ΔᵀHΔ alike, is the uncorrected path's
    (pass an ``interpolate`` Evaluator and its curve, as the barrier probe does).
    """
    if isinstance(evaluator, Evaluator) and evaluator.bn_policy is BNPolicy.REPAIR:
        raise ValueError(
            "ridge_on_path: the ridge expands the uncorrected straight path, and "
            "bn_policy='repair' corrects it; use an Evaluator of bn_policy='interpolate' and its "
            "loss curve"
        )
    al = validate_alphas(alphas)
    i, height = locate_peak(al, losses)
    d = delta(theta_a, theta_b)
    if isinstance(evaluator, Evaluator):
        names = set(param_names(evaluator.template))
        d = {k: v for k, v in d.items() if k in names}
    dn = norm(d)
    l_a, l_b = float(losses[0]), float(losses[-1])
    if i < 0:
        nan = math.nan
        return RidgeRecord(
            alpha=nan,
            height=nan,
            loss=nan,
            loss_a=l_a,
            loss_b=l_b,
            grad_dot_delta=nan,
            dHd=nan,
            curvature=nan,
            predicted_height=nan,
            delta_norm=dn,
            is_ridge=False,
            interior=False,
            bn_policy=evaluator.bn_policy.value if isinstance(evaluator, Evaluator) else None,
            n_examples=evaluator.n if isinstance(evaluator, Evaluator) else 0,
        )
    a = al[i]
    point = lerp(theta_a, theta_b, a)
    if isinstance(evaluator, Evaluator):
        ends = Endpoints(dict(theta_a), dict(theta_b), [a])
        prepared = evaluator.prepare([point], endpoints=ends)[0]
        _, g, h = model_directional_derivatives(evaluator, prepared, d, reduce, prepared=True)
        policy, n = evaluator.bn_policy.value, evaluator.n
    else:
        _, g_t, h_t = directional_derivatives(evaluator, point, d)
        g, h, policy, n = float(g_t), float(h_t), None, 0
    curv = h / dn**2 if dn > 0 else math.nan
    return RidgeRecord(
        alpha=float(a),
        height=float(height),
        loss=float(losses[i]),
        loss_a=l_a,
        loss_b=l_b,
        grad_dot_delta=float(g),
        dHd=float(h),
        curvature=curv,
        predicted_height=-0.5 * a * (1 - a) * h,
        delta_norm=dn,
        is_ridge=bool(curv < 0),
        interior=bool(0.0 < a < 1.0),
        bn_policy=policy,
        n_examples=n,
    )


def ridge_of_curve(
    evaluator: Evaluator,
    theta_a: Mapping[str, Tensor],
    theta_b: Mapping[str, Tensor],
    curve: BarrierRecord,
    reduce: Reduce | None = None,
) -> RidgeRecord:
    """:func:`ridge_on_path` on the loss curve of a :func:`barrier_curve` record."""
    return ridge_on_path(evaluator, theta_a, theta_b, curve.alphas, curve.loss, reduce)
