"""The end-of-run table gives mean ± s.d. over the child pairs of a phase (three children:
pairs 0-1, 0-2, 1-2), computed here independently with ``statistics``."""

import statistics

import pytest

from helpers.records import pair_record
from ridgeline.records.probe_record import ProbeRecord
from ridgeline.report.summary import summary_rows


def pair(step: int, i: int, j: int, height: float) -> ProbeRecord:
    raw = pair_record("spawn_k=0000010", "spawn", step, 10, height, pair=(i, j))
    del raw["barrier"]["train"]  # a split the probe did not evaluate
    return ProbeRecord.from_dict(raw)


def test_rows_carry_mean_and_sd_over_pairs_of_the_final_probe() -> None:
    heights = [0.2, 0.5, 0.3]
    pairs = [(0, 1), (0, 2), (1, 2)]
    records = [pair(250, i, j, h) for (i, j), h in zip(pairs, heights, strict=True)]
    records += [pair(125, i, j, 0.9) for i, j in pairs]  # an earlier probe: not in the row
    errs = [r.raw["barrier"]["test"]["error_barrier"]["endpoint_mean"] for r in records[:3]]
    angles = [r.raw["geometry"]["angle_deg"] for r in records[:3]]
    assert len(set(errs)) == 3 and len(set(angles)) == 3
    (row,) = summary_rows(records)
    assert row["pairs"] == 3 and row["step"] == 250
    assert row["err test"] == pytest.approx(statistics.mean(errs), rel=1e-12)
    assert row["err test s.d."] == pytest.approx(statistics.stdev(errs), rel=1e-12)
    assert row["angle°"] == pytest.approx(statistics.mean(angles), rel=1e-12)
    assert row["angle° s.d."] == pytest.approx(statistics.stdev(angles), rel=1e-12)
    assert row["pred test"] == pytest.approx(statistics.mean(1.1 * h for h in heights))
    assert row["err train"] is None and row["err train s.d."] is None  # not recorded


def test_one_pair_has_no_sd() -> None:
    record = pair(250, 0, 1, 0.05)
    (row,) = summary_rows([record])
    err = record.raw["barrier"]["test"]["error_barrier"]["endpoint_mean"]
    assert row["err test"] == err and row["err test s.d."] is None
