"""Names and module paths from before issue 29 still resolve, with a FutureWarning."""

import importlib

import pytest

import ridgeline.landscape as landscape
from ridgeline.landscape import bent_paths, results
from ridgeline.landscape.eval_path import PathTuning


@pytest.mark.parametrize(
    "old,new",
    [
        ("fit_curve", bent_paths.fit_bent_path),
        ("curve_barrier", bent_paths.bent_path_barrier),
        ("CurveRecord", results.BentPathRecord),
        ("sums_to_metrics", importlib.import_module("ridgeline.landscape.sums").sums_to_metrics),
    ],
)
def test_an_old_package_name_warns_and_gives_the_new_object(old, new):
    with pytest.warns(FutureWarning, match="ridgeline.landscape."):
        assert getattr(landscape, old) is new
    with pytest.raises(AttributeError):
        landscape.no_such_name  # noqa: B018


@pytest.mark.parametrize(
    "old,name,new",
    [
        ("ridgeline.landscape.curves", "curve_points", bent_paths.bent_path_points),
        ("ridgeline.landscape.records", "CurveFitRecord", results.BentPathFitRecord),
        ("ridgeline.landscape.records", "TaylorRecord", results.TaylorRecord),
    ],
)
def test_an_old_module_path_forwards(old, name, new):
    with pytest.warns(FutureWarning):
        module = importlib.reload(importlib.import_module(old))
        assert getattr(module, name) is new


def test_renamed_records_keep_their_name_on_disk():
    assert results.BentPathRecord.RECORD_NAME == "CurveRecord"
    assert results.BentPathFitRecord.RECORD_NAME == "CurveFitRecord"
    assert results.EigenRecord(1.0, 1, True, 0.0).to_dict()["record"] == "EigenRecord"


def test_tuning_keywords_and_settings_are_one(pair, data):
    ev = landscape.Evaluator(pair[0], *data, tuning=PathTuning(use_vmap=False, vmap_max_sets=4))
    assert ev.pinned_path == "loop" and ev.vmap_max_sets == 4
    ev = landscape.Evaluator(pair[0], *data, tuning=PathTuning(vmap_max_sets=4), use_vmap=True)
    assert ev.pinned_path == "vmap" and ev.vmap_max_sets == 4
