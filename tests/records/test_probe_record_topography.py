"""The ridge on the path, the Gauss-Newton split and the loss plane as typed parts of what
``read_records`` returns: written by the probe components themselves into records.jsonl, read
back as the core's records equal to what the landscape core computed; records from before
them read as {} / None."""

import dataclasses
import json
import math

import pytest
import torch
from torch import nn

from helpers.records import pair_record
from ridgeline.landscape import Evaluator, layer_groups, state_of
from ridgeline.landscape.barrier import barrier_curve
from ridgeline.landscape.gauss_newton import gauss_newton_split
from ridgeline.landscape.results import SliceRecord
from ridgeline.landscape.ridge import ridge_of_curve
from ridgeline.probes import BarrierProbe, CurvatureProbe, GeometryProbe
from ridgeline.probes.component import ProbeContext
from ridgeline.records.probe_record import Plane, ProbeRecord, read_records
from ridgeline.records.scalars import scalar_metrics
from ridgeline.report.plane_figure import planes_by_panel
from ridgeline.report.summary import summary_rows
from ridgeline.store.record_store import RecordStore

ALPHAS = [0.0, 0.25, 0.5, 0.75, 1.0]


def _permuted(state, order: list[int]):
    """The same network with its hidden units in ``order``."""
    p = torch.tensor(order)
    return {
        "0.weight": state["0.weight"][p],
        "0.bias": state["0.bias"][p],
        "2.weight": state["2.weight"][:, p],
        "2.bias": state["2.bias"],
    }


@pytest.fixture(scope="module")
def probed():
    """(context, (θ_A, θ_B, θ_C), the record as the probe callback builds it): θ_s a tiny net's
    init, θ_A the net fitted to 20 examples, θ_B = θ_A with two hidden units swapped (a barrier
    between them), and under ``aligned`` the barrier and curvature components on (θ_A, θ_C),
    θ_C another permutation of θ_A."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(20, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (20,), generator=g)
    s = state_of(model)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(200):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    a = state_of(model)
    states = [a, _permuted(a, [1, 0, 2, 3, 4]), _permuted(a, [1, 2, 3, 4, 0])]
    ctx = ProbeContext(
        model,
        states[:2],
        s,
        {"test": Evaluator(model, x, y)},
        layer_groups(model),
        ALPHAS,
        [0.0, 0.5, 1.0],
        None,
        extra={"final": True},
    )
    barrier = BarrierProbe()
    curvature = CurvatureProbe(layerwise=True, gauss_newton=True)
    other = dataclasses.replace(ctx, states=[states[0], states[2]])
    record = {
        "phase": "spawn_k=0000010",
        "kind": "spawn",
        "probe": "pair",
        "step": 30,
        "spawn_step": 10,
        "pair": [0, 1],
        "barrier": barrier.compute(ctx, 0, 1),
        "curvature": curvature.compute(ctx, 0, 1),
        "geometry": GeometryProbe(plane_resolution=3).compute(ctx, 0, 1),
        "aligned": {
            "barrier": barrier.compute(other, 0, 1),
            "curvature": curvature.compute(other, 0, 1),
        },
    }
    return ctx, states, record


def _read(tmp_path, record: dict) -> ProbeRecord:
    store = RecordStore(tmp_path / "records.jsonl")
    store.append([record])
    (rec,) = read_records(store.path)
    return rec


def test_ridge_and_gauss_newton_read_back_as_the_core_computed_them(tmp_path, probed):
    """The typed ridge and split of the pair and of the aligned pair are the landscape core's
    own records of the same points, number for number."""
    ctx, states, record = probed
    rec = _read(tmp_path, record)
    a, b, c = states
    ev = ctx.evaluators["test"]
    for results, (p, q) in ((rec, (a, b)), (rec.aligned, (a, c))):
        curve = barrier_curve(ev, p, q, ALPHAS)
        assert set(results.ridge) == set(results.gauss_newton) == {"test"}
        assert results.ridge["test"] == ridge_of_curve(ev, p, q, curve)
        split = gauss_newton_split(ev, p, q, groups=ctx.groups, layerwise=True)
        assert results.gauss_newton["test"] == split
        assert [x.name for x in split.layers] == ["0", "2"]
    assert rec.ridge["test"] != rec.aligned.ridge["test"]
    # a ridge between the two permutations: inside the path, above the chord
    assert rec.ridge["test"].alpha == 0.5 and rec.ridge["test"].height > 0.5


def test_the_plane_reads_back_as_written(tmp_path, probed):
    """Split, grid, points, path, the corner values through the plane's parametrisation and
    its seconds, as the geometry component stored them."""
    *_, record = probed
    written = record["geometry"]["plane"]
    rec = _read(tmp_path, record)
    plane = rec.plane
    assert isinstance(plane, Plane) and isinstance(plane.slice, SliceRecord)
    assert plane.split == "test" and plane.slice.labels == ["spawn", "a", "b"]
    assert plane.slice.resolution == 3 and plane.slice.loss == written["loss"]
    assert (plane.slice.u, plane.slice.v, plane.slice.points) == (
        written["u"],
        written["v"],
        written["points"],
    )
    assert plane.slice.path_alphas == ALPHAS and plane.slice.path == written["path"]
    assert plane.slice.point_loss == written["point_loss"] and len(written["point_loss"]) == 3
    assert plane.slice.point_error == written["point_error"]
    assert plane.seconds == written["seconds"] > 0
    # the plane's point A is θ_A: its loss is the barrier curve's first
    assert plane.slice.point_loss[1] == pytest.approx(rec.barrier["test"].loss[0], rel=1e-12)


def test_non_finite_plane_values_read_back(tmp_path, probed):
    """A non-finite point value is flagged by the slice (today) or by the record (written
    before the slice held the points' values): inf as inf, resp. nan; a non-finite seconds
    is nan and no scalar."""
    *_, record = probed
    path = tmp_path / "records.jsonl"
    written = record["geometry"]["plane"]
    today = json.loads(json.dumps(record))
    sl = SliceRecord.from_dict(written)
    sl.point_loss[2] = math.inf
    today["geometry"]["plane"] = {**written, **sl.to_dict(), "seconds": math.nan}
    before = json.loads(json.dumps({**record, "step": 31}))
    before["geometry"]["plane"]["point_error"][0] = math.inf  # RecordStore flags it: nan
    RecordStore(path).append([today, before])
    assert "Infinity" not in path.read_text() and "NaN" not in path.read_text()
    new, old = read_records(path)
    assert new.plane.slice.point_loss[2] == math.inf and math.isnan(new.plane.seconds)
    assert new.plane.slice.point_loss[:2] == written["point_loss"][:2]
    assert scalar_metrics(new)["geometry/plane/seconds"] is None
    assert math.isnan(old.plane.slice.point_error[0])
    assert old.plane.slice.point_error[1:] == written["point_error"][1:]
    assert old.plane.seconds == written["seconds"]


def test_scalars_summary_and_figure_read_the_typed_fields(tmp_path, probed):
    *_, record = probed
    rec = _read(tmp_path, record)
    ridge, split = rec.ridge["test"], rec.gauss_newton["test"]
    scalars = scalar_metrics(rec)
    assert scalars["barrier/test/ridge/alpha"] == ridge.alpha
    assert scalars["barrier/test/ridge/is_ridge"] == float(ridge.is_ridge)
    assert scalars["curvature/test/gauss_newton/whole/residual"] == split.whole.residual
    assert (
        scalars["curvature/test/gauss_newton/layer/2/gauss_newton"] == split.layers[1].gauss_newton
    )
    assert scalars["curvature/test/gauss_newton/min_layer_gauss_newton"] == min(
        x.gauss_newton for x in split.layers
    )
    aligned = rec.aligned.ridge["test"]
    assert scalars["aligned/barrier/test/ridge/height"] == aligned.height != ridge.height
    assert scalars["geometry/plane/seconds"] == rec.plane.seconds
    row, aligned_row = summary_rows([rec])
    assert row["ridge α*"] == ridge.alpha and row["ridge h"] == ridge.height
    assert row["pred G"] == -0.125 * split.whole.gauss_newton
    assert row["pred R"] == -0.125 * split.whole.residual
    assert aligned_row["ridge h"] == aligned.height
    assert planes_by_panel([rec]) == [(rec, rec.plane)]


def test_a_record_from_before_them_reads_as_empty_and_none(tmp_path):
    """A record without the ridge, the split and the plane (and one whose plane was not
    defined, stored as null) loads: {} / None, no scalars, no table values, no panel."""
    old = pair_record("spawn_k=0000010", "spawn", 30, 10, 0.3)
    old["aligned"] = {"barrier": old["barrier"], "curvature": old["curvature"]}
    undefined = {**json.loads(json.dumps(old)), "step": 31}
    undefined["geometry"]["plane"] = None
    store = RecordStore(tmp_path / "records.jsonl")
    store.append([old, undefined])
    recs = read_records(store.path)
    assert [r.step for r in recs] == [30, 31]
    for rec in recs:
        assert rec.barrier and rec.curvature  # the rest of the record is there
        assert (rec.ridge, rec.gauss_newton, rec.plane) == ({}, {}, None)
        assert (rec.aligned.ridge, rec.aligned.gauss_newton) == ({}, {})
        keys = scalar_metrics(rec)
        assert not [k for k in keys if "/ridge/" in k or "gauss_newton" in k or "plane" in k]
    row = summary_rows(recs)[0]
    assert (row["ridge α*"], row["min_ℓ G"], row["pred G"]) == (None, None, None)
    assert planes_by_panel(recs) == []
