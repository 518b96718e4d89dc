"""Moved to :mod:`ridgeline.landscape.bent_paths`, its names renamed from curve to bent path."""

from typing import Any

from ridgeline._shim import forward
from ridgeline.landscape._moved import moved_names

_NEW = "ridgeline.landscape.bent_paths"
RENAMED = {
    "CURVE_KINDS": "BENT_PATH_KINDS",
    "CurveLoss": "BentPathLoss",
    "CurveFit": "BentPathFit",
    "curve_coefficients": "bent_path_coefficients",
    "curve_point": "bent_path_point",
    "curve_points": "bent_path_points",
    "fit_curve": "fit_bent_path",
    "curve_barrier": "bent_path_barrier",
    "curve_barrier_fn": "bent_path_barrier_fn",
    "network_curve_loss": "network_bent_path_loss",
}
_forward = forward(__name__, _NEW)
_renamed = moved_names(__name__, {old: f"{_NEW}:{new}" for old, new in RENAMED.items()})


def __getattr__(name: str) -> Any:
    return _renamed(name) if name in RENAMED else _forward(name)
