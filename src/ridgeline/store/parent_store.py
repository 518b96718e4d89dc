"""Moved to :mod:`ridgeline.job.parent_store`."""

from ridgeline._shim import forward

__getattr__ = forward(__name__, "ridgeline.job.parent_store")
