"""One rule for REPAIR and the Taylor terms: the ridge (α*, height, ΔᵀH(θ_α*)Δ) under
``probe.bn_policy=repair`` is the uncorrected straight path's, like the curvature probe's."""

import copy

import pytest
import torch
from torch import nn

from ridgeline.landscape import Evaluator, barrier_curve, layer_groups, state_of
from ridgeline.landscape.curvature import model_directional_derivatives
from ridgeline.landscape.normalization import Endpoints
from ridgeline.landscape.params import lerp
from ridgeline.landscape.ridge import ridge_on_path
from ridgeline.probes import BarrierProbe
from ridgeline.probes.component import ProbeContext

ALPHAS = [0.0, 0.25, 0.5, 0.75, 1.0]


def pair() -> tuple[nn.Sequential, nn.Sequential]:
    """A confident MLP and the same MLP with its hidden units permuted: a ridge between them."""
    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(6, 24), nn.ReLU(), nn.Linear(24, 4)).double()
    with torch.no_grad():
        for p in a.parameters():
            p.mul_(3.0)
    b = copy.deepcopy(a)
    perm = torch.randperm(24, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        b[0].weight.copy_(a[0].weight[perm])
        b[0].bias.copy_(a[0].bias[perm])
        b[2].weight.copy_(a[2].weight[:, perm])
    return a, b


@pytest.fixture(scope="module")
def setup():
    a, b = pair()
    x = torch.randn(150, 6, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    with torch.no_grad():
        y = a(x).argmax(1)
    bn = [(x[i : i + 50], y[i : i + 50]) for i in range(0, 150, 50)]
    repaired = Evaluator(a, x, y, chunk_size=64, bn_policy="repair", bn_batches=bn, use_vmap=False)
    plain = Evaluator(a, x, y, chunk_size=64, bn_policy="interpolate", use_vmap=False)
    return a, state_of(a), state_of(b), repaired, plain


def test_the_probe_records_the_uncorrected_ridge_next_to_the_repaired_curve(setup):
    model, ta, tb, repaired, plain = setup
    ctx = ProbeContext(
        model, [ta, tb], None, {"test": repaired}, layer_groups(model), ALPHAS, [0.0, 1.0], None
    )
    rec = BarrierProbe().compute(ctx, 0, 1)["test"]
    assert rec["bn_policy"] == "repair"  # the curve is REPAIR's
    assert rec["loss"] == barrier_curve(repaired, ta, tb, ALPHAS).loss
    ridge = rec["ridge"]
    assert ridge["bn_policy"] == "interpolate"
    uncorrected = barrier_curve(plain, ta, tb, ALPHAS)
    expected = ridge_on_path(plain, ta, tb, ALPHAS, uncorrected.loss).to_dict()
    assert ridge == expected
    # its height is the uncorrected curve's, and ΔᵀHΔ is taken at the uncorrected θ_α*
    a_star = ridge["alpha"]
    assert 0 < a_star < 1 and ridge["is_ridge"]
    i = ALPHAS.index(a_star)
    chord = (1 - a_star) * uncorrected.loss[0] + a_star * uncorrected.loss[-1]
    assert ridge["height"] == pytest.approx(uncorrected.loss[i] - chord, abs=1e-12)
    delta = {k: tb[k] - ta[k] for k in ta}
    _, g, h = model_directional_derivatives(plain, lerp(ta, tb, a_star), delta)
    assert (ridge["grad_dot_delta"], ridge["dHd"]) == (g, h)
    # the rule matters: at the REPAIR-corrected θ_α* the curvature is another number
    ends = Endpoints(ta, tb, [a_star])
    corrected = repaired.prepare([lerp(ta, tb, a_star)], endpoints=ends)[0]
    _, _, h_corr = model_directional_derivatives(repaired, corrected, delta, prepared=True)
    assert abs(h_corr - h) > 1e-3 * abs(h)


def test_the_core_refuses_a_repair_evaluator(setup):
    _, ta, tb, repaired, _ = setup
    losses = barrier_curve(repaired, ta, tb, ALPHAS).loss
    with pytest.raises(ValueError, match="bn_policy='interpolate'"):
        ridge_on_path(repaired, ta, tb, ALPHAS, losses)
