"""End to end through the console script: records, W&B offline run, table and figures agree."""

import re

import matplotlib.image
import pytest

from helpers.wandb_file import read_runs
from ridgeline.records.probe_record import ProbeRecord
from ridgeline.records.scalars import scalar_metrics

pytestmark = pytest.mark.slow  # every test uses the main job's ridgeline-train run
FAST = [
    "debug=fast",
    "logger=[wandb,csv]",
    "probe.curvature.layerwise=false",
    "probe.geometry.plane_resolution=5",  # the plane is drawn; no test reads its grid
]


@pytest.fixture(scope="module")
def main_job(tiny_run_factory):
    # a W&B service address inherited from a parent process must be ignored (W&B would fail
    # to parse this one); the W&B tests below read the run's own offline files
    env = {"WANDB_SERVICE": "inherited-from-a-notebook"}
    job = tiny_run_factory("main_job", *FAST, env=env)
    return job.run_dir, job.records(), job.result.stdout


def test_every_phase_is_probed_at_spawn_point_schedule_and_end(main_job):
    _, records, _ = main_job
    steps = {}
    for r in records:
        steps.setdefault(r["phase"], set()).add(r["step"])
    assert steps == {
        "parent": {0, 10, 20},
        "spawn_k=0000000": {0, 10, 20},
        "spawn_k=0000010": {10, 20},
        "independent": {0, 10, 20},
    }
    pair = [r for r in records if r["probe"] == "pair"]
    assert all(r["pair"] == [0, 1] for r in pair)
    for r in pair:
        assert set(r["barrier"]) == {"train", "test"}
        assert {"layerwise", "curvature", "geometry"} <= set(r)
        assert r["barrier"]["test"]["alphas"][0] == 0.0 and r["barrier"]["test"]["alphas"][-1] == 1


def test_children_at_the_spawn_point_are_the_parent(main_job):
    _, records, _ = main_job
    for r in records:
        if r["kind"] == "spawn" and r["step"] == r["spawn_step"]:
            assert r["geometry"]["dist_ab"] == 0.0
            assert r["geometry"]["dist_as"] == 0.0
            assert r["barrier"]["test"]["error_barrier"]["endpoint_mean"] == 0.0


def test_wandb_offline_run_holds_the_records_numbers(main_job):
    run_dir, records, _ = main_job
    runs = {r.job_type + ":" + r.name.split("/")[-1]: r for r in read_runs(run_dir)}
    assert set(runs) == {
        "spawn:spawn_k=0000000",
        "spawn:spawn_k=0000010",
        "independent:independent",
        "summary:summary",
    }
    assert len({r.group for r in runs.values()}) == 1
    parent_runs = read_runs(
        next(p for p in (run_dir.parent / "outputs" / "parents").iterdir() if p.is_dir())
    )
    assert [r.job_type for r in parent_runs] == ["parent"]
    spawn = runs["spawn:spawn_k=0000010"]
    logged = [h for h in spawn.history if "barrier/test/error/endpoint_mean" in h]
    expected = [r for r in records if r["phase"] == "spawn_k=0000010"]
    assert [h["probe/absolute_step"] for h in logged] == [r["step"] for r in expected]
    for h, r in zip(logged, expected, strict=True):
        for key, value in scalar_metrics(ProbeRecord.from_dict(r)).items():
            if value is not None:
                assert h[key] == pytest.approx(value, rel=1e-12), key
    final = expected[-1]
    assert spawn.summary["final/barrier/test/loss/midpoint"] == pytest.approx(
        final["barrier"]["test"]["loss_barrier"]["midpoint"]
    )


def test_printed_table_and_figures_match_records(main_job):
    run_dir, records, stdout = main_job
    final = [r for r in records if r["phase"] == "spawn_k=0000010" and r["step"] == 20][0]
    err = final["barrier"]["test"]["error_barrier"]["endpoint_mean"]
    row = [line for line in stdout.splitlines() if re.match(r"^\W*10\s", line)]
    assert row, stdout[-2000:]
    assert f"{err:.4f}" in row[0]
    for name in (
        "instability",
        "barrier_over_training",
        "predicted_vs_measured",
        "mountainside",
        "barrier_curves",
    ):
        image = matplotlib.image.imread(run_dir / "figures" / f"{name}.png")
        assert image.shape[0] > 100 and image.shape[1] > 100
    assert (run_dir / "config.yaml").exists()
    assert (run_dir / "spawn_k=0000010" / "csv" / "version_0" / "metrics.csv").exists()
