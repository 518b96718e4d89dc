"""The end-of-run table gives mean ± s.d. over the child pairs of a phase (three children:
pairs 0-1, 0-2, 1-2), computed here independently with ``statistics``."""

import statistics

import pytest

from ridgeline.report.summary import summary_rows


def pair(step: int, i: int, j: int, err: float, angle: float) -> dict:
    return {
        "phase": "spawn_k=0000010",
        "kind": "spawn",
        "probe": "pair",
        "spawn_step": 10,
        "step": step,
        "pair": [i, j],
        "barrier": {"test": {"error_barrier": {"endpoint_mean": err}}},
        "geometry": {"angle_deg": angle, "dist_ab": 1.0},
    }


def test_rows_carry_mean_and_sd_over_pairs_of_the_final_probe() -> None:
    errs, angles = [0.05, 0.11, 0.02], [40.0, 55.0, 31.0]
    pairs = [(0, 1), (0, 2), (1, 2)]
    records = [pair(250, i, j, e, a) for (i, j), e, a in zip(pairs, errs, angles, strict=True)]
    records += [pair(125, i, j, 0.9, 10.0) for i, j in pairs]  # an earlier probe: not in the row
    (row,) = summary_rows(records)
    assert row["pairs"] == 3
    assert row["err test"] == pytest.approx(statistics.mean(errs), rel=1e-12)
    assert row["err test s.d."] == pytest.approx(statistics.stdev(errs), rel=1e-12)
    assert row["angle°"] == pytest.approx(statistics.mean(angles), rel=1e-12)
    assert row["angle° s.d."] == pytest.approx(statistics.stdev(angles), rel=1e-12)
    assert row["err train"] is None and row["err train s.d."] is None  # not recorded


def test_one_pair_has_no_sd() -> None:
    (row,) = summary_rows([pair(250, 0, 1, 0.05, 40.0)])
    assert row["err test"] == 0.05 and row["err test s.d."] is None
