"""Moved to :mod:`ridgeline.store.run` (``ridgeline.load_run`` is unchanged)."""

from ridgeline._shim import forward

__getattr__ = forward(__name__, "ridgeline.store.run")
