"""Moved to :mod:`ridgeline.job.ranks`."""

from ridgeline._shim import forward

__getattr__ = forward(__name__, "ridgeline.job.ranks")
