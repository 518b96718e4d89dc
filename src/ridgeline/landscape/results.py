"""Typed, JSON-safe result records of the landscape core (one dataclass per result kind).

``to_dict()`` gives plain floats/ints/str/lists/dicts only; every non-finite float becomes ``None``
and its key path is listed in ``"non_finite"`` (with its kind in ``"non_finite_values"``), so
``from_dict`` restores nan/inf exactly (records written before the rename used ``"nonfinite"``).
Records of evaluations name the path the Evaluator took, ``eval_path`` = "vmap" or "loop"
(None in records written before it was recorded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ridgeline.landscape.record_codec import Record, RecordFieldError, key_path


@dataclass
class BarrierValues(Record):
    """Barrier variants of one curve (docs/design.md §2).

    midpoint: L(θ_½) − ½(L_A + L_B); chord: max_α L(θ_α) − ((1−α)L_A + αL_B);
    endpoint_mean: max_α L(θ_α) − ½(L_A + L_B).
    """

    midpoint: float
    chord: float
    endpoint_mean: float


@dataclass
class BarrierRecord(Record):
    """Loss and error along θ_α = (1−α)θ_A + αθ_B and their barrier variants."""

    PARALLEL: ClassVar = (("alphas", "loss", "error"),)

    alphas: list[float]
    loss: list[float]
    error: list[float]
    loss_barrier: BarrierValues
    error_barrier: BarrierValues
    bn_policy: str = "interpolate"
    n_examples: int = 0
    eval_path: str | None = None


@dataclass
class LayerBarrier(Record):
    """One single-layer (or cumulative) path: only ``groups`` interpolated, rest of θ_A or θ_B.

    ``*_mid_own`` = L(mid) − ½(L(path α=0) + L(path α=1)); ``*_mid_orig`` = L(mid) − ½(L_A + L_B).
    """

    PARALLEL: ClassVar = (("alphas", "loss", "error"),)

    name: str
    groups: list[str]
    direction: str  # "into_a" (rest from θ_A) or "into_b" (rest from θ_B)
    kind: str  # "layer", "cumulative_shallow_to_deep", "cumulative_deep_to_shallow"
    alphas: list[float]
    loss: list[float]
    error: list[float]
    loss_mid_own: float
    loss_mid_orig: float
    error_mid_own: float
    error_mid_orig: float
    loss_barrier: BarrierValues | None = None
    error_barrier: BarrierValues | None = None


@dataclass
class LayerwiseRecord(Record):
    """Layer-wise barriers (Adilova et al. 2024) of all groups, both directions."""

    loss_a: float
    loss_b: float
    error_a: float
    error_b: float
    entries: list[LayerBarrier] = field(default_factory=list)
    bn_policy: str = "interpolate"
    n_examples: int = 0
    eval_path: str | None = None


@dataclass
class LayerCurvature(Record):
    """Diagonal-block curvature of one layer group ℓ.

    dHd_single_mid = Δ_ℓᵀH_ℓℓ(θ^{ℓ,½})Δ_ℓ at the single-layer midpoint (θ_A with ℓ at ½);
    predicted_barrier = −⅛ dHd_single_mid; dHd_full_mid = Δ_ℓᵀH_ℓℓ(θ_½)Δ_ℓ.
    """

    name: str
    dHd_single_mid: float
    predicted_barrier: float
    dHd_full_mid: float
    delta_norm: float


@dataclass
class TaylorRecord(Record):
    """Second-order prediction B_mid ≈ −⅛ ΔᵀH(θ_½)Δ and its cross-checks (docs/design.md §4)."""

    loss_mid: float
    grad_dot_delta_mid: float
    dHd_mid: float
    predicted_barrier: float
    delta_norm: float
    curvature_mid: float  # ΔᵀH(θ_½)Δ / ‖Δ‖²
    endpoint_expansion: float | None = None  # ¼⟨∇L_A − ∇L_B, Δ⟩ + (1/16)Δᵀ(H_A + H_B)Δ
    grad_dot_delta_a: float | None = None
    grad_dot_delta_b: float | None = None
    dHd_a: float | None = None
    dHd_b: float | None = None
    layers: list[LayerCurvature] = field(default_factory=list)
    cross_layer_remainder: float | None = None  # ΔᵀHΔ(θ_½) − Σ_ℓ Δ_ℓᵀH_ℓℓ(θ_½)Δ_ℓ
    n_examples: int = 0
    eval_path: str | None = None


@dataclass
class EigenRecord(Record):
    """Largest-magnitude Hessian eigenvalue by power iteration on Hessian-vector products."""

    eigenvalue: float
    iterations: int
    converged: bool
    residual: float


@dataclass
class GeometryRecord(Record):
    """Spawn-point geometry: angle at θ_s between θ_A − θ_s and θ_B − θ_s, and distances."""

    angle_deg: float
    dist_ab: float
    dist_as: float
    dist_bs: float
    groups_dist_ab: dict[str, float] = field(default_factory=dict)
    groups_dist_as: dict[str, float] = field(default_factory=dict)
    groups_dist_bs: dict[str, float] = field(default_factory=dict)
    groups_angle_deg: dict[str, float] = field(default_factory=dict)


@dataclass
class ProfileRecord(Record):
    """Loss along a segment θ_start → θ_end and its largest bump above the running minimum.

    bump = max_α [L(α) − min_{α'≤α} L(α')]; monotone when bump ≤ tolerance.
    """

    PARALLEL: ClassVar = (("alphas", "loss", "error"),)

    alphas: list[float]
    loss: list[float]
    error: list[float]
    bump: float
    bump_alpha: float
    monotone: bool
    tolerance: float
    distance: float
    eval_path: str | None = None


@dataclass
class SliceRecord(Record):
    """2-D loss slice in the plane through p0, p1, p2 (orthonormal basis e1, e2 at p0).

    loss[i][j] is at p0 + u[j] e1 + v[i] e2; ``points`` are the (u, v) of p0, p1, p2 (named by
    ``labels``). ``path`` is the straight path p1 → p2 at ``path_alphas`` (a line in the plane);
    ``trajectories`` are named point sequences projected onto the plane (docs/design.md §5).
    ``point_loss``, ``point_error``: p0, p1, p2 evaluated through the plane's parametrisation
    p0 + c1 (p1 − p0) + c2 (p2 − p0). Fields after ``eval_path`` are absent from records
    written before issue 24 (defaults).
    """

    u: list[float]
    v: list[float]
    loss: list[list[float]]
    error: list[list[float]]
    points: list[list[float]]
    bn_policy: str = "interpolate"
    eval_path: str | None = None
    labels: list[str] = field(default_factory=lambda: ["p0", "p1", "p2"])
    resolution: int | None = None
    margin: float | None = None
    path_alphas: list[float] = field(default_factory=list)
    path: list[list[float]] = field(default_factory=list)
    trajectories: dict[str, PlaneTrajectory] = field(default_factory=dict)
    n_examples: int = 0
    point_loss: list[float] = field(default_factory=list)
    point_error: list[float] = field(default_factory=list)

    PARALLEL: ClassVar = (("points", "labels"),)

    def check_shape(self, path: str = "") -> None:
        """A grid of len(v) rows of len(u) values; (u, v) pairs for points and path; one path
        point per path α, one point value per point (or none, written before issue 24)."""
        super().check_shape(path)
        for name in ("loss", "error"):
            grid = getattr(self, name)
            if len(grid) != len(self.v):
                raise RecordFieldError(
                    key_path(path, name), f"has {len(grid)} rows for {len(self.v)} v"
                )
            for i, row in enumerate(grid):
                if len(row) != len(self.u):
                    what = f"has {len(row)} values for {len(self.u)} u"
                    raise RecordFieldError(key_path(path, f"{name}[{i}]"), what)
        for name in ("points", "path"):
            for i, point in enumerate(getattr(self, name)):
                if len(point) != 2:
                    raise RecordFieldError(key_path(path, f"{name}[{i}]"), "is not a (u, v) pair")
        if self.path and len(self.path) != len(self.path_alphas):
            what = f"has {len(self.path)} points for {len(self.path_alphas)} path_alphas"
            raise RecordFieldError(key_path(path, "path"), what)
        for name in ("point_loss", "point_error"):
            n = len(getattr(self, name))
            if n not in (0, len(self.points)):
                what = f"has {n} values for {len(self.points)} points"
                raise RecordFieldError(key_path(path, name), what)


@dataclass
class BentPathFitRecord(Record):
    """How a bend θ_bend was trained on E_{t~U[0,1]} L(φ(t)) (Garipov et al. 2018).

    ``initial_objective`` / ``final_objective``: mean training objective over the first / last
    ``window`` steps; ``bend_offset`` = ‖θ_bend − θ_½‖ and ``delta_norm`` = ‖θ_B − θ_A‖ over
    the trained tensors.
    """

    RECORD_NAME: ClassVar[str | None] = "CurveFitRecord"

    kind: str  # "bezier" or "polychain"
    steps: int
    optimizer: str
    lr: float
    schedule: str  # "constant" or "cosine"
    t_per_step: int
    n_batches: int
    seed: int
    init_noise: float
    window: int
    initial_objective: float
    final_objective: float
    bend_offset: float
    delta_norm: float
    seconds: float = 0.0


@dataclass
class BentPathRecord(Record):
    """Loss and error along a fitted bent path φ(t) and along the line θ_t, with both barriers.

    Barriers as in docs/design.md §2 over the t grid: chord = max_t f(φ(t)) − ((1−t)f_A + t f_B).
    ``error`` fields are None where the loss has no error rate (a toy loss function).
    """

    RECORD_NAME: ClassVar[str | None] = "CurveRecord"
    PARALLEL: ClassVar = (("ts", "loss", "line_loss", "error", "line_error"),)

    kind: str
    ts: list[float]
    loss: list[float]
    line_loss: list[float]
    loss_barrier: BarrierValues
    line_loss_barrier: BarrierValues
    fit: BentPathFitRecord
    error: list[float] | None = None
    line_error: list[float] | None = None
    error_barrier: BarrierValues | None = None
    line_error_barrier: BarrierValues | None = None
    bn_policy: str | None = None
    n_examples: int = 0
    eval_path: str | None = None


# --- issue 24 parts 1-3: loss plane, ridge on the path, Gauss-Newton split -------------------


@dataclass
class PlaneTrajectory(Record):
    """Points θ_i projected onto a plane p0 + u e1 + v e2: (u_i, v_i) = (⟨θ_i − p0, e1⟩, ⟨·, e2⟩).

    ``offplane[i]`` = ‖θ_i − p0 − u_i e1 − v_i e2‖, the distance of θ_i from the plane.
    """

    coords: list[list[float]]
    offplane: list[float]
    steps: list[int] | None = None

    PARALLEL: ClassVar = (("coords", "offplane", "steps"),)


@dataclass
class RidgeRecord(Record):
    """Where the loss along θ_α peaks over its chord, and the curvature along Δ there.

    alpha = argmax_α L(α) − ((1−α)L_A + αL_B) over the grid, height = that maximum;
    dHd = ΔᵀH(θ_α)Δ at α, curvature = dHd/‖Δ‖², predicted_height = −½α(1−α)dHd
    (docs/design.md §4); is_ridge = curvature < 0.
    """

    alpha: float
    height: float
    loss: float
    loss_a: float
    loss_b: float
    grad_dot_delta: float
    dHd: float
    curvature: float
    predicted_height: float
    delta_norm: float
    is_ridge: bool
    interior: bool  # 0 < alpha < 1
    bn_policy: str | None = None
    n_examples: int = 0


@dataclass
class CurvatureSplit(Record):
    """ΔᵀHΔ = ΔᵀGΔ + ΔᵀRΔ of the mean loss at one point (Gauss-Newton split, Schraudolph 2002).

    gauss_newton = mean_i (J_iΔ)ᵀ H_out,i (J_iΔ) ≥ 0, residual = mean_i ∇_zℓ_iᵀ (Δᵀ∇²z_i Δ),
    total = their sum; ``name`` is "whole" or a layer group's name.
    """

    name: str
    total: float
    gauss_newton: float
    residual: float
    loss: float
    delta_norm: float


@dataclass
class GaussNewtonRecord(Record):
    """Gauss-Newton split at θ_½ (whole Δ) and per layer at θ^{ℓ,½} (Δ_ℓ only, rest from θ_A)."""

    whole: CurvatureSplit
    layers: list[CurvatureSplit] = field(default_factory=list)
    loss_kind: str = "cross_entropy"  # or "per_example" (the evaluator's own loss)
    bn_policy: str | None = None
    n_examples: int = 0
