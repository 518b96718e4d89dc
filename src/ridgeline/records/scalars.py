"""The scalar view of a probe record: the one naming used by loggers, tables and CSVs.

Keys are '/'-separated and start with the record key of the component that computed them
(``barrier/test/error/endpoint_mean``, ``curvature/test/predicted_barrier``,
``barrier/test/ridge/alpha``, ``curvature/test/gauss_newton/whole/residual``, ...); a value is
None where the record holds no finite number (absent, or stored as null because not finite).
The loss plane is a figure; only the seconds it took are a scalar (``geometry/plane/seconds``).
"""

import math

from ridgeline.landscape.results import GaussNewtonRecord
from ridgeline.records.probe_record import PairResults, ProbeRecord

BARRIER_KINDS = ("midpoint", "chord", "endpoint_mean")
CURVATURE_KEYS = (
    "predicted_barrier",
    "dHd_mid",
    "curvature_mid",
    "grad_dot_delta_mid",
    "endpoint_expansion",
    "cross_layer_remainder",
    "delta_norm",
)
GEOMETRY_KEYS = ("angle_deg", "dist_ab", "dist_as", "dist_bs")
ALIGNMENT_KEYS = ("dist_before", "dist_after", "seconds")
RIDGE_KEYS = ("alpha", "height", "dHd", "curvature", "predicted_height", "grad_dot_delta")
GAUSS_NEWTON_KEYS = ("total", "gauss_newton", "residual")


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def min_layer_gauss_newton(rec: GaussNewtonRecord) -> float | None:
    """min over layers ℓ of Δ_ℓᵀG_ℓℓΔ_ℓ (≥ 0 up to rounding; None without finite layers)."""
    values = [x.gauss_newton for x in rec.layers if math.isfinite(x.gauss_newton)]
    return min(values) if values else None


def pair_prefix(record: ProbeRecord) -> str:
    """'' for pair (0, 1), else 'pair_i_j/': plain keys for the usual two children."""
    if record.pair is None or record.pair == (0, 1):
        return ""
    return f"pair_{record.pair[0]}_{record.pair[1]}/"


def _pair_scalars(results: PairResults, prefix: str) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for split, barrier in results.barrier.items():
        for quantity in ("loss", "error"):
            values = getattr(barrier, f"{quantity}_barrier")
            for kind in BARRIER_KINDS:
                out[f"{prefix}barrier/{split}/{quantity}/{kind}"] = _finite(getattr(values, kind))
            curve = getattr(barrier, quantity)
            if curve:
                out[f"{prefix}endpoints/{split}/{quantity}_a"] = _finite(curve[0])
                out[f"{prefix}endpoints/{split}/{quantity}_b"] = _finite(curve[-1])
    for split, curvature in results.curvature.items():
        for key in CURVATURE_KEYS:
            out[f"{prefix}curvature/{split}/{key}"] = _finite(getattr(curvature, key))
        for layer in curvature.layers:
            key = f"{prefix}curvature/{split}/layer/{layer.name}/predicted_barrier"
            out[key] = _finite(layer.predicted_barrier)
    for split, eig in results.top_eigenvalue.items():
        out[f"{prefix}curvature/{split}/top_eigenvalue_mid"] = _finite(eig.eigenvalue)
    for split, layerwise in results.layerwise.items():
        for entry in layerwise.entries:
            if entry.kind != "layer":
                continue
            base = f"{prefix}layerwise/{split}/{entry.name}/{entry.direction}"
            out[f"{base}/loss_mid_own"] = _finite(entry.loss_mid_own)
            out[f"{base}/loss_mid_orig"] = _finite(entry.loss_mid_orig)
            out[f"{base}/error_mid_own"] = _finite(entry.error_mid_own)
    for split, ridge in results.ridge.items():
        for key in RIDGE_KEYS:
            out[f"{prefix}barrier/{split}/ridge/{key}"] = _finite(getattr(ridge, key))
        out[f"{prefix}barrier/{split}/ridge/is_ridge"] = float(ridge.is_ridge)
    for split, gn in results.gauss_newton.items():
        base = f"{prefix}curvature/{split}/gauss_newton"
        for where, part in [("whole", gn.whole), *((f"layer/{x.name}", x) for x in gn.layers)]:
            for key in GAUSS_NEWTON_KEYS:
                out[f"{base}/{where}/{key}"] = _finite(getattr(part, key))
        out[f"{base}/min_layer_gauss_newton"] = min_layer_gauss_newton(gn)
    return out


def scalar_metrics(record: ProbeRecord) -> dict[str, float | None]:
    """Every scalar of a record under a '/'-separated key, e.g. barrier/test/error/endpoint_mean."""
    prefix = pair_prefix(record)
    out = _pair_scalars(record, prefix)
    if record.plane is not None:
        out[f"{prefix}geometry/plane/seconds"] = _finite(record.plane.seconds)
    if record.geometry is not None:
        for key in GEOMETRY_KEYS:
            out[f"{prefix}geometry/{key}"] = _finite(getattr(record.geometry, key))
    elif record.dist_ab is not None:  # independent children: no spawn point, only ‖θ_A − θ_B‖
        out[f"{prefix}geometry/dist_ab"] = _finite(record.dist_ab)
    for split, profiles in record.profiles.items():
        for child, profile in profiles.items():
            out[f"{prefix}geometry/{split}/profile_{child}/bump"] = _finite(profile.bump)
    if record.probe == "parent":
        out["parent/distance_from_init"] = _finite(record.parent_distance)
        for split, profile in record.parent_profiles.items():
            out[f"parent/{split}/profile/bump"] = _finite(profile.bump)
            if profile.loss:
                out[f"parent/{split}/loss"] = _finite(profile.loss[-1])
    if record.aligned is not None:  # the same pair after permutation alignment of θ_B to θ_A
        for key, value in _pair_scalars(record.aligned, "").items():
            out[f"{prefix}aligned/{key}"] = value
        how = record.aligned.alignment
        for key in ALIGNMENT_KEYS:
            out[f"{prefix}aligned/{key}"] = _finite(getattr(how, key)) if how else None
    return out
