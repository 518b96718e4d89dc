"""The modules that left store/ (for job/ and records/) still import from their old paths, with
a FutureWarning naming the new one, and give the same objects."""

import importlib
import sys

import pytest

MOVED = {
    "ridgeline.store.plan": ("ridgeline.job.plan", "make_plan"),
    "ridgeline.store.validate": ("ridgeline.job.validate", "validate_config"),
    "ridgeline.store.run_dir": ("ridgeline.job.run_dir", "check_run_dir"),
    "ridgeline.store.ranks": ("ridgeline.job.ranks", "Ranks"),
    "ridgeline.store.parent_store": ("ridgeline.job.parent_store", "parent_lock"),
    "ridgeline.store.run": ("ridgeline.job.run", "load_run"),
    "ridgeline.run": ("ridgeline.job.run", "load_run"),
    "ridgeline.store.typed": ("ridgeline.records.probe_record", "ProbeRecord"),
    "ridgeline.store.scalars": ("ridgeline.records.scalars", "scalar_metrics"),
    "ridgeline.store.statistics": ("ridgeline.records.statistics", "final_probe"),
    "ridgeline.store.records": ("ridgeline.store.record_store", "RecordStore"),
}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_path_warns_and_forwards(old, monkeypatch):
    new, name = MOVED[old]
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(FutureWarning, match=f"{old} moved to {new}"):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)


def test_the_packages_export_what_users_read():
    from ridgeline import load_run
    from ridgeline.job import load_run as job_load_run
    from ridgeline.records import ProbeRecord, read_records
    from ridgeline.records.probe_record import ProbeRecord as Typed
    from ridgeline.records.probe_record import read_records as read

    assert load_run is job_load_run
    assert (ProbeRecord, read_records) == (Typed, read)
