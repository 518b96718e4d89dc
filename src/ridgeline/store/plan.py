"""Moved to :mod:`ridgeline.job.plan`."""

from ridgeline._shim import forward

__getattr__ = forward(__name__, "ridgeline.job.plan")
