"""probe.bn_policy=repair end to end (Jordan et al. 2023): the tiny job's records are REPAIR's
(recomputed from the saved children), unaligned and aligned; a BatchNorm model is refused."""

import json
import math

import pytest

from helpers.cli import run_train
from ridgeline import load_run
from ridgeline.landscape import Evaluator, barrier_curve
from ridgeline.store.layout import RunLayout

pytestmark = pytest.mark.slow  # every test starts or uses a ridgeline-train run


@pytest.fixture(scope="module")
def records(tiny_run):
    run_dir, _ = tiny_run
    lines = RunLayout(run_dir).records.read_text().splitlines()
    return [json.loads(s) for s in lines]


def test_every_record_is_repairs(records):
    pairs = [r for r in records if r["probe"] == "pair"]
    assert {(r["phase"], r["step"]) for r in pairs} == {
        ("spawn_k=0000000", 0),
        ("spawn_k=0000000", 30),
        ("independent", 0),
        ("independent", 30),
    }
    for r in records:
        assert r["bn_policy"] == "repair"
    for r in pairs:
        assert r["barrier"]["test"]["bn_policy"] == "repair"
        assert r["layerwise"]["test"]["bn_policy"] == "repair"
        assert all(math.isfinite(v) for v in r["barrier"]["test"]["loss"])
        plane = r["geometry"].get("plane")
        if plane:  # the plane is recorded uncorrected, and says so
            assert plane["bn_policy"] == "interpolate"


def test_independent_rows_unaligned_and_aligned(records):
    (end,) = [r for r in records if r["phase"] == "independent" and r["step"] == 30]
    plain, aligned = end["barrier"]["test"], end["aligned"]["barrier"]["test"]
    assert aligned["bn_policy"] == "repair" and end["aligned"]["layerwise"]["test"]["bn_policy"]
    assert aligned["loss"][0] == plain["loss"][0]  # θ_A is not permuted
    assert aligned["loss"][2] != plain["loss"][2]  # the midpoint is: P(θ_B) ≠ θ_B


def test_the_recorded_barrier_is_repair_of_the_saved_children(tiny_run, records):
    """Recomputed with bn_policy='repair' on probe.bn_batches training batches: the recorded
    numbers; with 'interpolate' other numbers (REPAIR changed them)."""
    run_dir, _ = tiny_run
    run = load_run(run_dir)
    dm = run.datamodule()
    x, y = dm.eval_tensors("test")
    (end,) = [r for r in records if r["phase"] == "independent" and r["step"] == 30]
    a, b = run.phases["independent"].children()
    alphas = end["barrier"]["test"]["alphas"]
    bn = dm.bn_batches(run.config.probe.bn_batches, dm.batch_size, seed=0)
    repaired = barrier_curve(
        Evaluator(run.model(), x, y, bn_policy="repair", bn_batches=bn), a, b, alphas
    )
    assert repaired.loss == pytest.approx(end["barrier"]["test"]["loss"], rel=1e-5)
    plain = barrier_curve(Evaluator(run.model(), x, y, bn_policy="interpolate"), a, b, alphas)
    assert abs(plain.loss[2] - repaired.loss[2]) > 1e-3


def test_repair_on_a_batchnorm_model_is_refused_before_anything_runs(tmp_path):
    result = run_train(
        tmp_path, "model=resnet20", "data=cifar10", "probe.bn_policy=repair", "logger=none"
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("ridgeline: error: probe.bn_policy='repair' is not valid: ")
    assert "model resnet20 has BatchNorm" in line and "probe.bn_policy=reset" in line
    assert not (tmp_path / "run").exists()
