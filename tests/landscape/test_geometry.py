import math

import pytest
import torch

from ridgeline.landscape import (
    Evaluator,
    layer_groups,
    lerp,
    param_names,
    plane_slice,
    segment_profile,
    spawn_geometry,
    state_of,
)
from ridgeline.landscape.geometry import largest_bump

from .conftest import untouched


def test_largest_bump():
    assert largest_bump([3.0, 2.0, 1.0]) == (0.0, 0)
    assert largest_bump([3.0, 1.0, 2.5, 0.5, 1.0]) == (1.5, 2)
    assert math.isnan(largest_bump([1.0, float("nan")])[0])


def test_spawn_geometry(pair):
    a, b = pair
    ta, tb = state_of(a), state_of(b)
    ts = lerp(ta, tb, 0.5)
    names = param_names(a)
    g = spawn_geometry(ts, ta, tb, names=names, groups=layer_groups(a))
    assert g.angle_deg == pytest.approx(180.0, abs=1e-3)
    assert g.dist_as == pytest.approx(0.5 * g.dist_ab, rel=1e-5)
    assert set(g.groups_dist_ab) == {"1", "2", "4", "6"}


def test_segment_profile_and_plane_slice(pair, data):
    x, y = data
    a, b = pair
    ta, tb = state_of(a), state_of(b)
    ev = Evaluator(a, x, y, chunk_size=50)
    with untouched(a):
        prof = segment_profile(ev, ta, tb, alphas=[0, 0.25, 0.5, 0.75, 1.0], tolerance=1e-3)
    assert prof.bump >= 0 and prof.monotone == (prof.bump <= 1e-3)
    tc = lerp(ta, tb, 0.5)
    names = param_names(a)
    tc = {k: v + 0.1 * torch.ones_like(v) if k in names else v for k, v in tc.items()}
    sl = plane_slice(ev, ta, tb, tc, resolution=3, margin=0.0, names=names)
    (u0, v0), (u1, v1), (u2, v2) = sl.points
    assert (u0, v0, v1) == (0.0, 0.0, 0.0) and v2 > 0
    # the grid corners at (0,0) and (u1, 0) are p0 and p1
    assert sl.u[0] == pytest.approx(min(0.0, u2)) and sl.v[0] == 0.0
    j1 = sl.u.index(u1) if u1 in sl.u else None
    ends = ev.evaluate([ta, tb])
    if sl.u[0] == 0.0:
        assert sl.loss[0][0] == pytest.approx(ends[0].loss, abs=1e-5)
    if j1 is not None:
        assert sl.loss[0][j1] == pytest.approx(ends[1].loss, abs=1e-5)
    explicit = plane_slice(ev, ta, tb, tc, u=[0.0, u1, u2], v=[0.0, v2], names=names)
    assert explicit.loss[0][0] == pytest.approx(ends[0].loss, abs=1e-5)
    assert explicit.loss[0][1] == pytest.approx(ends[1].loss, abs=1e-5)
    assert explicit.loss[1][2] == pytest.approx(ev.evaluate([tc])[0].loss, abs=1e-5)
