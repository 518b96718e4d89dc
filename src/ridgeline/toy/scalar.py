"""The scalar two-layer toy of docs/design.md §6: L(w₁, w₂) = (w₁w₂ − 1)².

The valleys are the two branches of the hyperbola w₁w₂ = 1; the axes w₁w₂ = 0 (loss 1, the
saddle at the origin) form the ridge between them. A parent trained by noisy gradient descent
from near the saddle is copied at spawn steps k into two children with independent gradient
noise. Children spawned on the ridge fall to opposite valleys and the straight line between
them crosses it (barrier ≈ 1, predicted −⅛ΔᵀH(θ_½)Δ ≈ 2, exactly 1 and 2 for
θ_A = (a, 1/a), θ_B = (−a, −1/a)); children spawned on a mountainside stay in one valley (no
barrier). Pure torch (float64) with private generators; seconds on CPU.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from ridgeline.landscape.barrier import DEFAULT_ALPHAS, barrier_values
from ridgeline.landscape.derivatives import directional_derivatives
from ridgeline.toy.spawn_plan import check_spawn_plan
from ridgeline.toy.threads import one_thread

DTYPE = torch.float64


def loss_fn(ps: dict[str, torch.Tensor]) -> torch.Tensor:
    """L(w₁, w₂) = (w₁w₂ − 1)² over the parameter set {'w1', 'w2'} (0-d tensors)."""
    return (ps["w1"] * ps["w2"] - 1.0) ** 2


def params(w1: float, w2: float) -> dict[str, torch.Tensor]:
    return {"w1": torch.tensor(float(w1), dtype=DTYPE), "w2": torch.tensor(float(w2), dtype=DTYPE)}


@dataclass
class PairResult:
    """Barrier and its second-order prediction between two points θ_A, θ_B of the toy."""

    theta_a: tuple[float, float]
    theta_b: tuple[float, float]
    alphas: list[float]
    loss: list[float]
    midpoint: float
    chord: float
    endpoint_mean: float
    dHd_mid: float
    predicted: float

    @property
    def same_valley(self) -> bool:
        return (self.theta_a[0] * self.theta_b[0] > 0) and (self.theta_a[1] * self.theta_b[1] > 0)


def pair_barrier(
    theta_a: tuple[float, float],
    theta_b: tuple[float, float],
    alphas: Sequence[float] = DEFAULT_ALPHAS,
) -> PairResult:
    """Loss along θ_α, the barrier variants (barrier_values) and −⅛ΔᵀH(θ_½)Δ (nested jvp)."""
    a, b = params(*theta_a), params(*theta_b)
    al = list(alphas)
    if 0.5 not in al:
        al = sorted([*al, 0.5])
    loss = [float(loss_fn({k: (1 - t) * a[k] + t * b[k] for k in a})) for t in al]
    bv = barrier_values(al, loss)
    d = {k: b[k] - a[k] for k in a}
    mid = {k: 0.5 * (a[k] + b[k]) for k in a}
    _, _, d2 = directional_derivatives(loss_fn, mid, d)
    (a1, a2), (b1, b2) = theta_a, theta_b
    return PairResult(
        theta_a=(a1, a2),
        theta_b=(b1, b2),
        alphas=al,
        loss=loss,
        midpoint=bv.midpoint,
        chord=bv.chord,
        endpoint_mean=bv.endpoint_mean,
        dHd_mid=float(d2),
        predicted=-float(d2) / 8.0,
    )


def analytic_pair(a: float = 1.0) -> PairResult:
    """The ground truth of docs/design.md §4.

    θ_A = (a, 1/a), θ_B = (−a, −1/a): B_mid = 1, ΔᵀH(0)Δ = −16, prediction 2.
    """
    return pair_barrier((a, 1.0 / a), (-a, -1.0 / a))


def grad(w: torch.Tensor) -> torch.Tensor:
    """∇L at w [..., 2] = (w₁, w₂): 2(w₁w₂ − 1)(w₂, w₁)."""
    r = 2.0 * (w[..., 0] * w[..., 1] - 1.0)
    return torch.stack([r * w[..., 1], r * w[..., 0]], dim=-1)


def noisy_gd(
    start: torch.Tensor, steps: int, lr: float, noise: float, generator: torch.Generator
) -> torch.Tensor:
    """Trajectories [steps + 1, N, 2] of w ← w − lr (∇L(w) + noise · ξ), ξ ~ N(0, I).

    ``start`` is [N, 2] (N independent runs, each with its own noise); the private generator
    makes the run reproducible and leaves the global RNG alone.
    """
    w = start.to(DTYPE).clone()
    out = [w.clone()]
    for _ in range(steps):
        xi = torch.randn(w.shape, generator=generator, dtype=DTYPE)
        w = w - lr * (grad(w) + noise * xi)
        out.append(w.clone())
    return torch.stack(out)


@dataclass
class SpawnResult:
    """The children spawned at step k: trajectories and the barrier of each pair (2i, 2i+1)."""

    spawn_step: int
    spawn_point: tuple[float, float]
    children: torch.Tensor  # [T − k + 1, 2 · n_pairs, 2], from the spawn point to T
    pairs: list[PairResult]
    spawn_loss: float = 0.0

    @property
    def shown(self) -> int:
        """Index of the pair drawn in the contour plot: the first opposite-valley pair if any."""
        return next((i for i, p in enumerate(self.pairs) if not p.same_valley), 0)

    @property
    def pair(self) -> PairResult:
        return self.pairs[self.shown]

    def mean(self, attr: str) -> float:
        return sum(getattr(p, attr) for p in self.pairs) / len(self.pairs)

    @property
    def split_fraction(self) -> float:
        """Fraction of pairs whose children ended in opposite valleys."""
        return sum(not p.same_valley for p in self.pairs) / len(self.pairs)


@dataclass(frozen=True)
class ToySettings:
    """The scalar toy's settings: a parent from ``init`` (near the saddle) trained by noisy GD
    (learning rate ``lr``, gradient noise ``noise``) to ``total_steps``, ``n_pairs`` child pairs
    spawned at each of ``spawn_steps``; ``seed`` seeds the private generators. A value that
    cannot work raises ValueError naming it."""

    init: Sequence[float] = (0.01, -0.005)
    spawn_steps: Sequence[int] = (0, 5, 10, 20, 40, 80)
    total_steps: int = 200
    lr: float = 0.05
    noise: float = 0.3
    n_pairs: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        check_spawn_plan(self.spawn_steps, self.total_steps, self.n_pairs)
        if not math.isfinite(self.noise) or self.noise < 0:
            raise ValueError(f"--noise={self.noise} is not valid: a finite number >= 0")
        if not math.isfinite(self.lr) or self.lr <= 0:
            raise ValueError(f"lr={self.lr} is not valid: a finite number > 0")


@dataclass
class ToyRun:
    parent: torch.Tensor  # [T + 1, 2]
    spawns: list[SpawnResult] = field(default_factory=list)
    settings: ToySettings = field(default_factory=ToySettings)


def run_toy(settings: ToySettings = ToySettings()) -> ToyRun:
    """Parent from ``init`` (near the saddle), ``n_pairs`` child pairs spawned at each k."""
    with one_thread():
        return _run_toy(settings)


def _run_toy(s: ToySettings) -> ToyRun:
    g = torch.Generator().manual_seed(s.seed)
    parent = noisy_gd(torch.tensor([list(s.init)]), s.total_steps, s.lr, s.noise, g)[:, 0]
    run = ToyRun(parent, settings=s)
    for i, k in enumerate(s.spawn_steps):
        start = parent[k]
        gc = torch.Generator().manual_seed(1_000_003 * (s.seed + 1) + i)
        children = noisy_gd(start.expand(2 * s.n_pairs, 2), s.total_steps - k, s.lr, s.noise, gc)
        final = children[-1]
        pairs = [
            pair_barrier(tuple(final[2 * j].tolist()), tuple(final[2 * j + 1].tolist()))
            for j in range(s.n_pairs)
        ]
        sp = tuple(start.tolist())
        run.spawns.append(SpawnResult(k, sp, children, pairs, float(loss_fn(params(*sp)))))
    return run


def format_table(run: ToyRun) -> str:
    """The printed table: one line per spawn step (means over pairs), plus the analytic check."""
    n = run.settings.n_pairs
    lines = [
        "L(w1,w2) = (w1*w2 - 1)^2: children trained by noisy GD from the parent at step k to "
        f"T = {run.settings.total_steps}; means over {n} child pairs",
        f"{'k':>4} {'spawn point':>17} {'L(spawn)':>8} {'opposite valleys':>16} "
        f"{'B_mid':>7} {'chord':>7} {'-1/8 dHd':>8}   drawn pair: B_mid, prediction",
    ]
    for s in run.spawns:
        p = s.pair
        lines.append(
            f"{s.spawn_step:>4} ({s.spawn_point[0]:+.3f},{s.spawn_point[1]:+.3f}) "
            f"{s.spawn_loss:>8.4f} {s.split_fraction:>16.0%} {s.mean('midpoint'):>7.4f} "
            f"{s.mean('chord'):>7.4f} {s.mean('predicted'):>8.4f}   "
            f"{p.midpoint:.4f}, {p.predicted:.4f}"
        )
    for a in (1.0, 2.0):
        ap = analytic_pair(a)
        lines.append(
            f"analytic θ_A=({a:g},{1 / a:g}), θ_B=(-{a:g},-{1 / a:g}): B_mid = {ap.midpoint:.6f} "
            f"(exact: 1), ΔᵀH(θ_½)Δ = {ap.dHd_mid:.6f} (−16), prediction = {ap.predicted:.6f} (2)"
        )
    return "\n".join(lines)
