"""The statistics of probe records, written once: every table, figure and claim uses these.

- :func:`mean_sd`: mean and sample standard deviation (n − 1).
- :func:`pearson` and :func:`slope`: the fit of a prediction to a measurement. Convention for
  undefined cases: nan (fewer than two points, or no spread in x, or for r in y); a caller that
  prints one writes "undefined".
- :func:`prediction_points`: (measured, predicted) midpoint loss barriers, with one rule for
  Δ = 0: a probe point enters only when the curvature record's ‖Δ‖ = ‖θ_B − θ_A‖ is non-zero
  (at the spawn step the children coincide and both numbers are 0 by construction); a point
  with a non-finite value is left out too.
- :func:`final_probe`: the records at the last probed step of each phase (of each job).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from ridgeline.records.probe_record import ProbeRecord


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean m = Σv/n and sample standard deviation √(Σ(v − m)²/(n − 1)) (0 for one value)."""
    if not values:
        raise ValueError("mean_sd of no values")
    n = len(values)
    m = sum(values) / n
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return m, sd


def _moments(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """(Sxx, Syy, Sxy): the centred sums of squares and of products."""
    if len(xs) != len(ys):
        raise ValueError(f"{len(xs)} x values against {len(ys)} y values")
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return sxx, syy, sxy


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Pearson r = Sxy / √(Sxx Syy); nan with fewer than 2 points or no spread in x or y."""
    if len(xs) < 2:
        return math.nan
    sxx, syy, sxy = _moments(xs, ys)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else math.nan


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of y on x, Sxy / Sxx (1 when y = x); nan with fewer than 2 points or
    no spread in x."""
    if len(xs) < 2:
        return math.nan
    sxx, _, sxy = _moments(xs, ys)
    return sxy / sxx if sxx > 0 else math.nan


def fit_text(xs: Sequence[float], ys: Sequence[float]) -> str:
    """'r = 0.93, slope = 1.02' for a figure's title ('undefined' where nan)."""

    def fmt(v: float) -> str:
        return f"{v:.3f}" if math.isfinite(v) else "undefined"

    return f"r = {fmt(pearson(xs, ys))}, slope = {fmt(slope(xs, ys))}"


@dataclass(frozen=True)
class Point:
    """One (measured, predicted) midpoint loss barrier and the record it comes from; ``layer``
    names the layer group of a per-layer point (None for the whole network)."""

    measured: float
    predicted: float
    record: ProbeRecord
    layer: str | None = None


def prediction_points(
    records: Sequence[ProbeRecord], split: str = "test"
) -> dict[str, list[Point]]:
    """The points behind every prediction-vs-measurement figure and claim, on ``split``.

    'network': measured B_mid = L(θ_½) − ½(L_A + L_B) (barrier record) against predicted
    −⅛ΔᵀH(θ_½)Δ (curvature record); 'layers': the single-layer midpoint barrier (only layer ℓ
    interpolated, rest of θ_A, own endpoints: ``loss_mid_own`` of the ``into_a`` entry) against
    −⅛Δ_ℓᵀH_ℓℓ(θ^{ℓ,½})Δ_ℓ. Pair records only; Δ = 0 and non-finite points are left out (see
    the module's docstring). Select the kinds (spawn, independent) before calling.
    """
    net: list[Point] = []
    layers: list[Point] = []
    for r in records:
        curvature = r.curvature.get(split)
        if r.probe != "pair" or curvature is None or not curvature.delta_norm:
            continue
        barrier = r.barrier.get(split)
        if barrier is not None:
            m, p = barrier.loss_barrier.midpoint, curvature.predicted_barrier
            if math.isfinite(m) and math.isfinite(p):
                net.append(Point(m, p, r))
        layerwise = r.layerwise.get(split)
        measured = {
            e.name: e.loss_mid_own
            for e in (layerwise.entries if layerwise else [])
            if e.kind == "layer" and e.direction == "into_a"
        }
        for layer in curvature.layers:
            own = measured.get(layer.name)
            if own is not None and math.isfinite(own) and math.isfinite(layer.predicted_barrier):
                layers.append(Point(own, layer.predicted_barrier, r, layer.name))
    return {"network": net, "layers": layers}


def final_probe(records: Sequence[ProbeRecord]) -> list[ProbeRecord]:
    """The records at the last probed step of their phase, per job of a sweep, in input order."""
    last: dict[tuple[str, str], int] = defaultdict(lambda: -1)
    for r in records:
        key = (r.job, r.phase)
        last[key] = max(last[key], r.step)
    return [r for r in records if r.step == last[(r.job, r.phase)]]


def has_layers(record: ProbeRecord, split: str) -> bool:
    """Whether the record holds layer-wise barriers or per-layer predictions on ``split``."""
    curvature = record.curvature.get(split)
    return split in record.layerwise or bool(curvature and curvature.layers)


def layer_grid(
    records: Sequence[ProbeRecord], split: str, which: str = "measured"
) -> tuple[list[str], list[int], list[list[float]]]:
    """(layers, probe steps, grid[layer][step]): each cell the mean over the records (pairs,
    jobs) at that step; nan where none has a finite value.

    measured: the single-layer midpoint loss barrier (only layer ℓ interpolated, rest of θ_A,
    own endpoints: ``loss_mid_own`` of the ``into_a`` entry); predicted:
    −⅛Δ_ℓᵀH_ℓℓ(θ^{ℓ,½})Δ_ℓ of the curvature record.
    """
    if which not in ("measured", "predicted"):
        raise ValueError(f"which={which!r}: use 'measured' or 'predicted'")
    recs = [r for r in records if r.probe == "pair" and has_layers(r, split)]
    steps = sorted({r.step for r in recs})
    layers: list[str] = []
    values: dict[tuple[str, int], list[float]] = defaultdict(list)
    for r in recs:
        if which == "measured":
            layerwise = r.layerwise.get(split)
            items = [
                (e.name, e.loss_mid_own)
                for e in (layerwise.entries if layerwise else [])
                if e.kind == "layer" and e.direction == "into_a"
            ]
        else:
            curvature = r.curvature.get(split)
            items = [(c.name, c.predicted_barrier) for c in (curvature.layers if curvature else [])]
        for name, value in items:
            if name not in layers:
                layers.append(name)
            if math.isfinite(value):
                values[name, r.step].append(value)
    grid = [
        [sum(v) / len(v) if (v := values.get((name, s))) else math.nan for s in steps]
        for name in layers
    ]
    return layers, steps, grid
