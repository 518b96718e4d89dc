"""Gauss-Newton split ΔᵀHΔ = ΔᵀGΔ + ΔᵀRΔ (issue 24 part 3) against independent computations."""

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.functional import hessian, jacobian
from torch.func import functional_call

from ridgeline.landscape import (
    Evaluator,
    GaussNewtonRecord,
    gauss_newton_split,
    layer_groups,
    lerp,
    lerp_groups,
    state_of,
    taylor_prediction,
)

from .conftest import mlp, untouched, warm_bn


def _data(n=9, d=3, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, d, generator=g, dtype=torch.float64),
        torch.randint(0, c, (n,), generator=g),
    )


def _flat(ps, names):
    return torch.cat([ps[k].reshape(-1) for k in names])


def _unflat(vec, like, names):
    out, i = {}, 0
    for k in names:
        out[k] = vec[i : i + like[k].numel()].view_as(like[k])
        i += like[k].numel()
    return out


def explicit_split(model, theta, direction, x, y):
    """Independent ΔᵀHΔ and ΔᵀGΔ from the Hessian and Jacobian matrices (float64, tiny nets).

    H = ∇²L over the flat parameters; G = (1/n)Σᵢ Jᵢᵀ H_out,i Jᵢ with Jᵢ = ∂zᵢ/∂θ and H_out,i
    the Hessian of ℓ(·, yᵢ) in the logits (autograd, not the closed form under test).
    """
    names = [k for k in direction]
    fixed = {k: v for k, v in theta.items() if k not in direction}
    vec = _flat(theta, names)
    dvec = _flat(direction, names)

    def logits(v):
        return functional_call(model, {**fixed, **_unflat(v, theta, names)}, (x,))

    def loss(v):
        return F.cross_entropy(logits(v), y)

    h = hessian(loss, vec)
    jac = jacobian(logits, vec)  # [n, C, P]
    z = logits(vec).detach()
    g = torch.zeros(len(vec), len(vec), dtype=torch.float64)
    for i in range(len(y)):
        h_out = hessian(lambda zz, i=i: F.cross_entropy(zz[None], y[i : i + 1]), z[i])
        g += jac[i].T @ h_out @ jac[i]
    g /= len(y)
    return float(dvec @ h @ dvec), float(dvec @ g @ dvec), g


def test_linear_model_residual_zero():
    """Logits linear in the parameters: the second jvp is 0, so R = 0 and G = ΔᵀHΔ."""
    x, y = _data(n=11, d=5, c=4)
    torch.manual_seed(0)
    a, b = nn.Linear(5, 4).double(), nn.Linear(5, 4).double()
    ta, tb = state_of(a), state_of(b)
    ev = Evaluator(a, x, y, chunk_size=4)
    with untouched(a):
        rec = gauss_newton_split(ev, ta, tb)
    assert rec.whole.residual == 0.0
    assert rec.whole.gauss_newton > 0
    total, gn, _ = explicit_split(a, lerp(ta, tb, 0.5), {k: tb[k] - ta[k] for k in ta}, x, y)
    assert rec.whole.total == pytest.approx(total, rel=1e-10)
    assert rec.whole.gauss_newton == pytest.approx(gn, rel=1e-10)
    assert [s.name for s in rec.layers] == [""]  # the one Linear is the root module
    assert rec.layers[0].residual == 0.0


def _two_layer(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)).double()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_layer_net_against_hessian_and_jacobian(seed):
    x, y = _data(seed=seed)
    a, b = _two_layer(2 * seed), _two_layer(2 * seed + 1)
    ta, tb = state_of(a), state_of(b)
    ev = Evaluator(a, x, y, chunk_size=4)  # 9 examples: chunks 4, 4, 1
    rec = gauss_newton_split(ev, ta, tb)
    d = {k: tb[k] - ta[k] for k in ta}
    total, gn, g = explicit_split(a, lerp(ta, tb, 0.5), d, x, y)
    assert rec.whole.total == pytest.approx(total, rel=1e-9, abs=1e-12)
    assert rec.whole.gauss_newton == pytest.approx(gn, rel=1e-9, abs=1e-12)
    assert rec.whole.residual == pytest.approx(total - gn, rel=1e-8, abs=1e-10)
    assert abs(rec.whole.residual) > 1e-6  # a non-linear net has a residual
    assert torch.linalg.eigvalsh(g).min() > -1e-12  # G is positive semidefinite
    groups = layer_groups(a)
    assert [s.name for s in rec.layers] == ["0", "2"]
    for s, grp in zip(rec.layers, groups, strict=True):
        point = lerp_groups(ta, tb, 0.5, [grp.name], groups, rest="a")
        dl = {k: d[k] for k in grp.param_names}
        t_l, g_l, _ = explicit_split(a, point, dl, x, y)
        assert s.total == pytest.approx(t_l, rel=1e-9, abs=1e-12)
        assert s.gauss_newton == pytest.approx(g_l, rel=1e-9, abs=1e-12)
        assert s.gauss_newton >= 0
    # the last layer's logits are linear in its own weights: no residual in that block
    assert rec.layers[1].residual == pytest.approx(0.0, abs=1e-12)


def test_matches_taylor_prediction_and_chunking(pair, data):
    """BN MLP (eval mode): totals equal taylor_prediction's blocks; chunk size does not matter."""
    x, y = data
    a, b = pair
    ta, tb = state_of(a), state_of(b)
    big = gauss_newton_split(Evaluator(a, x, y, chunk_size=1000), ta, tb)
    small = gauss_newton_split(Evaluator(a, x, y, chunk_size=17), ta, tb)
    tay = taylor_prediction(Evaluator(a, x, y, chunk_size=50), ta, tb, endpoints=False)
    assert big.whole.total == pytest.approx(tay.dHd_mid, rel=1e-4, abs=1e-5)
    assert big.whole.loss == pytest.approx(tay.loss_mid, rel=1e-5)
    for s, lay in zip(big.layers, tay.layers, strict=True):
        assert s.name == lay.name
        assert s.total == pytest.approx(lay.dHd_single_mid, rel=1e-4, abs=1e-5)
    for s1, s2 in zip([big.whole, *big.layers], [small.whole, *small.layers], strict=True):
        assert s1.gauss_newton == pytest.approx(s2.gauss_newton, rel=1e-5, abs=1e-7)
        assert s1.residual == pytest.approx(s2.residual, rel=1e-5, abs=1e-7)
    back = GaussNewtonRecord.from_dict(json.loads(json.dumps(big.to_dict())))
    assert back == big


def test_gauss_newton_nonnegative_on_random_nets(data):
    x, y = data
    for seed in range(4):
        torch.manual_seed(seed)
        a, b = warm_bn(mlp(), seed), warm_bn(mlp(), seed + 10)
        rec = gauss_newton_split(Evaluator(a, x, y, chunk_size=40), state_of(a), state_of(b))
        for s in [rec.whole, *rec.layers]:
            assert s.gauss_newton >= 0.0, (seed, s)


def test_scalar_toy_ridge_is_pure_residual():
    """(w₁w₂ − 1)² with z = w₁w₂, ℓ = (z − 1)²: at θ_½ = 0, u = 0 so G = 0 and R = ΔᵀHΔ = −16."""

    class Toy(nn.Module):
        def __init__(self):
            super().__init__()
            self.w1 = nn.Parameter(torch.tensor(2.0, dtype=torch.float64))
            self.w2 = nn.Parameter(torch.tensor(0.5, dtype=torch.float64))

        def forward(self, x):
            return (self.w1 * self.w2).expand(x.shape[0])

    m = Toy()
    x, y = torch.zeros(5, 1, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)
    ev = Evaluator(m, x, y, chunk_size=2, per_example_loss=lambda z, t: (z - 1.0) ** 2)
    ta = state_of(m)
    tb = {k: -v for k, v in ta.items()}
    rec = gauss_newton_split(ev, ta, tb, layerwise=False)
    assert rec.loss_kind == "per_example"
    assert rec.whole.gauss_newton == pytest.approx(0.0, abs=1e-12)
    assert rec.whole.residual == pytest.approx(-16.0, abs=1e-10)
    assert rec.whole.loss == pytest.approx(1.0, abs=1e-12)
