"""Probe callbacks: :class:`LandscapeProbe` (when to probe, where records go) and one module per
component (what to compute), each registered under its config key and record key
(:func:`register_probe`, :func:`list_probes`): ``probe.barrier`` is :class:`BarrierProbe` in
:mod:`.barrier`, and so on."""

from ridgeline.probes.aligned import AlignedPair
from ridgeline.probes.barrier import BarrierProbe
from ridgeline.probes.callback import LandscapeProbe, build_probe_callbacks
from ridgeline.probes.component import PairComponent, ProbeContext
from ridgeline.probes.curvature import CurvatureProbe
from ridgeline.probes.geometry import GeometryProbe
from ridgeline.probes.layerwise import LayerwiseProbe
from ridgeline.probes.parent import ParentProbe
from ridgeline.probes.registry import list_probes, register_probe

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
