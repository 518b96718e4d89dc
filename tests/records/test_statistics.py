"""The statistics every table, figure and claim uses, against Python's ``statistics`` module
and hand-built records."""

import math
import statistics

import pytest

from helpers.records import pair_record
from ridgeline.records.probe_record import ProbeRecord
from ridgeline.records.statistics import (
    final_probe,
    fit_text,
    layer_grid,
    mean_sd,
    pearson,
    prediction_points,
    slope,
)

XS = [0.1, 0.4, 0.35, 0.8, 0.02]
YS = [0.12, 0.3, 0.41, 0.7, -0.05]


def test_mean_sd_pearson_and_slope_are_the_textbook_values():
    m, sd = mean_sd(XS)
    assert m == pytest.approx(statistics.mean(XS), rel=1e-15)
    assert sd == pytest.approx(statistics.stdev(XS), rel=1e-14)
    assert mean_sd([3.0]) == (3.0, 0.0)
    assert pearson(XS, YS) == pytest.approx(statistics.correlation(XS, YS), rel=1e-13)
    assert slope(XS, YS) == pytest.approx(statistics.linear_regression(XS, YS).slope, rel=1e-13)
    assert slope(XS, XS) == pytest.approx(1.0) and pearson(XS, [-y for y in XS]) == pytest.approx(
        -1
    )


@pytest.mark.parametrize(
    ("xs", "ys"),
    [([], []), ([1.0], [2.0]), ([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])],
)
def test_undefined_fits_are_nan(xs, ys):
    assert math.isnan(pearson(xs, ys)) and math.isnan(slope(xs, ys))
    assert fit_text(xs, ys) == "r = undefined, slope = undefined"


def test_no_spread_in_y_leaves_r_undefined_and_the_slope_zero():
    assert math.isnan(pearson([1.0, 2.0, 3.0], [5.0, 5.0, 5.0]))
    assert slope([1.0, 2.0, 3.0], [5.0, 5.0, 5.0]) == 0.0
    with pytest.raises(ValueError, match="3 x values against 2"):
        pearson([1.0, 2.0, 3.0], [1.0, 2.0])


def _record(step, spawn_step=0, height=0.3, job=".", **kw) -> ProbeRecord:
    raw = pair_record(f"spawn_k={spawn_step:07d}", "spawn", step, spawn_step, height, **kw)
    return ProbeRecord.from_dict(raw).in_job(job, "")


def test_prediction_points_leave_out_delta_zero_and_non_finite_points():
    at_k = _record(0)  # the children coincide at the spawn step: ‖Δ‖ = 0
    later = _record(10, height=0.3)
    nan = ProbeRecord.from_dict(
        {
            **later.raw,
            "step": 20,
            "barrier": {
                **later.raw["barrier"],
                "test": {
                    **later.raw["barrier"]["test"],
                    "loss_barrier": {"midpoint": None, "chord": 0.0, "endpoint_mean": 0.0},
                    "non_finite": ["loss_barrier.midpoint"],
                    "non_finite_values": ["nan"],
                },
            },
        }
    )
    assert at_k.curvature["test"].delta_norm == 0.0 and math.isnan(
        nan.barrier["test"].loss_barrier.midpoint
    )
    points = prediction_points([at_k, later, nan], "test")
    (net,) = points["network"]
    assert net.record is later
    assert net.measured == later.raw["barrier"]["test"]["loss_barrier"]["midpoint"]
    assert net.predicted == later.raw["curvature"]["test"]["predicted_barrier"]
    # per layer: the into_a single-layer barrier against the layer's prediction, both records
    # with Δ ≠ 0 (the nan one has finite layer values)
    assert [(p.layer, p.record.step) for p in points["layers"]] == [
        ("fc1", 10),
        ("fc2", 10),
        ("fc3", 10),
        ("fc1", 20),
        ("fc2", 20),
        ("fc3", 20),
    ]
    assert points["layers"][1].measured == pytest.approx(0.3 * 2 / 6)  # into_a, not into_b
    assert points["layers"][1].predicted == pytest.approx(1.2 * 0.3 * 2 / 6)


def test_final_probe_is_the_last_step_of_each_phase_of_each_job():
    records = [
        _record(0, job="a"),
        _record(10, job="a"),
        _record(10, job="a", pair=(0, 2)),
        _record(20, job="b"),  # job b probed later: a's final step stays 10
        _record(10, job="b"),
        _record(20, spawn_step=20, job="a"),
    ]
    finals = final_probe(records)
    assert [(r.job, r.phase, r.step, r.pair) for r in finals] == [
        ("a", "spawn_k=0000000", 10, (0, 1)),
        ("a", "spawn_k=0000000", 10, (0, 2)),
        ("b", "spawn_k=0000000", 20, (0, 1)),
        ("a", "spawn_k=0000020", 20, (0, 1)),
    ]


def test_layer_grid_is_the_mean_over_pairs_per_layer_and_step():
    records = [
        _record(10, height=0.3),
        _record(10, height=0.6, pair=(0, 2)),
        _record(20, height=0.9),
    ]
    layers, steps, grid = layer_grid(records, "test", "measured")
    assert layers == ["fc1", "fc2", "fc3"] and steps == [10, 20]
    assert grid[1][0] == pytest.approx(statistics.mean([0.3 * 2 / 6, 0.6 * 2 / 6]))
    assert grid[2][1] == pytest.approx(0.9 * 3 / 6)
    _, _, predicted = layer_grid(records, "test", "predicted")
    assert predicted[0][0] == pytest.approx(statistics.mean([1.2 * 0.3 / 6, 1.2 * 0.6 / 6]))
    with pytest.raises(ValueError, match="which='both'"):
        layer_grid(records, "test", "both")
