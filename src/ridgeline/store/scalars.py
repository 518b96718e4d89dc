"""Moved to :mod:`ridgeline.records.scalars`."""

from ridgeline._shim import forward

__getattr__ = forward(__name__, "ridgeline.records.scalars")
