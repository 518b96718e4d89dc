"""The typed reader of records.jsonl: every field of a stored record, and records of older
formats (the ``taylor`` key, ``nonfinite`` flags, fields added later) read as today's."""

import json
import math

import pytest

from helpers.records import pair_record, parent_record
from ridgeline.errors import RidgelineError
from ridgeline.landscape.results import BarrierRecord, TaylorRecord
from ridgeline.records.probe_record import ProbeRecord, read_records
from ridgeline.records.scalars import scalar_metrics
from ridgeline.store.record_store import RecordStore


def _stored(tmp_path, records):
    store = RecordStore(tmp_path / "records.jsonl")
    store.append(records)
    return store.path


def test_a_record_reads_back_field_by_field(tmp_path):
    raw = pair_record("spawn_k=0000010", "spawn", 20, 10, 0.3, pair=(1, 2))
    (rec,) = read_records(_stored(tmp_path, [raw]))
    assert (rec.phase, rec.kind, rec.probe, rec.step, rec.spawn_step, rec.pair) == (
        "spawn_k=0000010",
        "spawn",
        "pair",
        20,
        10,
        (1, 2),
    )
    assert rec.bn_policy == "reset" and (rec.job, rec.setting) == (".", "")
    assert rec.barrier["test"] == BarrierRecord.from_dict(raw["barrier"]["test"])
    assert rec.curvature["train"] == TaylorRecord.from_dict(raw["curvature"]["train"])
    assert rec.geometry.angle_deg == raw["geometry"]["angle_deg"] == 20.0 + 60.0 * 0.3
    assert rec.dist_ab == raw["geometry"]["dist_ab"] == 1.3
    assert rec.profiles["test"]["b"].bump == pytest.approx(0.3 / 3)
    assert [e.name for e in rec.layerwise["test"].entries][:2] == ["fc1", "fc1"]
    assert rec.aligned is None and rec.parent_profiles == {} and rec.parent_distance is None


def test_an_old_record_under_taylor_reads_as_curvature_and_logs_the_same_scalars(tmp_path):
    new = pair_record("spawn_k=0000000", "spawn", 10, 0, 0.3)
    old = pair_record("spawn_k=0000000", "spawn", 10, 0, 0.3, key="taylor")
    assert "taylor" in old and "curvature" not in old
    old["curvature_top"] = None  # an unknown key is kept in raw, not an error
    old_rec, new_rec = read_records(_stored(tmp_path, [old, {**new, "step": 11}]))
    assert old_rec.curvature == new_rec.curvature and old_rec.curvature["test"].layers
    assert old_rec.raw["curvature_top"] is None
    old_scalars = scalar_metrics(old_rec)
    assert old_scalars == scalar_metrics(new_rec)
    assert old_scalars["curvature/test/predicted_barrier"] == pytest.approx(1.1 * 0.3)


def test_old_flags_missing_fields_and_the_aligned_part_of_an_old_record():
    raw = pair_record("independent", "independent", 10, None, 0.2, key="taylor")
    curve = raw["barrier"]["test"]
    curve["loss"][1] = None
    curve["nonfinite"], curve["nonfinite_values"] = ["loss[1]"], ["inf"]  # the old names
    del curve["non_finite"], curve["non_finite_values"], curve["eval_path"], raw["kind"]
    raw["taylor"]["test"]["top_eigenvalue_mid"] = {
        "eigenvalue": -2.5,
        "iterations": 7,
        "converged": True,
        "residual": 1e-5,
    }
    raw["aligned"] = {
        "alignment": {
            "method": "weight",
            "dist_before": 3.0,
            "dist_after": 2.0,
            "groups": 2,
            "units": 10,
            "moved_units": 4,
            "sweeps": 3,
            "seconds": 0.1,
        },
        "barrier": {"test": raw["barrier"]["train"]},
        "taylor": {"test": raw["taylor"]["train"]},
    }
    rec = ProbeRecord.from_dict(json.loads(json.dumps(raw)))
    assert rec.kind == "independent"  # a record from before kinds: the phase's name
    assert rec.barrier["test"].loss[1] == math.inf and rec.barrier["test"].eval_path is None
    assert rec.top_eigenvalue["test"].eigenvalue == -2.5
    assert rec.aligned.alignment.dist_after == 2.0
    assert rec.aligned.curvature["test"] == rec.curvature["train"]
    scalars = scalar_metrics(rec)
    assert (
        scalars["barrier/test/loss/midpoint"] == raw["barrier"]["test"]["loss_barrier"]["midpoint"]
    )
    assert scalars["endpoints/test/loss_a"] == raw["barrier"]["test"]["loss"][0]
    assert scalars["curvature/test/top_eigenvalue_mid"] == -2.5
    assert scalars["aligned/curvature/test/predicted_barrier"] == pytest.approx(1.1 * 0.2)
    assert scalars["aligned/dist_after"] == 2.0 and scalars["geometry/dist_ab"] == 1.2


def test_a_non_finite_value_outside_the_core_records_reads_back_as_nan(tmp_path):
    raw = pair_record("independent", "independent", 10, None, 0.2)
    raw["geometry"]["dist_ab"] = math.nan
    parent = parent_record(10)
    parent["parent"]["distance_from_init"] = math.inf
    path = _stored(tmp_path, [raw, parent])
    assert "NaN" not in path.read_text()
    rec, par = read_records(path)
    assert math.isnan(rec.dist_ab) and math.isnan(par.parent_distance)
    assert scalar_metrics(rec)["geometry/dist_ab"] is None  # loggers get no non-finite number
    assert scalar_metrics(par)["parent/distance_from_init"] is None
    assert par.parent_profiles["test"].loss[-1] == pytest.approx(2.3 - 0.1)


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ("phase", r"line 2 has no 'phase'"),
        ("step", r"line 2 has no 'step'"),
    ],
)
def test_a_record_without_what_every_record_has_is_named(tmp_path, drop, message):
    good = parent_record(0)
    bad = parent_record(10)
    del bad[drop]
    path = tmp_path / "records.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(RidgelineError, match=message) as info:
        read_records(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_results_that_are_not_core_records_are_named(tmp_path):
    raw = pair_record("independent", "independent", 10, None, 0.2)
    raw["barrier"]["test"] = {"alphas": [0.0, 1.0]}  # a truncated barrier record
    path = tmp_path / "records.jsonl"
    path.write_text(json.dumps(raw) + "\n")
    with pytest.raises(
        RidgelineError, match="line 1 is damaged: field barrier.test.loss is missing"
    ):
        read_records(path)


def test_the_old_attribute_name_still_reads_and_warns():
    rec = ProbeRecord.from_dict(pair_record("spawn_k=0000000", "spawn", 10, 0, 0.3))
    with pytest.warns(FutureWarning, match="ProbeRecord.taylor is now ProbeRecord.curvature"):
        assert rec.taylor is rec.curvature
