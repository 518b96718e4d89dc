"""The topography parts of a probe record (issue 24 parts 1-3), typed: the loss plane, the ridge
on the path and the Gauss-Newton split of the curvature, with their scalars.

Where the probes store them (docs/design.md §4, §5):
- ``barrier.<split>.ridge``: a :class:`RidgeRecord` (``probe.barrier.ridge``);
- ``curvature.<split>.gauss_newton``: a :class:`GaussNewtonRecord`
  (``probe.curvature.gauss_newton``);
- ``geometry.plane``: a :class:`SliceRecord` with the split it was evaluated on, the losses
  and errors of its three points (``point_loss``, ``point_error``, through the plane's own
  parametrisation) and the seconds it took (``probe.geometry.plane``);
each also under ``aligned`` where the component is aligned. Records without them give {} / None.
They are read from :attr:`ProbeRecord.raw`, beside the typed fields of
:mod:`ridgeline.store.typed`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ridgeline.landscape.records import GaussNewtonRecord, RidgeRecord, SliceRecord
from ridgeline.store.typed import CURVATURE, OLD_CURVATURE, ProbeRecord

RIDGE = "ridge"
GAUSS_NEWTON = "gauss_newton"
PLANE = "plane"
RIDGE_KEYS = ("alpha", "height", "dHd", "curvature", "predicted_height", "grad_dot_delta")
GN_KEYS = ("total", "gauss_newton", "residual")


@dataclass(frozen=True)
class Plane:
    """The loss plane of one pair at one probe point (``geometry.plane``)."""

    split: str
    slice: SliceRecord
    point_loss: list[float]
    point_error: list[float]
    seconds: float | None = None


def _part(record: ProbeRecord, aligned: bool) -> dict[str, Any]:
    raw = record.raw
    return (raw.get("aligned") or {}) if aligned else raw


def ridges(record: ProbeRecord, aligned: bool = False) -> dict[str, RidgeRecord]:
    """Split → the ridge on the path (of the aligned pair with ``aligned``)."""
    barrier = _part(record, aligned).get("barrier") or {}
    return {s: RidgeRecord.from_dict(r[RIDGE]) for s, r in barrier.items() if r.get(RIDGE)}


def gauss_newton(record: ProbeRecord, aligned: bool = False) -> dict[str, GaussNewtonRecord]:
    """Split → the Gauss-Newton split (of the aligned pair with ``aligned``)."""
    part = _part(record, aligned)
    curvature = part.get(CURVATURE) or part.get(OLD_CURVATURE) or {}
    return {
        s: GaussNewtonRecord.from_dict(r[GAUSS_NEWTON])
        for s, r in curvature.items()
        if r.get(GAUSS_NEWTON)
    }


def plane(record: ProbeRecord) -> Plane | None:
    """The record's loss plane, None where it has none."""
    data = (record.raw.get("geometry") or {}).get(PLANE)
    if not data:
        return None

    def values(key: str) -> list[float]:  # a non-finite value was stored as null: nan
        return [math.nan if v is None else float(v) for v in data.get(key) or []]

    seconds = data.get("seconds")
    return Plane(
        split=str(data.get("split", "")),
        slice=SliceRecord.from_dict(data),
        point_loss=values("point_loss"),
        point_error=values("point_error"),
        seconds=float(seconds) if seconds is not None else None,
    )


def min_layer_gauss_newton(rec: GaussNewtonRecord) -> float | None:
    """min over layers ℓ of Δ_ℓᵀG_ℓℓΔ_ℓ (≥ 0 up to rounding; None without layers)."""
    vals = [x.gauss_newton for x in rec.layers if math.isfinite(x.gauss_newton)]
    return min(vals) if vals else None


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _scalars(record: ProbeRecord, aligned: bool, prefix: str) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for split, r in ridges(record, aligned).items():
        for key in RIDGE_KEYS:
            out[f"{prefix}barrier/{split}/ridge/{key}"] = _finite(getattr(r, key))
        out[f"{prefix}barrier/{split}/ridge/is_ridge"] = float(r.is_ridge)
    for split, g in gauss_newton(record, aligned).items():
        base = f"{prefix}curvature/{split}/gauss_newton"
        for key in GN_KEYS:
            out[f"{base}/whole/{key}"] = _finite(getattr(g.whole, key))
        for layer in g.layers:
            for key in GN_KEYS:
                out[f"{base}/layer/{layer.name}/{key}"] = _finite(getattr(layer, key))
        out[f"{base}/min_layer_gauss_newton"] = _finite(min_layer_gauss_newton(g))
    return out


def topography_scalars(record: ProbeRecord, prefix: str = "") -> dict[str, float | None]:
    """The ridge's and the Gauss-Newton split's scalars (the plane is a figure, plus the seconds
    it took): ``barrier/<split>/ridge/<alpha|height|dHd|curvature|...>``,
    ``curvature/<split>/gauss_newton/<whole|layer/<name>>/<total|gauss_newton|residual>``,
    ``curvature/<split>/gauss_newton/min_layer_gauss_newton``, ``geometry/plane/seconds``; the
    same under ``aligned/`` for the aligned pair."""
    out = _scalars(record, False, prefix)
    if record.raw.get("aligned"):
        out.update(_scalars(record, True, f"{prefix}aligned/"))
    p = plane(record)
    if p is not None:
        out[f"{prefix}geometry/plane/seconds"] = _finite(p.seconds)
    return out


# --- columns of the end-of-run table (ridgeline.report.summary) ------------------------------


def _ridge(key: str, aligned: bool = False):
    def value(r: ProbeRecord) -> float | None:
        rec = ridges(r, aligned).get("test")
        return _finite(getattr(rec, key)) if rec is not None else None

    return value


def _gn(what: str, aligned: bool = False):
    def value(r: ProbeRecord) -> float | None:
        rec = gauss_newton(r, aligned).get("test")
        if rec is None:
            return None
        if what == "min_layer":
            return min_layer_gauss_newton(rec)
        # the whole network's share of the prediction −⅛ΔᵀHΔ = −⅛ΔᵀGΔ − ⅛ΔᵀRΔ
        return _finite(-0.125 * getattr(rec.whole, what))

    return value


# (column, value, value of the aligned pair): on the test split, α* of the ridge on the path,
# its height over the chord (nats), the curvature ΔᵀH(θ_α*)Δ there (negative = a ridge);
# min over layers of Δ_ℓᵀG_ℓℓΔ_ℓ (≥ 0), and the prediction's Gauss-Newton and residual parts.
SUMMARY_COLUMNS = (
    ("ridge α*", _ridge("alpha"), _ridge("alpha", True)),
    ("ridge h", _ridge("height"), _ridge("height", True)),
    ("ΔᵀHΔ at α*", _ridge("dHd"), _ridge("dHd", True)),
    ("min_ℓ G", _gn("min_layer"), _gn("min_layer", True)),
    ("pred G", _gn("gauss_newton"), _gn("gauss_newton", True)),
    ("pred R", _gn("residual"), _gn("residual", True)),
)
