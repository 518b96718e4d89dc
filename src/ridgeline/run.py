"""Moved to :mod:`ridgeline.job.run` (``ridgeline.load_run`` is unchanged)."""

from ridgeline._shim import forward

__getattr__ = forward(__name__, "ridgeline.job.run")
