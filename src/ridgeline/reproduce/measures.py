"""What one run's records measure for the claims: the final pairs of a phase, its spawn steps,
and each per-run quantity (test split, mean over the child pairs) the claims summarise over seeds.
"""

from __future__ import annotations

from ridgeline.job.run import LoadedRun
from ridgeline.landscape.results import GeometryRecord
from ridgeline.records import statistics
from ridgeline.records.probe_record import ProbeRecord
from ridgeline.records.statistics import final_probe

SPLIT = "test"


def final_pairs(run: LoadedRun, kind: str, spawn_step: int | None = None) -> list[ProbeRecord]:
    """Pair records at the last probe of the phase of ``kind`` (and ``spawn_step``)."""
    mine = [
        r
        for r in final_probe(run.records)
        if r.probe == "pair"
        and r.kind == kind
        and (spawn_step is None or r.spawn_step == spawn_step)
    ]
    if not mine:
        raise ValueError(f"{run.root}: no {kind} pair records (spawn step {spawn_step})")
    return mine


def spawn_steps(run: LoadedRun) -> list[int]:
    """The run's spawn steps k, ascending."""
    return sorted(
        {
            int(r.spawn_step)
            for r in run.records
            if r.kind == "spawn" and r.probe == "pair" and r.spawn_step is not None
        }
    )


def _avg(values: list[float]) -> float:
    return sum(values) / len(values)


def error_barrier_pp(records: list[ProbeRecord]) -> float:
    """Mean over pairs of the test error barrier (endpoint-mean), in percentage points."""
    return _avg([100 * r.barrier[SPLIT].error_barrier.endpoint_mean for r in records])


def loss_barrier(records: list[ProbeRecord]) -> float:
    """Mean over pairs of the test midpoint loss barrier (nats)."""
    return _avg([r.barrier[SPLIT].loss_barrier.midpoint for r in records])


def largest_layer_barrier(records: list[ProbeRecord]) -> float:
    """Largest |single-layer midpoint loss barrier| (own endpoints; both directions, all pairs)."""
    return max(
        abs(e.loss_mid_own)
        for r in records
        for e in r.layerwise[SPLIT].entries
        if e.kind == "layer"
    )


def angle(records: list[ProbeRecord]) -> float:
    """Mean over pairs of the angle at the spawn point (degrees)."""
    return _avg([_geometry(r).angle_deg for r in records])


def _geometry(record: ProbeRecord) -> GeometryRecord:
    if record.geometry is None:  # independent children: no spawn point
        raise ValueError(f"{record.phase}: pair {record.pair} has no spawn-point geometry")
    return record.geometry


def monotone_fraction(records: list[ProbeRecord]) -> float:
    """Fraction of the children whose loss profile θ_s → child (test) is a monotone descent."""
    flags = [p.monotone for r in records for p in r.profiles[SPLIT].values()]
    return sum(flags) / len(flags)


def prediction_points(run: LoadedRun) -> dict[str, list[tuple[float, float]]]:
    """(measured, predicted) at every probe of spawned children, on test: the points of
    :func:`ridgeline.records.statistics.prediction_points` (Δ ≠ 0) of the spawn phases.

    'network': B_mid against −⅛ΔᵀH(θ_½)Δ; 'layers': each single-layer midpoint barrier (rest
    of θ_A, own endpoints) against −⅛Δ_ℓᵀH_ℓℓ(θ^{ℓ,½})Δ_ℓ.
    """
    spawned = [r for r in run.records if r.kind == "spawn"]
    points = statistics.prediction_points(spawned, SPLIT)
    return {level: [(p.measured, p.predicted) for p in pts] for level, pts in points.items()}
