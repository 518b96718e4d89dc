"""Probe callbacks: :class:`LandscapeProbe` (when to probe, where records go) and one module per
component (what to compute), each registered under its config key and record key
(:func:`register_probe`, :func:`list_probes`): ``probe.barrier`` is :class:`BarrierProbe` in
:mod:`.barrier`, and so on.

The callback (:class:`LandscapeProbe`, :func:`build_probe_callbacks`) is imported on first use
(PEP 562): the components alone are what ``ridgeline-train`` builds to check a config, before it
imports Lightning."""

from typing import TYPE_CHECKING

from ridgeline._shim import on_first_use
from ridgeline.probes.aligned import AlignedPair
from ridgeline.probes.barrier import BarrierProbe
from ridgeline.probes.component import PairComponent, ProbeContext
from ridgeline.probes.curvature import CurvatureProbe
from ridgeline.probes.geometry import GeometryProbe
from ridgeline.probes.layerwise import LayerwiseProbe
from ridgeline.probes.parent import ParentProbe
from ridgeline.probes.registry import list_probes, register_probe

if TYPE_CHECKING:
    from ridgeline.probes.callback import LandscapeProbe, build_probe_callbacks

__all__ = [
    "AlignedPair",
    "BarrierProbe",
    "CurvatureProbe",
    "GeometryProbe",
    "LandscapeProbe",
    "LayerwiseProbe",
    "PairComponent",
    "ParentProbe",
    "ProbeContext",
    "build_probe_callbacks",
    "list_probes",
    "register_probe",
]

_CALLBACK = "ridgeline.probes.callback"  # imports Lightning
__getattr__ = on_first_use(
    __name__, {"LandscapeProbe": _CALLBACK, "build_probe_callbacks": _CALLBACK}
)
