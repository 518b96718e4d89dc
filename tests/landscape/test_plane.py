"""Loss plane through three points (issue 24 part 1): basis, grid, path, trajectories, records."""

import json
import math

import pytest
import torch

from ridgeline.landscape import Evaluator, SliceRecord, lerp, param_names, plane_slice, state_of
from ridgeline.landscape.geometry import project_onto_plane
from ridgeline.landscape.params import affine

from .conftest import mlp, untouched


def _three(seed: int = 0):
    torch.manual_seed(seed)
    nets = [mlp(bn=False).double() for _ in range(3)]
    return nets, [state_of(n) for n in nets]


def test_plane_basis_points_path_and_grid_values(data):
    x, y = data
    nets, (ts, ta, tb) = _three()
    ev = Evaluator(nets[0], x.double(), y, chunk_size=40)
    calls = []
    run = ev.run

    def counting(groups, **kw):
        calls.append([len(g.param_sets) for g in groups])
        return run(groups, **kw)

    ev.run = counting  # type: ignore[method-assign]
    with untouched(nets[0]):
        sl = plane_slice(ev, ts, ta, tb, resolution=5, margin=0.25)
    # one evaluation of the 25 grid sets and the three points at once (each chunk loaded once)
    assert calls == [[25, 3]]
    names = list(ts)
    d1 = torch.cat([(ta[k] - ts[k]).reshape(-1) for k in names])
    d2 = torch.cat([(tb[k] - ts[k]).reshape(-1) for k in names])
    # independent Gram-Schmidt on the flat vectors
    e1 = d1 / d1.norm()
    r = d2 - (d2 @ e1) * e1
    e2 = r / r.norm()
    (u0, v0), (u1, v1), (u2, v2) = sl.points
    assert (u0, v0, v1) == (0.0, 0.0, 0.0)
    assert u1 == pytest.approx(d1.norm().item(), rel=1e-12)
    assert u2 == pytest.approx((d2 @ e1).item(), rel=1e-12)
    assert v2 == pytest.approx((d2 @ e2).item(), rel=1e-12)
    # the grid spans the points plus a quarter of the extent on each side
    lo, hi = min(0.0, u2), max(u1, u2)
    assert sl.u[0] == pytest.approx(lo - 0.25 * (hi - lo)) and sl.u[-1] == pytest.approx(
        hi + 0.25 * (hi - lo)
    )
    assert sl.v[0] == pytest.approx(-0.25 * v2) and sl.v[-1] == pytest.approx(1.25 * v2)
    assert len(sl.loss) == 5 and all(len(row) == 5 for row in sl.loss)
    assert (sl.resolution, sl.margin, sl.labels) == (5, 0.25, ["spawn", "a", "b"])
    # a grid node's loss and error equal a direct evaluation of that point, built independently
    flat_s = torch.cat([ts[k].reshape(-1) for k in names])
    for i, j in [(0, 0), (2, 3), (4, 1)]:
        vec = flat_s + sl.u[j] * e1 + sl.v[i] * e2
        pt, off = {}, 0
        for k in names:
            pt[k] = vec[off : off + ts[k].numel()].view_as(ts[k])
            off += ts[k].numel()
        m = Evaluator(nets[0], x.double(), y).evaluate([pt])[0]
        assert sl.loss[i][j] == pytest.approx(m.loss, rel=1e-10)
        assert sl.error[i][j] == pytest.approx(m.error, abs=1e-12)
    # the straight path A → B is the segment from point 1 to point 2
    assert sl.path[0] == pytest.approx(sl.points[1]) and sl.path[-1] == pytest.approx(sl.points[2])
    mid = sl.path[sl.path_alphas.index(0.5)]
    assert mid == pytest.approx([(u1 + u2) / 2, v2 / 2])


@pytest.mark.parametrize("bn", [False, True])
def test_plane_points_equal_a_separate_evaluation(data, bn):
    """point_loss / point_error of p0, p1, p2 (c1, c2 = (0,0), (1,0), (0,1)) from the grid's call
    are exactly those of an evaluation of the three points alone on the loop path (per-set sums
    do not depend on the other sets in the call); BN: recomputed statistics per set."""
    x, y = data
    torch.manual_seed(4)
    nets = [mlp(bn=bn) for _ in range(3)]
    ts, ta, tb = (state_of(n) for n in nets)
    opts = {"chunk_size": 40, "use_vmap": False, "bn_policy": "reset" if bn else "interpolate"}
    if bn:
        opts["bn_batches"] = [x[:50], x[50:]]
    sl = plane_slice(Evaluator(nets[0], x, y, **opts), ts, ta, tb, resolution=4)
    alone = Evaluator(nets[0], x, y, **opts).evaluate(
        [affine(ts, ta, tb, c1, c2) for c1, c2 in ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0))]
    )
    assert sl.point_loss == [m.loss for m in alone]
    assert sl.point_error == [m.error for m in alone]
    # p1 and p2 are the children themselves (up to the float32 rounding of p0 + (p1 − p0))
    ends = Evaluator(nets[0], x, y, **opts).evaluate([ta, tb])
    assert sl.point_loss[1:] == pytest.approx([m.loss for m in ends], rel=1e-5)
    assert len(set(sl.point_loss)) == 3  # three different points, not one value repeated
    d = sl.to_dict()
    assert (d["point_loss"], d["point_error"]) == (sl.point_loss, sl.point_error)


def test_trajectory_projection_inplane_and_offplane():
    _, (ts, ta, tb) = _three(1)
    names = list(ts)
    inplane = affine(ts, ta, tb, 0.3, -0.7)
    # an offset orthogonal to the plane: a random vector minus its projection
    g = torch.Generator().manual_seed(5)
    w = {k: torch.randn(ts[k].shape, generator=g, dtype=torch.float64) for k in names}
    d1 = {k: ta[k] - ts[k] for k in names}
    d2 = {k: tb[k] - ts[k] for k in names}

    # orthogonalise w against span(d1, d2) by solving the 2x2 normal equations
    def ip(a, b):
        return sum(float((a[k] * b[k]).sum()) for k in names)

    gram = torch.tensor([[ip(d1, d1), ip(d1, d2)], [ip(d2, d1), ip(d2, d2)]], dtype=torch.float64)
    rhs = torch.tensor([ip(d1, w), ip(d2, w)], dtype=torch.float64)
    c = torch.linalg.solve(gram, rhs)
    w = {k: w[k] - c[0] * d1[k] - c[1] * d2[k] for k in names}
    wn = math.sqrt(ip(w, w))
    w = {k: 0.7 * w[k] / wn for k in names}
    off = {k: inplane[k] + w[k] for k in names}
    proj = project_onto_plane(ts, ta, tb, [ts, ta, tb, inplane, off], steps=[0, 1, 2, 3, 4])
    ref = plane_coords = proj.coords[:3]
    assert plane_coords[0] == [0.0, 0.0]
    assert proj.offplane[:4] == pytest.approx([0.0] * 4, abs=1e-12)
    assert proj.offplane[4] == pytest.approx(0.7, rel=1e-10)
    # the coordinates are affine: 0.3 (p1) − 0.7 (p2) in the plane; the offset does not move them
    want = [0.3 * ref[1][0] - 0.7 * ref[2][0], 0.3 * ref[1][1] - 0.7 * ref[2][1]]
    assert proj.coords[3] == pytest.approx(want, rel=1e-10)
    assert proj.coords[4] == pytest.approx(want, rel=1e-10)
    assert proj.steps == [0, 1, 2, 3, 4]


def test_plane_record_round_trip_and_old_records(data):
    x, y = data
    nets, (ts, ta, tb) = _three(2)
    ev = Evaluator(nets[0], x.double(), y)
    traj = [lerp(ts, ta, a) for a in (0.0, 0.5, 1.0)]
    sl = plane_slice(
        ev,
        ts,
        ta,
        tb,
        resolution=3,
        trajectories={"parent": traj},
        trajectory_steps={"parent": [0, 5, 10]},
    )
    # a point on segment p0 → p1 projects onto the u axis, in the plane
    par = sl.trajectories["parent"]
    assert par.coords[1] == pytest.approx([0.5 * sl.points[1][0], 0.0], abs=1e-12)
    assert max(par.offplane) < 1e-12
    sl.loss[0][0] = float("nan")
    back = SliceRecord.from_dict(json.loads(json.dumps(sl.to_dict())))
    assert math.isnan(back.loss[0][0])
    back.loss[0][0] = sl.loss[0][0] = 0.0
    assert back == sl
    # a record written before issue 24 (no labels, path, trajectories) still loads
    old = {
        "u": [0.0, 1.0],
        "v": [0.0, 1.0],
        "loss": [[1.0, 2.0], [3.0, 4.0]],
        "error": [[0.0, 0.5], [0.5, 1.0]],
        "points": [[0.0, 0.0], [1.0, 0.0], [0.5, 1.0]],
        "bn_policy": "reset",
        "eval_path": "loop",
        "record": "SliceRecord",
        "non_finite": [],
        "non_finite_values": [],
    }
    rec = SliceRecord.from_dict(old)
    assert rec.loss[1][0] == 3.0 and rec.path == [] and rec.trajectories == {}
    assert rec.resolution is None


def test_plane_rejects_collinear_points(data):
    x, y = data
    nets, (ts, ta, _) = _three(3)
    ev = Evaluator(nets[0], x.double(), y)
    with pytest.raises(ValueError, match="collinear"):
        plane_slice(ev, ts, ta, lerp(ts, ta, 2.0), resolution=3)


def test_plane_names_exclude_buffers(pair, data):
    """With BN, the basis over parameters only; buffers follow the same affine combination."""
    x, y = data
    a, b = pair
    ta, tb = state_of(a), state_of(b)
    ts = lerp(ta, tb, 0.5)
    names = param_names(a)
    ts = {k: v + 0.05 * torch.ones_like(v) if k in names else v for k, v in ts.items()}
    ev = Evaluator(a, x, y)
    sl = plane_slice(ev, ts, ta, tb, resolution=3, names=names, trajectories={"t": [ta]})
    assert sl.trajectories["t"].coords[0] == pytest.approx(sl.points[1], abs=1e-5)
