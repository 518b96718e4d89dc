"""REPAIR on the layer-wise paths and the segment profile (each path's own two endpoints),
and its refusal in the loss plane (a plane point combines three points)."""

import pytest
import torch
from torch import nn

from ridgeline.landscape import (
    Endpoints,
    Evaluator,
    layer_groups,
    layerwise_barriers,
    lerp,
    lerp_groups,
    plane_slice,
    repair,
    segment_profile,
    state_of,
)

D = torch.float64


def net(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3)).to(D)
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() == 1:
                p.add_(0.4 * seed)  # endpoints with distinct channel means
    return m


@pytest.fixture
def setup():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 5, generator=g, dtype=D)
    y = torch.randint(0, 3, (64,), generator=g)
    train = [torch.randn(32, 5, generator=g, dtype=D) for _ in range(2)]
    a, b = state_of(net(1)), state_of(net(2))
    model = net(0)
    rep = Evaluator(model, x, y, bn_policy="repair", bn_batches=train, use_vmap=False)
    plain = Evaluator(model, x, y, bn_policy="interpolate", use_vmap=False)
    return model, a, b, train, rep, plain


def test_single_layer_path_is_repaired_towards_its_own_endpoints(setup):
    """Point at α of layer ℓ's path into A: repair(θ_A with ℓ at α) with targets lerped from
    stat(θ_A) and stat(θ_A with ℓ from θ_B), not from stat(θ_A) and stat(θ_B)."""
    model, a, b, train, rep, plain = setup
    groups = [g for g in layer_groups(model) if g.param_names]
    rec = layerwise_barriers(rep, a, b, groups=groups, alphas=[0.0, 0.5, 1.0])
    assert rec.bn_policy == "repair"
    for entry in rec.entries:
        rest = "a" if entry.direction == "into_a" else "b"
        names = entry.groups
        ends = [lerp_groups(a, b, t, names, groups, rest=rest) for t in (0.0, 1.0)]
        mid = lerp_groups(a, b, 0.5, names, groups, rest=rest)
        (fixed,) = repair(model, Endpoints(ends[0], ends[1], [0.5]), [mid], train)
        (m,) = plain.evaluate([fixed])
        assert entry.loss[1] == pytest.approx(m.loss, rel=1e-12, abs=1e-12), entry.name
        # the wrong targets (the whole networks' statistics) give another number
        (wrong,) = repair(model, Endpoints(a, b, [0.5]), [mid], train)
        assert plain.evaluate([wrong])[0].loss != pytest.approx(m.loss, rel=1e-6), entry.name
    # repair changes the midpoints (the test is not vacuous)
    base = layerwise_barriers(plain, a, b, groups=groups, alphas=[0.0, 0.5, 1.0])
    assert any(
        abs(e.loss[1] - f.loss[1]) > 1e-6 for e, f in zip(rec.entries, base.entries, strict=True)
    )


def test_segment_profile_under_repair_uses_its_segment_ends(setup):
    model, a, b, train, rep, plain = setup
    s = state_of(net(3))
    prof = segment_profile(rep, s, a, [0.0, 0.5, 1.0])
    (fixed,) = repair(model, Endpoints(s, a, [0.5]), [lerp(s, a, 0.5)], train)
    assert prof.loss[1] == pytest.approx(plain.evaluate([fixed])[0].loss, rel=1e-12)
    assert prof.loss[0] == pytest.approx(plain.evaluate([s])[0].loss, rel=1e-12)


def test_plane_slice_refuses_repair(setup):
    _, a, b, _, rep, plain = setup
    s = state_of(net(3))
    with pytest.raises(ValueError, match="repair.*interpolate"):
        plane_slice(rep, s, a, b, resolution=3)
    assert plane_slice(plain, s, a, b, resolution=3).bn_policy == "interpolate"
