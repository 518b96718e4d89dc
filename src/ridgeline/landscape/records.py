"""Moved to :mod:`ridgeline.landscape.results` (``CurveRecord`` is now ``BentPathRecord``)."""

from typing import Any

from ridgeline._shim import forward
from ridgeline.landscape._moved import moved_names

_forward = forward(__name__, "ridgeline.landscape.results")
_renamed = moved_names(
    __name__,
    {
        "CurveRecord": "ridgeline.landscape.results:BentPathRecord",
        "CurveFitRecord": "ridgeline.landscape.results:BentPathFitRecord",
    },
)


def __getattr__(name: str) -> Any:
    return _renamed(name) if name in ("CurveRecord", "CurveFitRecord") else _forward(name)
