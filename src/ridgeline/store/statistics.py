"""Moved to :mod:`ridgeline.records.statistics`."""

from ridgeline._shim import forward

__getattr__ = forward(__name__, "ridgeline.records.statistics")
