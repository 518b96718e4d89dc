"""Mountainside and ridge diagnostics: spawn angle, distances, segment profiles, 2-D slices.

Definitions: docs/design.md §5 (mountainside and ridge diagnostics).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from torch import Tensor

from ridgeline.landscape.barrier import validate_alphas
from ridgeline.landscape.evaluate import Evaluator
from ridgeline.landscape.groups import ParamSetGroup
from ridgeline.landscape.normalization import Endpoints
from ridgeline.landscape.params import (
    BNPolicy,
    LayerGroup,
    affine,
    angle_at,
    delta,
    distance,
    dot,
    group_distances,
    lerp,
    norm,
)
from ridgeline.landscape.results import GeometryRecord, PlaneTrajectory, ProfileRecord, SliceRecord
from ridgeline.landscape.sums import Reduce


def spawn_geometry(
    theta_s: Mapping[str, Tensor],
    theta_a: Mapping[str, Tensor],
    theta_b: Mapping[str, Tensor],
    names: Sequence[str] | None = None,
    groups: Sequence[LayerGroup] | None = None,
) -> GeometryRecord:
    """Angle at θ_s between θ_A − θ_s and θ_B − θ_s (degrees), ‖θ_A−θ_B‖, ‖θ_A−θ_s‖, ‖θ_B−θ_s‖.

    ``names`` restricts the full-vector quantities (pass the parameter names to leave out BN
    running statistics); ``groups`` adds the same quantities per layer group (parameters only).
    """
    keys = list(theta_s) if names is None else list(names)
    rec = GeometryRecord(
        angle_deg=angle_at(theta_s, theta_a, theta_b, keys),
        dist_ab=distance(theta_a, theta_b, keys),
        dist_as=distance(theta_s, theta_a, keys),
        dist_bs=distance(theta_s, theta_b, keys),
    )
    if groups is not None:
        rec.groups_dist_ab = group_distances(theta_a, theta_b, groups)
        rec.groups_dist_as = group_distances(theta_s, theta_a, groups)
        rec.groups_dist_bs = group_distances(theta_s, theta_b, groups)
        rec.groups_angle_deg = {
            g.name: angle_at(theta_s, theta_a, theta_b, g.param_names)
            for g in groups
            if g.param_names
        }
    return rec


def largest_bump(values: Sequence[float]) -> tuple[float, int]:
    """max_i [v_i − min_{j≤i} v_j] and its index (0 for a monotone non-increasing sequence)."""
    best, arg, run_min = 0.0, 0, math.inf
    for i, v in enumerate(values):
        if math.isnan(v):
            return math.nan, i
        run_min = min(run_min, v)
        if v - run_min > best:
            best, arg = v - run_min, i
    return best, arg


def segment_profile(
    evaluator: Evaluator,
    theta_start: Mapping[str, Tensor],
    theta_end: Mapping[str, Tensor],
    alphas: Sequence[float],
    tolerance: float = 0.0,
    names: Sequence[str] | None = None,
    reduce: Reduce | None = None,
) -> ProfileRecord:
    """Loss along (1−α)θ_start + αθ_end; bump = max_α L(α) − min_{α'≤α} L(α'); monotone if ≤ tol."""
    al = validate_alphas(alphas)
    ends = Endpoints(dict(theta_start), dict(theta_end), al)  # bn_policy='repair' targets
    metrics = evaluator.evaluate(
        [lerp(theta_start, theta_end, a) for a in al], reduce=reduce, endpoints=ends
    )
    loss = [m.loss for m in metrics]
    bump, i = largest_bump(loss)
    return ProfileRecord(
        alphas=al,
        loss=loss,
        error=[m.error for m in metrics],
        bump=bump,
        bump_alpha=al[i],
        monotone=bool(bump <= tolerance),
        tolerance=float(tolerance),
        distance=distance(theta_start, theta_end, names),
        eval_path=evaluator.last_path,
    )


def _plane_basis(
    p0: Mapping[str, Tensor], p1: Mapping[str, Tensor], p2: Mapping[str, Tensor], keys: list[str]
) -> tuple[float, float, float]:
    """(n1, x2, y2): p1 − p0 = n1 e1 and p2 − p0 = x2 e1 + y2 e2 (Gram-Schmidt, y2 > 0)."""
    d1, d2 = delta(p0, p1, keys), delta(p0, p2, keys)
    n1 = norm(d1)
    if n1 == 0.0:
        raise ValueError("plane_slice: p1 equals p0, the plane is undefined")
    x2 = dot(d2, d1) / n1  # coordinate of p2 along e1
    y2 = math.sqrt(max(0.0, dot(d2, d2) - x2**2))  # along e2
    if y2 <= 1e-12 * max(n1, 1.0):
        raise ValueError("plane_slice: the three points are collinear, the plane is undefined")
    return n1, x2, y2


def project_onto_plane(
    p0: Mapping[str, Tensor],
    p1: Mapping[str, Tensor],
    p2: Mapping[str, Tensor],
    points: Sequence[Mapping[str, Tensor]],
    names: Sequence[str] | None = None,
    steps: Sequence[int] | None = None,
) -> PlaneTrajectory:
    """(u, v) = (⟨θ − p0, e1⟩, ⟨θ − p0, e2⟩) and off-plane distance ‖θ − p0 − u e1 − v e2‖.

    (e1, e2) is the Gram-Schmidt basis of (p1 − p0, p2 − p0) over ``names`` (docs/design.md §5);
    sums in float64.
    """
    keys = list(p0) if names is None else list(names)
    n1, x2, y2 = _plane_basis(p0, p1, p2, keys)
    e1 = {k: (p1[k].double() - p0[k].double()) / n1 for k in keys}
    e2 = {k: ((p2[k].double() - p0[k].double()) - x2 * e1[k]) / y2 for k in keys}
    coords, off = [], []
    for th in points:
        w = {k: th[k].double() - p0[k].double() for k in keys}
        uu, vv = dot(w, e1), dot(w, e2)
        coords.append([uu, vv])
        off.append(norm({k: w[k] - uu * e1[k] - vv * e2[k] for k in keys}))
    return PlaneTrajectory(
        coords=coords, offplane=off, steps=None if steps is None else [int(t) for t in steps]
    )


def plane_slice(
    evaluator: Evaluator,
    p0: Mapping[str, Tensor],
    p1: Mapping[str, Tensor],
    p2: Mapping[str, Tensor],
    resolution: int = 11,
    margin: float = 0.25,
    u: Sequence[float] | None = None,
    v: Sequence[float] | None = None,
    names: Sequence[str] | None = None,
    reduce: Reduce | None = None,
    trajectories: Mapping[str, Sequence[Mapping[str, Tensor]]] | None = None,
    trajectory_steps: Mapping[str, Sequence[int]] | None = None,
    labels: Sequence[str] = ("spawn", "a", "b"),
    path_alphas: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
) -> SliceRecord:
    """Loss and error on the grid p0 + u e1 + v e2, (e1, e2) Gram-Schmidt of (p1 − p0, p2 − p0).

    The basis is built over ``names`` (default: all keys; pass parameter names to exclude BN
    buffers); every tensor, buffers included, is set to the same affine combination of p0, p1, p2
    (docs/design.md §5). Default grid: ``resolution`` points per axis spanning the three points
    plus ``margin`` of the extent on each side. The grid sets and the three points themselves,
    p0 + c1 (p1 − p0) + c2 (p2 − p0) at (c1, c2) = (0, 0), (1, 0), (0, 1) (``point_loss``,
    ``point_error``), go through one ``evaluator.run`` call (every data chunk loaded once for
    all of them). The record also holds the straight path p1 → p2 at ``path_alphas`` (plane
    coordinates only, nothing evaluated) and each of ``trajectories`` projected onto the plane
    (:func:`project_onto_plane`). Convention: p0 = θ_s, p1 = θ_A, p2 = θ_B; for
    children without a spawn point pass θ_A, θ_B as p1, p2 and a third point as p0.
    ``bn_policy='repair'`` is refused (ValueError): its targets interpolate the statistics of
    two endpoints, and a plane point is an affine combination of three points, not a point
    between two; evaluate the plane with an ``interpolate`` Evaluator instead (the geometry
    probe does, and its slice record says ``bn_policy: interpolate``).
    """
    if evaluator.bn_policy is BNPolicy.REPAIR:
        raise ValueError(
            "plane_slice: bn_policy='repair' needs two endpoints per set, and a plane point "
            "combines three; evaluate the plane with an Evaluator of bn_policy='interpolate'"
        )
    keys = list(p0) if names is None else list(names)
    n1, x2, y2 = _plane_basis(p0, p1, p2, keys)
    pts = [[0.0, 0.0], [n1, 0.0], [x2, y2]]
    default_grid = u is None or v is None
    if default_grid and resolution < 2:
        raise ValueError(f"plane_slice: resolution must be >= 2, got {resolution}")
    if u is None:
        lo, hi = min(0.0, x2), max(n1, x2)
        u = [
            lo - margin * (hi - lo) + i * (1 + 2 * margin) * (hi - lo) / (resolution - 1)
            for i in range(resolution)
        ]
    if v is None:
        lo, hi = 0.0, y2
        v = [
            lo - margin * (hi - lo) + i * (1 + 2 * margin) * (hi - lo) / (resolution - 1)
            for i in range(resolution)
        ]
    # (u, v) → coefficients (c1, c2) with p = p0 + c1 (p1 − p0) + c2 (p2 − p0):
    # u = c1 n1 + c2 x2, v = c2 y2.
    sets = []
    for vv in v:
        for uu in u:
            c2 = vv / y2
            c1 = (uu - c2 * x2) / n1
            sets.append(affine(p0, p1, p2, c1, c2))
    # p0, p1, p2 through the same parametrisation, (c1, c2) = (0, 0), (1, 0), (0, 1): the grid's
    # nodes miss them in general; a second group of the same pass over the data
    corners = [affine(p0, p1, p2, c1, c2) for c1, c2 in ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0))]
    (metrics, at_points), _ = evaluator.run(
        [ParamSetGroup(sets), ParamSetGroup(corners)], reduce=reduce
    )
    nu = len(u)
    loss = [[metrics[i * nu + j].loss for j in range(nu)] for i in range(len(v))]
    error = [[metrics[i * nu + j].error for j in range(nu)] for i in range(len(v))]
    al = [float(a) for a in path_alphas]
    # θ_α = (1−α)p1 + αp2 is linear in the plane coordinates: (1−α)(n1, 0) + α(x2, y2)
    path = [[(1 - a) * n1 + a * x2, a * y2] for a in al]
    steps = dict(trajectory_steps or {})
    projected = {
        name: project_onto_plane(p0, p1, p2, seq, keys, steps.get(name))
        for name, seq in (trajectories or {}).items()
    }
    return SliceRecord(
        u=[float(a) for a in u],
        v=[float(b) for b in v],
        loss=loss,
        error=error,
        points=pts,
        bn_policy=evaluator.bn_policy.value,
        eval_path=evaluator.last_path,
        labels=[str(x) for x in labels],
        resolution=int(resolution) if default_grid else None,
        margin=float(margin) if default_grid else None,
        path_alphas=al,
        path=path,
        trajectories=projected,
        n_examples=evaluator.n,
        point_loss=[m.loss for m in at_points],
        point_error=[m.error for m in at_points],
    )
