"""Moved to :mod:`ridgeline.job.validate`."""

from ridgeline._shim import forward

__getattr__ = forward(__name__, "ridgeline.job.validate")
