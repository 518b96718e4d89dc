"""Barrier curves along θ_α = (1−α)θ_A + αθ_B, barrier variants, and layer-wise barriers.

Definitions: docs/design.md §2–§3 (Frankle et al. 2020; Entezari et al. 2022; Adilova et al. 2024).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor

from ridgeline.landscape.evaluate import Evaluator
from ridgeline.landscape.groups import ParamSetGroup
from ridgeline.landscape.normalization import Endpoints
from ridgeline.landscape.params import BNPolicy, LayerGroup, layer_groups, lerp, lerp_groups
from ridgeline.landscape.results import BarrierRecord, BarrierValues, LayerBarrier, LayerwiseRecord
from ridgeline.landscape.sums import Metrics, Reduce

DEFAULT_ALPHAS: tuple[float, ...] = tuple(i / 24 for i in range(25))
MIDPOINT_ALPHAS: tuple[float, ...] = (0.0, 0.5, 1.0)
DIRECTIONS = ("into_a", "into_b")


def validate_alphas(alphas: Sequence[float]) -> list[float]:
    """Check an α-grid: finite, strictly increasing, within [0, 1], containing 0 and 1."""
    al = [float(a) for a in alphas]
    if len(al) < 2:
        raise ValueError(f"alpha grid needs at least the endpoints 0 and 1, got {al}")
    if not all(math.isfinite(a) for a in al):
        raise ValueError(f"alpha grid has non-finite values: {al}")
    if any(b <= a for a, b in zip(al[:-1], al[1:], strict=True)):
        raise ValueError(f"alpha grid must be sorted strictly increasing, got {al}")
    if al[0] < 0.0 or al[-1] > 1.0:
        raise ValueError(f"alpha grid must lie within [0, 1], got {al[0]} .. {al[-1]}")
    if al[0] != 0.0:
        raise ValueError(f"alpha grid must contain the endpoint 0 (θ_A), got {al}")
    if al[-1] != 1.0:
        raise ValueError(f"alpha grid must contain the endpoint 1 (θ_B), got {al}")
    return al


def with_midpoint(alphas: Sequence[float]) -> list[float]:
    """Validated grid with α = ½ inserted when missing (the midpoint barrier needs it)."""
    al = validate_alphas(alphas)
    if 0.5 not in al:
        al = sorted([*al, 0.5])
    return al


def _max(values: Sequence[float]) -> float:
    if any(math.isnan(v) for v in values):
        return math.nan
    return max(values)


def barrier_values(alphas: Sequence[float], values: Sequence[float]) -> BarrierValues:
    """Midpoint, chord (max_α f(α) − ((1−α)f(0) + αf(1))) and endpoint-mean barriers of a curve."""
    al = validate_alphas(alphas)
    if len(values) != len(al):
        raise ValueError(f"{len(values)} values for {len(al)} alphas")
    if 0.5 not in al:
        raise ValueError("the midpoint barrier needs alpha = 0.5 in the grid")
    v0, v1 = float(values[0]), float(values[-1])
    mean = 0.5 * (v0 + v1)
    mid = float(values[al.index(0.5)]) - mean
    chord = _max([float(v) - ((1 - a) * v0 + a * v1) for a, v in zip(al, values, strict=True)])
    endpoint = _max([float(v) - mean for v in values])
    return BarrierValues(midpoint=mid, chord=chord, endpoint_mean=endpoint)


def curve_fields(
    alphas: Sequence[float],
    loss: Sequence[float],
    error: Sequence[float] | None = None,
    prefix: str = "",
) -> dict[str, Any]:
    """Record fields of one curve: ``loss``, ``loss_barrier`` = :func:`barrier_values` of it,
    and ``error``, ``error_barrier`` where it has an error rate; names after ``prefix``."""
    out: dict[str, Any] = {
        f"{prefix}loss": list(loss),
        f"{prefix}loss_barrier": barrier_values(alphas, loss),
    }
    if error is not None:
        out[f"{prefix}error"] = list(error)
        out[f"{prefix}error_barrier"] = barrier_values(alphas, error)
    return out


def barrier_curve(
    evaluator: Evaluator,
    theta_a: Mapping[str, Tensor],
    theta_b: Mapping[str, Tensor],
    alphas: Sequence[float] = DEFAULT_ALPHAS,
    reduce: Reduce | None = None,
) -> BarrierRecord:
    """Loss/error on θ_α = (1−α)θ_A + αθ_B over the grid (½ added if missing) + barriers."""
    al = with_midpoint(alphas)
    ends = Endpoints(dict(theta_a), dict(theta_b), al)  # the targets of bn_policy='repair'
    metrics = evaluator.evaluate(
        [lerp(theta_a, theta_b, a) for a in al], reduce=reduce, endpoints=ends
    )
    return BarrierRecord(
        alphas=al,
        **curve_fields(al, [m.loss for m in metrics], [m.error for m in metrics]),
        bn_policy=evaluator.bn_policy.value,
        n_examples=evaluator.n,
        eval_path=evaluator.last_path,
    )


def _entries(
    groups: Sequence[LayerGroup], single: bool, cumulative: bool
) -> list[tuple[str, str, list[LayerGroup]]]:
    out: list[tuple[str, str, list[LayerGroup]]] = []
    if single:
        out += [(g.name, "layer", [g]) for g in groups]
    if cumulative:
        n = len(groups)
        for k in range(1, n + 1):
            sel = list(groups[:k])
            out.append((f"{sel[0].name}..{sel[-1].name}", "cumulative_shallow_to_deep", sel))
        for k in range(1, n + 1):
            sel = list(groups[n - k :])
            out.append((f"{sel[-1].name}..{sel[0].name}", "cumulative_deep_to_shallow", sel))
    return out


def layerwise_barriers(
    evaluator: Evaluator,
    theta_a: Mapping[str, Tensor],
    theta_b: Mapping[str, Tensor],
    *,
    groups: Sequence[LayerGroup] | None = None,
    alphas: Sequence[float] = MIDPOINT_ALPHAS,
    directions: Sequence[str] = DIRECTIONS,
    single: bool = True,
    cumulative: bool = False,
    reduce: Reduce | None = None,
) -> LayerwiseRecord:
    """Layer-wise barriers (Adilova et al. 2024): interpolate only group(s) ℓ, rest of θ_A or θ_B.

    One pass over the data for all groups, directions and α; with an ``nn.Sequential`` model the
    stages before ℓ's top-level stage are computed once per chunk from θ_A (or θ_B).
    Each path's endpoints are its own α = 0 and α = 1 sets (into A: θ_A and θ_A with ℓ from θ_B),
    so under ``bn_policy='repair'`` a point at α gets the targets (1−α)·stat(θ_A) +
    α·stat(θ_A with ℓ from θ_B); REPAIR changes every stage, so it takes no prefix reuse.
    """
    al = with_midpoint(alphas)
    for d in directions:
        if d not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {d!r}")
    if groups is None:
        groups = [g for g in layer_groups(evaluator.source) if g.param_names]
    entries = _entries(groups, single, cumulative)
    set_groups: list[ParamSetGroup] = []
    layout: list[tuple[str, str, list[LayerGroup], str, list[int]]] = []
    for name, kind, sel in entries:
        names = [g.name for g in sel]
        tensor_names = [t for g in sel for t in g.names]
        start = min(evaluator.stage_of(t) for t in tensor_names) if tensor_names else 0
        if evaluator.bn_policy is BNPolicy.REPAIR:
            start = 0  # every stage's statistics change: nothing before ℓ is shared
        for d in directions:
            rest = "a" if d == "into_a" else "b"
            # the path endpoint that equals θ_A (into A, α=0) or θ_B (into B, α=1) is a base
            skip = 0 if d == "into_a" else len(al) - 1
            idx = [i for i in range(len(al)) if i != skip]
            sets = [lerp_groups(theta_a, theta_b, al[i], names, groups, rest=rest) for i in idx]
            ends = Endpoints(
                lerp_groups(theta_a, theta_b, 0.0, names, groups, rest=rest),
                lerp_groups(theta_a, theta_b, 1.0, names, groups, rest=rest),
                [al[i] for i in idx],
            )
            base = 0 if d == "into_a" else 1
            set_groups.append(
                ParamSetGroup(sets, start=start, base=base if start > 0 else None, endpoints=ends)
            )
            layout.append((name, kind, sel, d, idx))
    group_metrics, (ma, mb) = evaluator.run(
        set_groups, bases=[dict(theta_a), dict(theta_b)], reduce=reduce
    )
    out: list[LayerBarrier] = []
    orig_loss = 0.5 * (ma.loss + mb.loss)
    orig_err = 0.5 * (ma.error + mb.error)
    mid = al.index(0.5)
    for (name, kind, sel, d, idx), metrics in zip(layout, group_metrics, strict=True):
        full: list[Metrics] = [ma if d == "into_a" else mb] * len(al)
        for i, m in zip(idx, metrics, strict=True):
            full[i] = m
        loss = [m.loss for m in full]
        error = [m.error for m in full]
        out.append(
            LayerBarrier(
                name=name,
                groups=[g.name for g in sel],
                direction=d,
                kind=kind,
                alphas=al,
                loss=loss,
                error=error,
                loss_mid_own=loss[mid] - 0.5 * (loss[0] + loss[-1]),
                loss_mid_orig=loss[mid] - orig_loss,
                error_mid_own=error[mid] - 0.5 * (error[0] + error[-1]),
                error_mid_orig=error[mid] - orig_err,
                loss_barrier=barrier_values(al, loss),
                error_barrier=barrier_values(al, error),
            )
        )
    return LayerwiseRecord(
        loss_a=ma.loss,
        loss_b=mb.loss,
        error_a=ma.error,
        error_b=mb.error,
        entries=out,
        bn_policy=evaluator.bn_policy.value,
        n_examples=evaluator.n,
        eval_path=evaluator.last_path,
    )
