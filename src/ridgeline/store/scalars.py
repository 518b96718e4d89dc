"""The scalar view of a probe record: the one naming used by loggers, tables and CSVs."""

from typing import Any

BARRIER_KINDS = ("midpoint", "chord", "endpoint_mean")
TAYLOR_KEYS = (
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


def pair_prefix(record: dict[str, Any]) -> str:
    """'' for pair (0, 1), else 'pair_i_j/': plain keys for the usual two children."""
    pair = record.get("pair")
    if not pair or list(pair) == [0, 1]:
        return ""
    return f"pair_{pair[0]}_{pair[1]}/"


def scalar_metrics(record: dict[str, Any]) -> dict[str, float | None]:
    """Every scalar of a record under a '/'-separated key, e.g. barrier/test/error/endpoint_mean."""
    out: dict[str, float | None] = {}
    prefix = pair_prefix(record)
    for split, rec in (record.get("barrier") or {}).items():
        for quantity in ("loss", "error"):
            values = rec.get(f"{quantity}_barrier") or {}
            for kind in BARRIER_KINDS:
                out[f"{prefix}barrier/{split}/{quantity}/{kind}"] = values.get(kind)
            curve = rec.get(quantity) or []
            if curve:
                out[f"{prefix}endpoints/{split}/{quantity}_a"] = curve[0]
                out[f"{prefix}endpoints/{split}/{quantity}_b"] = curve[-1]
    for split, rec in (record.get("taylor") or {}).items():
        for key in TAYLOR_KEYS:
            if key in rec:
                out[f"{prefix}taylor/{split}/{key}"] = rec[key]
        for layer in rec.get("layers") or []:
            out[f"{prefix}taylor/{split}/layer/{layer['name']}/predicted_barrier"] = layer[
                "predicted_barrier"
            ]
        eig = rec.get("top_eigenvalue_mid")
        if eig:
            out[f"{prefix}taylor/{split}/top_eigenvalue_mid"] = eig.get("eigenvalue")
    for split, rec in (record.get("layerwise") or {}).items():
        for entry in rec.get("entries") or []:
            if entry.get("kind") != "layer":
                continue
            base = f"{prefix}layerwise/{split}/{entry['name']}/{entry['direction']}"
            out[f"{base}/loss_mid_own"] = entry.get("loss_mid_own")
            out[f"{base}/loss_mid_orig"] = entry.get("loss_mid_orig")
            out[f"{base}/error_mid_own"] = entry.get("error_mid_own")
    geometry = record.get("geometry") or {}
    for key in GEOMETRY_KEYS:
        if key in geometry:
            out[f"{prefix}geometry/{key}"] = geometry[key]
    for split, profiles in (geometry.get("profiles") or {}).items():
        for child, profile in profiles.items():
            out[f"{prefix}geometry/{split}/profile_{child}/bump"] = profile.get("bump")
    parent = record.get("parent") or {}
    if parent:
        out["parent/distance_from_init"] = parent.get("distance_from_init")
        for split, profile in (parent.get("profiles") or {}).items():
            out[f"parent/{split}/profile/bump"] = profile.get("bump")
            losses = profile.get("loss") or []
            if losses:
                out[f"parent/{split}/loss"] = losses[-1]
    aligned = record.get("aligned")
    if aligned:  # the same pair after permutation alignment of θ_B to θ_A
        for key, value in scalar_metrics(aligned).items():
            out[f"{prefix}aligned/{key}"] = value
        how = aligned.get("alignment") or {}
        for key in ALIGNMENT_KEYS:
            out[f"{prefix}aligned/{key}"] = how.get(key)
    return out
