"""The ridge on the path (issue 24 part 2): peak over the chord and the curvature along Δ there."""

import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ridgeline.landscape import (
    Evaluator,
    RidgeRecord,
    barrier_curve,
    lerp,
    ridge_of_curve,
    state_of,
)
from ridgeline.landscape.ridge import chord_excess, locate_peak, ridge_on_path

from .conftest import untouched

GRID = [0.0, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 1.0]


class ScalarToy(nn.Module):
    """Output w₁w₂ per example; with ℓ(z) = (z − 1)² the mean loss is (w₁w₂ − 1)² (§6)."""

    def __init__(self, w1: float, w2: float) -> None:
        super().__init__()
        self.w1 = nn.Parameter(torch.tensor(w1, dtype=torch.float64))
        self.w2 = nn.Parameter(torch.tensor(w2, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.w1 * self.w2).expand(x.shape[0])


class Quadratic(nn.Module):
    """Output ½wᵀAw + bᵀw + c per example: the mean loss is that quadratic exactly."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(a.shape[0], dtype=torch.float64))
        self.register_buffer("a", a)
        self.register_buffer("b", b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (0.5 * self.w @ self.a @ self.w + self.b @ self.w + 0.3).expand(x.shape[0])


def toy_evaluator(model: nn.Module, per_example) -> Evaluator:
    x = torch.zeros(7, 1, dtype=torch.float64)
    y = torch.zeros(7, dtype=torch.float64)
    return Evaluator(model, x, y, chunk_size=3, per_example_loss=per_example)


def test_chord_excess_and_peak():
    assert chord_excess([0, 0.5, 1], [1.0, 3.0, 2.0]) == [0.0, 1.5, 0.0]
    assert locate_peak([0, 0.5, 1], [1.0, 3.0, 2.0]) == (1, 1.5)
    # a convex curve peaks (0 over the chord) at its first endpoint
    assert locate_peak([0, 0.5, 1], [1.0, 0.2, 2.0]) == (0, 0.0)
    assert locate_peak([0, 0.5, 1], [1.0, float("nan"), 2.0])[0] == -1


@pytest.mark.parametrize("a", [0.5, 1.0, 3.0])
def test_scalar_toy_ridge_at_half(a):
    """θ_A = (a, 1/a), θ_B = −θ_A: L(α) = ((1−2α)² − 1)², peak 1 at α = ½, ΔᵀH(0)Δ = −16."""
    ta = {
        "w1": torch.tensor(a, dtype=torch.float64),
        "w2": torch.tensor(1 / a, dtype=torch.float64),
    }
    tb = {k: -v for k, v in ta.items()}
    losses = [((1 - 2 * t) ** 2 - 1) ** 2 for t in GRID]
    model = ScalarToy(a, 1 / a)
    ev = toy_evaluator(model, lambda z, y: (z - 1.0) ** 2)
    with untouched(model):
        by_model = ridge_on_path(ev, ta, tb, GRID, losses)
    by_fn = ridge_on_path(lambda p: (p["w1"] * p["w2"] - 1.0) ** 2, ta, tb, GRID, losses)
    for r in (by_model, by_fn):
        assert r.alpha == 0.5 and r.height == pytest.approx(1.0, abs=1e-12)
        assert r.dHd == pytest.approx(-16.0, abs=1e-10)
        assert r.delta_norm**2 == pytest.approx(4 * a**2 + 4 / a**2, rel=1e-12)
        assert r.curvature == pytest.approx(-16.0 / (4 * a**2 + 4 / a**2), rel=1e-10)
        assert r.predicted_height == pytest.approx(2.0, abs=1e-10)
        assert r.grad_dot_delta == pytest.approx(0.0, abs=1e-12)
        assert r.is_ridge and r.interior
    assert by_model.n_examples == 7


def test_quadratic_curvature_exact_ridge_and_valley():
    g = torch.Generator().manual_seed(0)
    m = torch.randn(5, 5, generator=g, dtype=torch.float64)
    A = m + m.T  # indefinite
    bvec = torch.randn(5, generator=g, dtype=torch.float64)
    evals, vecs = torch.linalg.eigh(A)
    ev = toy_evaluator(Quadratic(A, bvec), lambda z, y: z)

    def loss(w):
        return float(0.5 * w @ A @ w + bvec @ w + 0.3)

    base = torch.randn(5, generator=g, dtype=torch.float64)
    for k, ridge in ((0, True), (4, False)):  # most negative / most positive eigendirection
        ta = {"w": base, "a": A, "b": bvec}
        tb = {"w": base + 1.7 * vecs[:, k], "a": A, "b": bvec}
        losses = [loss(lerp(ta, tb, t)["w"]) for t in GRID]
        r = ridge_on_path(ev, ta, tb, GRID, losses)
        q = float(evals[k]) * 1.7**2  # ΔᵀAΔ
        assert r.dHd == pytest.approx(q, rel=1e-10)
        assert r.curvature == pytest.approx(float(evals[k]), rel=1e-10)
        assert r.is_ridge is ridge
        if ridge:  # L − chord = −½α(1−α)q: the peak at ½ of height −q/8, predicted exactly
            assert r.alpha == 0.5 and r.height == pytest.approx(-q / 8, rel=1e-10)
            assert r.predicted_height == pytest.approx(r.height, rel=1e-10)
        else:  # convex along Δ: no bump over the chord, the first endpoint
            assert r.alpha == 0.0 and r.height == 0.0 and not r.interior


def test_network_ridge_matches_finite_difference(data):
    """Two smooth MLPs (tanh, float64) fitted from different inits: a ridge between them.

    The curvature at α* equals a central second difference of the evaluated L(α).
    """
    x, y = data
    x = x.double()

    def trained(seed):
        torch.manual_seed(seed)
        m = nn.Sequential(nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 4)).double()
        opt = torch.optim.Adam(m.parameters(), lr=0.05)
        for _ in range(150):
            opt.zero_grad()
            F.cross_entropy(m(x), y).backward()
            opt.step()
        return m

    a, b = trained(0), trained(1)
    ta, tb = state_of(a), state_of(b)
    ev = Evaluator(a, x, y, chunk_size=40)
    curve = barrier_curve(ev, ta, tb, alphas=GRID)
    r = ridge_of_curve(ev, ta, tb, curve)
    i, h = locate_peak(curve.alphas, curve.loss)
    assert r.alpha == curve.alphas[i] and r.height == pytest.approx(h)
    assert r.height == pytest.approx(curve.loss_barrier.chord, abs=1e-12)
    eps = 1e-3
    lm, l0, lp = (
        m.loss for m in ev.evaluate([lerp(ta, tb, r.alpha + s) for s in (-eps, 0.0, eps)])
    )
    fd = (lp - 2 * l0 + lm) / eps**2
    assert r.dHd == pytest.approx(fd, rel=1e-4, abs=1e-6)
    # independent minima of a fitted net: a bump over the chord with negative curvature
    assert r.interior and r.height > 1.0 and r.is_ridge and r.curvature < 0
    back = RidgeRecord.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back == r


def test_nan_curve_gives_nan_ridge():
    ta = {
        "w1": torch.tensor(1.0, dtype=torch.float64),
        "w2": torch.tensor(1.0, dtype=torch.float64),
    }
    tb = {k: -v for k, v in ta.items()}
    r = ridge_on_path(lambda p: p["w1"] * 0, ta, tb, [0, 0.5, 1], [0.0, math.nan, 0.0])
    assert math.isnan(r.alpha) and math.isnan(r.dHd) and not r.is_ridge
    back = RidgeRecord.from_dict(json.loads(json.dumps(r.to_dict())))
    assert math.isnan(back.height)
