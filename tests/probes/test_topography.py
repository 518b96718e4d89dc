"""The loss plane, the ridge on the path and the Gauss-Newton split in the main job (issue 24
parts 1-3): one tiny ridgeline-train run with all three on, its records, scalars, table, and the
plane figure at the end of the run and from ``ridgeline-report``."""

import math

import matplotlib.image
import pytest

from ridgeline.cli.report import main as report_main
from ridgeline.errors import ConfigError
from ridgeline.probes import GeometryProbe
from ridgeline.probes.component import ProbeContext
from ridgeline.records.probe_record import ProbeRecord, read_records
from ridgeline.records.scalars import scalar_metrics
from ridgeline.records.statistics import final_probe
from ridgeline.report.summary import summary_rows

RES = 11
TINY = [
    "logger=none",
    "trainer.max_steps=30",
    "spawn.at=[0,10]",
    "spawn.children=2",
    "data.eval_train_size=100",
    "data.eval_test_size=100",
    "probe.every_n_steps=null",
    "~probe.layerwise",
    "probe.curvature.gauss_newton=true",
    "probe.barrier.ridge_splits=null",  # the ridge on both splits (quickstart: test only)
    "probe.eval_path=loop",  # no timing of loop against vmap (the path choice has its own tests)
]


@pytest.fixture(scope="module")
def run(tiny_run_factory):
    job = tiny_run_factory("topography", *TINY)
    return job.run_dir, read_records(job.run_dir / "landscape" / "records.jsonl"), job.result.stdout


def _pairs(records):
    return [r for r in records if r.probe == "pair"]


def _finals(records):
    return final_probe(_pairs(records))


@pytest.mark.slow  # uses a ridgeline-train run (a process)
def test_the_plane_is_recorded_at_each_phase_final_probe_only(run):
    """plane=end (the default): every phase's final pair record has an 11 × 11 grid of finite
    losses and errors on the geometry component's split (test); no other probe point has one."""
    _, records, _ = run
    finals = _finals(records)
    assert {r.phase for r in finals} == {"spawn_k=0000000", "spawn_k=0000010", "independent"}
    for r in _pairs(records):
        p = r.plane
        if r not in finals:
            assert p is None, (r.phase, r.step)
            continue
        assert p is not None, r.phase
        sl = p.slice
        assert p.split == "test" and sl.n_examples == 100
        assert (sl.resolution, len(sl.u), len(sl.v)) == (RES, RES, RES)
        for grid in (sl.loss, sl.error):
            assert [len(row) for row in grid] == [RES] * RES
            assert all(math.isfinite(v) for row in grid for v in row)
        assert all(0 <= e <= 1 for row in sl.error for e in row)
        assert p.seconds is not None and p.seconds > 0
        # the straight path θ_A → θ_B runs from the plane's point A to its point B
        assert sl.path[0] == pytest.approx(sl.points[1]) and sl.path[-1] == pytest.approx(
            sl.points[2]
        )


@pytest.mark.slow  # uses a ridgeline-train run (a process)
def test_plane_points_are_the_barrier_curve_endpoints(run):
    """The plane's A and B (through its own parametrisation θ_s + c1(θ_A − θ_s) + c2(θ_B − θ_s))
    have the barrier curve's endpoint losses and errors, θ_s the profiles' start: the same
    parameter sets up to float32 rounding. Their plane coordinates are the recorded distances
    (the basis is over parameters, BN buffers left out)."""
    _, records, _ = run
    for r in _finals(records):
        p = r.plane
        curve = r.barrier[p.split]
        assert p.slice.point_loss[1] == pytest.approx(curve.loss[0], rel=1e-5)
        assert p.slice.point_loss[2] == pytest.approx(curve.loss[-1], rel=1e-5)
        assert p.slice.point_error[1] == pytest.approx(curve.error[0], abs=1.5 / 100)
        assert p.slice.point_error[2] == pytest.approx(curve.error[-1], abs=1.5 / 100)
        (u0, v0), (ua, va), (ub, vb) = p.slice.points
        assert (u0, v0, va) == (0.0, 0.0, 0.0) and vb > 0
        assert math.hypot(ub - ua, vb - va) == pytest.approx(r.dist_ab, rel=1e-6)
        if r.kind == "spawn":
            assert p.slice.labels == ["spawn", "a", "b"]
            assert p.slice.point_loss[0] == pytest.approx(
                r.profiles[p.split]["a"].loss[0], rel=1e-6
            )
            assert ua == pytest.approx(r.geometry.dist_as, rel=1e-6)
            assert math.hypot(ub, vb) == pytest.approx(r.geometry.dist_bs, rel=1e-6)
        else:
            assert p.slice.labels[0] == "inits' midpoint"


@pytest.mark.slow  # uses a ridgeline-train run (a process)
def test_plane_trajectories(run):
    """Spawned pairs: the parent's saved points (θ_0, spawn points 0 and 10, end 30) projected,
    θ_s among them on the plane's origin; independent pairs: each child's init → end, the end
    on the plane at its point."""
    _, records, _ = run
    for r in _finals(records):
        sl = r.plane.slice
        if r.kind == "spawn":
            parent = sl.trajectories["parent"]
            assert parent.steps == [0, 10, 30]
            at_spawn = parent.steps.index(r.spawn_step)
            assert parent.coords[at_spawn] == pytest.approx([0.0, 0.0], abs=1e-6)
            assert parent.offplane[at_spawn] == pytest.approx(0.0, abs=1e-6)
        else:
            for name, point in (("init_a", 1), ("init_b", 2)):
                traj = sl.trajectories[name]
                assert traj.steps == [0, 30]
                assert traj.coords[-1] == pytest.approx(sl.points[point], rel=1e-6, abs=1e-5)
                assert traj.offplane[-1] == pytest.approx(0.0, abs=1e-3)


@pytest.mark.slow  # uses a ridgeline-train run (a process)
def test_ridge_is_the_peak_of_the_recorded_curve_over_its_chord(run):
    """α* = argmax_α L(α) − chord(α) of the barrier curve in the same record, its height that
    maximum (= the chord loss barrier), predicted height −½α*(1−α*)ΔᵀHΔ, is_ridge = κ < 0;
    none where the children coincide (the spawn phases' first probe)."""
    _, records, _ = run
    seen = 0
    for r in _pairs(records):
        found = r.ridge
        if r.kind == "spawn" and r.step == r.spawn_step:
            assert found == {} and r.dist_ab == 0.0
            continue
        assert set(found) == set(r.barrier) == {"train", "test"}
        for split, ridge in found.items():
            curve = r.barrier[split]
            assert ridge.delta_norm == pytest.approx(r.dist_ab, rel=1e-6)
            la, lb = curve.loss[0], curve.loss[-1]
            excess = [
                v - ((1 - a) * la + a * lb) for a, v in zip(curve.alphas, curve.loss, strict=True)
            ]
            i = max(range(len(excess)), key=lambda j: (excess[j], -j))
            assert ridge.alpha == curve.alphas[i]
            assert ridge.height == pytest.approx(excess[i], abs=1e-12)
            assert ridge.height == pytest.approx(curve.loss_barrier.chord, abs=1e-12)
            assert ridge.loss == curve.loss[i]
            a = ridge.alpha
            assert ridge.predicted_height == pytest.approx(-0.5 * a * (1 - a) * ridge.dHd)
            assert ridge.curvature == pytest.approx(ridge.dHd / ridge.delta_norm**2)
            assert ridge.is_ridge == (ridge.curvature < 0)
            seen += 1
    assert seen == 8  # three final probes and the independent start × two splits


@pytest.mark.slow  # uses a ridgeline-train run (a process)
def test_gauss_newton_split_adds_up_to_the_recorded_curvature(run):
    """G ≥ 0 for the whole network and in every layer; G + R is the curvature component's own
    ΔᵀH(θ_½)Δ (whole) and Δ_ℓᵀH_ℓℓ(θ^{ℓ,½})Δ_ℓ (per layer), computed by a different jvp."""
    _, records, _ = run
    checked = 0
    for r in _pairs(records):
        if r.kind == "spawn" and r.step == r.spawn_step:  # Δ = 0: not computed
            assert r.gauss_newton == {}
            continue
        gn, taylor = r.gauss_newton["test"], r.curvature["test"]
        assert set(r.gauss_newton) == {"test"}
        parts = [(gn.whole, taylor.dHd_mid)] + [
            (g, t.dHd_single_mid) for g, t in zip(gn.layers, taylor.layers, strict=True)
        ]
        assert [g.name for g in gn.layers] == [t.name for t in taylor.layers]
        for split, dhd in parts:
            assert split.gauss_newton >= 0.0, (r.phase, r.step, split.name)
            assert split.total == pytest.approx(split.gauss_newton + split.residual, abs=1e-12)
            assert split.total == pytest.approx(dhd, rel=1e-5, abs=1e-7), split.name
            checked += 1
    assert checked == 4 * 4  # four records with Δ ≠ 0 × (whole + three layers)


@pytest.mark.slow  # uses a ridgeline-train run (a process)
def test_scalars_and_summary_columns(run):
    """The ridge and the split are W&B / CSV scalars (scalar_metrics) and table columns."""
    _, records, _ = run
    final = next(r for r in _finals(records) if r.phase == "spawn_k=0000000")
    scalars = scalar_metrics(final)
    ridge, gn = final.ridge["test"], final.gauss_newton["test"]
    assert scalars["barrier/test/ridge/alpha"] == ridge.alpha
    assert scalars["barrier/test/ridge/height"] == ridge.height
    assert scalars["barrier/test/ridge/curvature"] == ridge.curvature
    assert scalars["barrier/test/ridge/is_ridge"] == float(ridge.is_ridge)
    assert scalars["curvature/test/gauss_newton/whole/residual"] == gn.whole.residual
    layer = gn.layers[0]
    assert scalars[f"curvature/test/gauss_newton/layer/{layer.name}/gauss_newton"] == (
        layer.gauss_newton
    )
    assert scalars["curvature/test/gauss_newton/min_layer_gauss_newton"] == min(
        x.gauss_newton for x in gn.layers
    )
    assert scalars["geometry/plane/seconds"] == final.plane.seconds
    rows = {row["phase"]: row for row in summary_rows(records)}
    row = rows["spawn_k=0000000"]
    assert row["ridge α*"] == ridge.alpha and row["ridge h"] == ridge.height
    assert row["min_ℓ G"] == min(x.gauss_newton for x in gn.layers)
    assert row["pred G"] + row["pred R"] == pytest.approx(row["pred test"], rel=1e-5)


@pytest.mark.slow  # uses a ridgeline-train run (a process)
def test_the_plane_figure_is_drawn_at_the_end_and_by_the_report(run, tmp_path):
    run_dir, _, stdout = run
    at_end = run_dir / "figures" / "loss_plane.png"
    assert at_end.is_file(), stdout[-2000:]
    assert "ridge α*" in stdout and "min_ℓ G" in stdout  # the end-of-run table's columns
    out = tmp_path / "report"
    assert report_main([str(run_dir), "--out", str(out), "--wandb", "off"]) == 0
    drawn = out / "figures" / "loss_plane.png"
    image = matplotlib.image.imread(drawn)
    assert image.shape[1] > 2.5 * image.shape[0]  # three panels side by side
    assert "loss_plane.png" in (out / "report.md").read_text()


def test_records_without_them_and_the_switch():
    """Older records have no ridge, split or plane (empty, not an error); the plane switch
    takes end / all / off (and the old true / false) and refuses anything else."""
    old = ProbeRecord.from_dict(
        {"phase": "p", "probe": "pair", "step": 1, "pair": [0, 1], "geometry": {"dist_ab": 1.0}}
    )
    assert (old.ridge, old.gauss_newton, old.plane) == ({}, {}, None)
    assert scalar_metrics(old) == {"geometry/dist_ab": 1.0}
    assert GeometryProbe().plane == "end"
    assert GeometryProbe(plane=True).plane == "all" and GeometryProbe(plane=False).plane == "off"
    with pytest.raises(ConfigError, match="probe.geometry.plane"):
        GeometryProbe(plane="sometimes")
    with pytest.raises(ConfigError, match="plane_resolution"):
        GeometryProbe(plane_resolution=1)

    def ctx(final: bool) -> ProbeContext:
        return ProbeContext(None, [], None, {}, [], [], [], None, extra={"final": final})

    assert [GeometryProbe(plane=m).wants_plane(ctx(f)) for m in ("end", "all", "off")
            for f in (False, True)] == [False, True, True, True, False, False]  # fmt: skip
