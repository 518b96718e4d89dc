"""Moved to :mod:`ridgeline.job.run`."""

from ridgeline._shim import forward

__getattr__ = forward(__name__, "ridgeline.job.run")
