"""Claim 7 (the ViT's instability analysis) on hand-built runs: its quantities are the records'
test error barriers and its criterion (fixed before any run) can fail."""

from pathlib import Path
from types import SimpleNamespace

import pytest
from omegaconf import OmegaConf

from helpers.records import ALPHAS, pair_record
from ridgeline.cli.reproduce import parse_args
from ridgeline.records.probe_record import ProbeRecord
from ridgeline.reproduce.vit_instability import VIT_INSTABILITY, VIT_INSTABILITY_CLAIM

T = 30


def _run(heights: dict[int, float], independent: float) -> SimpleNamespace:
    """Spawn phases at each k (final height heights[k]) and an independent phase."""
    records = [
        pair_record(f"spawn_k={k:07d}", "spawn", step, k, h if step == T else 0.0)
        for k, h in heights.items()
        for step in (k, T)
    ]
    records.append(pair_record("independent", "independent", T, None, independent))
    config = OmegaConf.create({"trainer": {"max_steps": T}})
    return SimpleNamespace(
        root=Path("run"), config=config, records=[ProbeRecord.from_dict(r) for r in records]
    )


def endpoint_mean_pp(height: float) -> float:
    """The helper's error curve 0.1 + 0.02α + 0.4hα(1−α), its endpoint-mean barrier in pp."""
    error = [0.1 + 0.02 * a + height * 0.1 * 4 * a * (1 - a) for a in ALPHAS]
    return 100 * (max(error) - (error[0] + error[-1]) / 2)


def test_quantities_are_the_error_barriers_per_spawn_step_and_the_claim_holds():
    runs = {
        VIT_INSTABILITY: [
            _run({0: 0.5, 10: 0.2, 20: 0.05}, 1.0),
            _run({0: 0.4, 10: 0.1, 20: 0.0}, 0.9),
        ]
    }
    result = VIT_INSTABILITY_CLAIM.evaluate(runs, [0, 1])
    names = [q.name for q in result.quantities]
    assert names == ["k = 0", "k = 10", "k = 20", "different inits"]
    for q, hs in zip(
        result.quantities, [(0.5, 0.4), (0.2, 0.1), (0.05, 0.0), (1.0, 0.9)], strict=True
    ):
        assert q.values == pytest.approx([endpoint_mean_pp(h) for h in hs], rel=1e-9)
    assert result.holds
    assert "T = 30; children at k = 0, 10, 20" in result.experiment


def test_the_claim_fails_when_late_children_are_no_more_stable():
    runs = {VIT_INSTABILITY: [_run({0: 0.1, 20: 0.3}, 1.0), _run({0: 0.1, 20: 0.2}, 1.0)]}
    assert not VIT_INSTABILITY_CLAIM.evaluate(runs, [0, 1]).holds


def test_the_runner_runs_the_vit_only_when_asked():
    assert not parse_args([]).vit_instability
    assert parse_args(["--vit-instability"]).vit_instability
