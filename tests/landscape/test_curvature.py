import pytest
import torch
from torch import nn

from ridgeline.landscape import (
    Evaluator,
    barrier_curve,
    delta,
    lerp,
    model_directional_derivatives,
    model_top_eigenvalue,
    param_names,
    predicted_barrier_curve,
    state_of,
    taylor_prediction,
)
from ridgeline.landscape.derivatives import (
    directional_derivatives,
    directional_second_derivative,
    top_eigenvalue,
)

from .conftest import live, untouched


def toy_loss(p):
    return (p["w1"] * p["w2"] - 1.0) ** 2


@pytest.mark.parametrize("a", [0.5, 1.0, 3.0])
def test_toy_ridge(a):
    ta = {
        "w1": torch.tensor(a, dtype=torch.float64),
        "w2": torch.tensor(1 / a, dtype=torch.float64),
    }
    tb = {k: -v for k, v in ta.items()}
    mid = lerp(ta, tb, 0.5)
    b_mid = toy_loss(mid) - 0.5 * (toy_loss(ta) + toy_loss(tb))
    assert b_mid.item() == pytest.approx(1.0, abs=1e-12)
    d2 = directional_second_derivative(toy_loss, mid, delta(ta, tb))
    assert d2.item() == pytest.approx(-16.0, abs=1e-12)
    assert (-d2 / 8).item() == pytest.approx(2.0)


def test_quadratic_prediction_exact_generic():
    g = torch.Generator().manual_seed(0)
    m = torch.randn(6, 6, generator=g, dtype=torch.float64)
    A = m + m.T  # indefinite
    bvec = torch.randn(6, generator=g, dtype=torch.float64)

    def loss(p):
        w = p["w"]
        return 0.5 * w @ A @ w + bvec @ w + 0.3

    ta = {"w": torch.randn(6, generator=g, dtype=torch.float64)}
    tb = {"w": torch.randn(6, generator=g, dtype=torch.float64)}
    d = delta(ta, tb)
    for alpha in (0.25, 0.5, 0.8):
        pt = lerp(ta, tb, alpha)
        barrier = loss(pt) - ((1 - alpha) * loss(ta) + alpha * loss(tb))
        l, d1, d2 = directional_derivatives(loss, pt, d)
        assert d2.item() == pytest.approx((d["w"] @ A @ d["w"]).item(), rel=1e-12)
        assert d1.item() == pytest.approx(((A @ pt["w"] + bvec) @ d["w"]).item(), rel=1e-10)
        assert l.item() == pytest.approx(loss(pt).item())
        assert barrier.item() == pytest.approx(-0.5 * alpha * (1 - alpha) * d2.item(), rel=1e-10)
    eig = top_eigenvalue(loss, ta, iters=500, tol=1e-10)
    ev = torch.linalg.eigvalsh(A)
    assert abs(eig.eigenvalue) == pytest.approx(ev.abs().max().item(), rel=1e-4)


def _regression(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(57, 5, generator=g, dtype=torch.float64)
    y = x @ torch.randn(5, generator=g, dtype=torch.float64) + 0.1
    return x, y


def test_linear_regression_mse_prediction_exact_and_nonpositive():
    x, y = _regression()
    torch.manual_seed(1)
    a, b = nn.Linear(5, 1).double(), nn.Linear(5, 1).double()
    mse = lambda out, t: (out.squeeze(-1) - t) ** 2  # noqa: E731
    ev = Evaluator(nn.Sequential(a), x, y, chunk_size=10, per_example_loss=mse)
    ta = {f"0.{k}": v for k, v in state_of(a).items()}
    tb = {f"0.{k}": v for k, v in state_of(b).items()}
    rec = barrier_curve(ev, ta, tb, alphas=[0, 0.25, 0.5, 1])
    tay = taylor_prediction(ev, ta, tb)
    assert rec.loss_barrier.midpoint <= 0
    assert tay.predicted_barrier == pytest.approx(rec.loss_barrier.midpoint, rel=1e-9)
    assert tay.endpoint_expansion == pytest.approx(rec.loss_barrier.midpoint, rel=1e-9)
    pred = predicted_barrier_curve(ev, ta, tb, rec.alphas)
    chord = [
        l - ((1 - al) * rec.loss[0] + al * rec.loss[-1])
        for al, l in zip(rec.alphas, rec.loss, strict=True)
    ]
    assert pred == pytest.approx(chord, abs=1e-9)
    # Hessian of mean squared error is 2/n [x 1]ᵀ[x 1]
    xa = torch.cat([x, torch.ones(len(x), 1, dtype=torch.float64)], 1)
    top = torch.linalg.eigvalsh(2 * xa.T @ xa / len(x)).max().item()
    eig = model_top_eigenvalue(ev, ta, iters=300, tol=1e-10)
    assert eig.eigenvalue == pytest.approx(top, rel=1e-5)


def test_dHd_matches_finite_differences_on_network(data):
    x, y = data
    torch.manual_seed(0)

    def net():
        m = nn.Sequential(
            nn.Flatten(), nn.Linear(12, 10), nn.BatchNorm1d(10), nn.Tanh(), nn.Linear(10, 4)
        ).double()
        m.train()
        with torch.no_grad():
            m(torch.randn(40, 12, dtype=torch.float64))
        return m.eval()

    a, b = net(), net()
    live(a)
    ta, tb = state_of(a), state_of(b)
    ev = Evaluator(a, x.double(), y, chunk_size=25)
    mid = lerp(ta, tb, 0.5)
    d = delta(ta, tb, param_names(a))
    with untouched(a):
        l, g1, d2 = model_directional_derivatives(ev, mid, d)
    h = 1e-3

    def L(t):
        p = {k: mid[k] + t * d[k] if k in d else mid[k] for k in mid}
        return ev.evaluate([p])[0].loss

    fd2 = (L(h) - 2 * L(0.0) + L(-h)) / h**2
    fd1 = (L(h) - L(-h)) / (2 * h)
    assert l == pytest.approx(L(0.0), rel=1e-10)
    assert d2 == pytest.approx(fd2, rel=1e-4, abs=1e-6)
    assert g1 == pytest.approx(fd1, rel=1e-5, abs=1e-8)


def test_taylor_record_layers_and_untouched(pair, data):
    x, y = data
    a, b = pair
    live(a)
    ta, tb = state_of(a), state_of(b)
    ev = Evaluator(a, x, y, chunk_size=40)
    with untouched(a):
        rec = taylor_prediction(ev, ta, tb)
        model_top_eigenvalue(ev, ta, iters=5)
    assert [lc.name for lc in rec.layers] == ["1", "2", "4", "6"]
    total = sum(lc.dHd_full_mid for lc in rec.layers)
    assert rec.cross_layer_remainder == pytest.approx(rec.dHd_mid - total, abs=1e-6)
    assert rec.predicted_barrier == pytest.approx(-rec.dHd_mid / 8)
    assert rec.curvature_mid == pytest.approx(rec.dHd_mid / rec.delta_norm**2)
    for lc in rec.layers:
        assert lc.predicted_barrier == pytest.approx(-lc.dHd_single_mid / 8)
    assert rec.to_dict()["layers"][0]["name"] == "1"


class _Residual(nn.Module):
    """Not an nn.Sequential: no prefix reuse, every tangent starts at the input."""

    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(12, 16)
        self.block = nn.Linear(16, 16)
        self.out = nn.Linear(16, 4)

    def forward(self, x):
        h = torch.relu(self.inp(x))
        return self.out(h + torch.tanh(self.block(h)))


def _reference_taylor(ev, ta, tb, groups):
    """The plain per-term implementation: one nested jvp per (point, direction)."""
    from ridgeline.landscape import layer_groups, lerp_groups

    d = {k: tb[k] - ta[k] for k in param_names(ev.template)}
    mid = lerp(ta, tb, 0.5)
    out = {"mid": model_directional_derivatives(ev, mid, d)}
    out["a"] = model_directional_derivatives(ev, ta, d)
    out["b"] = model_directional_derivatives(ev, tb, d)
    groups = [g for g in layer_groups(ev.template) if g.param_names]
    for g in groups:
        dl = {k: d[k] for k in g.param_names}
        single = lerp_groups(ta, tb, 0.5, [g.name], groups, rest="a")
        out[g.name] = (
            model_directional_derivatives(ev, single, dl)[2],
            model_directional_derivatives(ev, mid, dl)[2],
        )
    return out


@pytest.mark.parametrize("kind", ["sequential_bn_reset", "sequential", "residual"])
def test_batched_taylor_matches_per_term_reference(kind, pair, data):
    x, y = data
    x = x.double()
    if kind == "residual":
        torch.manual_seed(3)
        a, b = _Residual().double(), _Residual().double()
    elif kind == "sequential":
        torch.manual_seed(4)
        from .conftest import mlp

        a, b = mlp(bn=False).double(), mlp(bn=False).double()
    else:
        a, b = (m.double() for m in pair)
    kw = {}
    if kind == "sequential_bn_reset":
        kw = {"bn_policy": "reset", "bn_batches": [x[:40], x[40:80]]}
    ev = Evaluator(a, x, y, chunk_size=40, **kw)
    ta, tb = state_of(a), state_of(b)
    ref = _reference_taylor(ev, ta, tb, None)
    rec = taylor_prediction(ev, ta, tb)
    approx = lambda v: pytest.approx(v, rel=1e-9, abs=1e-12)  # noqa: E731
    assert (rec.loss_mid, rec.grad_dot_delta_mid, rec.dHd_mid) == approx(ref["mid"])
    assert (rec.grad_dot_delta_a, rec.dHd_a) == approx(ref["a"][1:])
    assert (rec.grad_dot_delta_b, rec.dHd_b) == approx(ref["b"][1:])
    for lc in rec.layers:
        assert (lc.dHd_single_mid, lc.dHd_full_mid) == approx(ref[lc.name])
    if kind == "sequential":
        assert ev.stage_names is not None and len(rec.layers) == 3


@pytest.mark.parametrize("kind", ["sequential_bn_reset", "residual"])
def test_taylor_at_the_spawn_point_and_with_one_moved_layer(kind, pair, data):
    # Δ = 0 (children at their spawn point) and Δ in one layer only: the tangents that are
    # exactly zero skip the nested jvp; every term must still equal the per-term reference
    x, y = data
    x = x.double()
    if kind == "residual":
        torch.manual_seed(3)
        a = _Residual().double()
        moved = "block.weight"
    else:
        a = pair[0].double()
        moved = "4.weight"
    kw = {"bn_policy": "reset", "bn_batches": [x[:40], x[40:80]]} if "bn" in kind else {}
    ev = Evaluator(a, x, y, chunk_size=40, **kw)
    ta = state_of(a)
    rec = taylor_prediction(ev, ta, dict(ta))
    assert (rec.grad_dot_delta_mid, rec.dHd_mid, rec.predicted_barrier) == (0.0, 0.0, 0.0)
    assert (rec.dHd_a, rec.dHd_b, rec.cross_layer_remainder) == (0.0, 0.0, 0.0)
    assert all(lc.dHd_single_mid == lc.dHd_full_mid == 0.0 for lc in rec.layers)
    assert rec.loss_mid == pytest.approx(ev.evaluate([ta])[0].loss, rel=1e-12)
    g = torch.Generator().manual_seed(9)
    tb = {
        k: v + 0.1 * torch.randn(v.shape, generator=g, dtype=v.dtype) if k == moved else v
        for k, v in ta.items()
    }
    ref = _reference_taylor(ev, ta, tb, None)
    rec = taylor_prediction(ev, ta, tb)
    approx = lambda v: pytest.approx(v, rel=1e-9, abs=1e-12)  # noqa: E731
    assert (rec.loss_mid, rec.grad_dot_delta_mid, rec.dHd_mid) == approx(ref["mid"])
    assert rec.dHd_mid != 0.0
    for lc in rec.layers:
        assert (lc.dHd_single_mid, lc.dHd_full_mid) == approx(ref[lc.name])
        assert (lc.dHd_full_mid == 0.0) == (lc.delta_norm == 0.0)


def test_power_iteration_converged_means_the_residual_bounds_the_error():
    # Known spectrum with the two largest eigenvalues close (10 and 9.8): the Rayleigh quotient
    # changes by less than tol per iteration long before it is within tol of 10 (the old rule
    # stopped at iteration 17 reporting converged at relative error 2.8e-3 with tol 1e-4).
    from ridgeline.landscape.derivatives import power_iteration

    g = torch.Generator().manual_seed(0)
    n, tol = 40, 1e-4
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    spectrum = torch.cat(
        [
            torch.tensor([10.0, 9.8], dtype=torch.float64),
            5 * torch.rand(n - 2, generator=g, dtype=torch.float64),
        ]
    )
    h = q @ torch.diag(spectrum) @ q.T
    like = {"w": torch.zeros(n, dtype=torch.float64)}
    rec = power_iteration(lambda v: {"w": h @ v["w"]}, like, iters=5000, tol=tol, seed=0)
    assert rec.converged
    assert rec.residual <= tol
    assert abs(rec.eigenvalue - 10.0) / 10.0 <= tol
    assert rec.iterations > 17  # the old stopping rule's iteration: the residual needs more
    short = power_iteration(lambda v: {"w": h @ v["w"]}, like, iters=17, tol=tol, seed=0)
    assert not short.converged and short.residual > tol
