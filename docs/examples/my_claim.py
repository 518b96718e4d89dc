"""A claim of your own: the published statement, the experiment that tests it, how it is
measured from the runs' records and when it holds. ``claim.evaluate(runs, seeds)`` decides it on
runs loaded with ``ridgeline.load_run``; ``ridgeline-reproduce`` evaluates the claims of
``ridgeline.reproduce.claims.CLAIMS`` on its experiments (add one there, and its experiment to
``ridgeline.reproduce.experiments.EXPERIMENTS``, to put it in the table).
"""

import math

from ridgeline.job.run import LoadedRun
from ridgeline.records.statistics import prediction_points
from ridgeline.reproduce.claims import Claim, Measured, Runs, named, quantity

EXPERIMENT = "ridge_sign"  # ridgeline_conf/experiment/ridge_sign.yaml


def ridge_fraction(run: LoadedRun) -> float:
    """Of the probes of spawned children with Δ ≠ 0 and a positive midpoint loss barrier
    (test split), the fraction with negative curvature along Δ at the midpoint, i.e. with a
    positive prediction −⅛ΔᵀH(θ_½)Δ; nan when no probe has a positive barrier."""
    spawned = [r for r in run.records if r.kind == "spawn"]
    points = [p for p in prediction_points(spawned, "test")["network"] if p.measured > 0]
    if not points:
        return math.nan
    return sum(p.predicted > 0 for p in points) / len(points)


def measure(runs: Runs) -> Measured:
    return named(
        fraction=quantity("ridge fraction", "", [ridge_fraction(r) for r in runs[EXPERIMENT]])
    )


RIDGE = Claim(
    id="ridge",
    source="Singh et al. 2024",
    statement="A positive loss barrier between two children is a ridge: the curvature along "
    "Δ = θ_B − θ_A at the midpoint is negative.",
    experiment=lambda runs: f"{EXPERIMENT}, every probe of spawned children with Δ ≠ 0",
    criterion="ΔᵀH(θ_½)Δ < 0 at ≥ 90 % of the probes with B_mid > 0, mean over seeds",
    measure=measure,
    holds=lambda q: q["fraction"].mean >= 0.9,  # nan (no positive barrier) does not hold
)
