"""Moved to :mod:`ridgeline.records.probe_record`."""

from ridgeline._shim import forward

__getattr__ = forward(__name__, "ridgeline.records.probe_record")
