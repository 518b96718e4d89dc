"""The reproduction table describes the runs it measured (their T, spawn steps and probe steps),
on hand-built runs: no training needed."""

import math
from pathlib import Path
from types import SimpleNamespace

from omegaconf import OmegaConf

from helpers.records import pair_record
from ridgeline.records.probe_record import ProbeRecord
from ridgeline.reproduce.claims import CLAIMS, fit_steps, setup
from ridgeline.reproduce.experiments import EXPERIMENTS, LENET


def _run(max_steps: int, spawn_at: tuple[int, ...], every: int) -> SimpleNamespace:
    records = [
        ProbeRecord.from_dict(pair_record(f"spawn_k={k:07d}", "spawn", step, k, 0.2))
        for k in spawn_at
        for step in range(k, max_steps + 1, every)
    ]
    config = OmegaConf.create({"trainer": {"max_steps": max_steps}})
    return SimpleNamespace(root=Path("run"), config=config, records=records)


def test_setup_and_fit_steps_are_read_from_the_runs():
    runs = {e: [_run(30, (0, 3, 12), 6)] for e in EXPERIMENTS}
    assert setup(runs, LENET).endswith("mnist_mini, T = 30; children at k = 0, 3, 12")
    # Δ = 0 at each spawn step (0, 3, 12): those probes are not fitted
    assert fit_steps(runs, LENET) == (
        "over every probe of spawned children with Δ ≠ 0 (at steps 6, 9, 12, 15, 18, 21, 24, 27 "
        "and 30)"
    )


def test_no_claim_describes_a_setup_other_than_the_one_that_ran():
    runs = {e: [_run(10, (0, 5), 5)] for e in EXPERIMENTS}
    texts = {c.id: c.experiment(runs) for c in CLAIMS}
    assert "T = 10; children at k = 0, 5" in texts["1"] and "T = 10" in texts["2"]
    assert all("(at steps 5 and 10)" in texts[f"4{x}"] for x in "abcdef")
    for text in texts.values():
        for full_size in ("T = 500", "T = 250", "k = 0, 10, 40", "125 and 250"):
            assert full_size not in text, text


def test_a_fit_without_points_is_undefined_not_an_error():
    runs = {e: [_run(0, (0,), 5), _run(0, (0,), 5)] for e in EXPERIMENTS}  # only Δ = 0 probes
    claim = next(c for c in CLAIMS if c.id == "4a")
    measured = claim.measure(runs)
    r, slope, n = measured.quantities
    assert r is measured["r"] and slope is measured["slope"] and n is measured["points"]
    assert math.isnan(r.mean) and math.isnan(slope.mean) and n.values == [0.0, 0.0]
    assert not claim.holds(measured)


def test_an_undefined_quantity_prints_as_undefined():
    from ridgeline.reproduce.claims import quantity
    from ridgeline.reproduce.table import fmt_quantity

    assert fmt_quantity(quantity("Pearson r", "", [math.nan, 0.5])) == "Pearson r: undefined"
    assert fmt_quantity(quantity("angle", "°", [40.0, 50.0])) == "angle: 45.0 ± 7.1°"
