"""Moved to :mod:`ridgeline.store.record_store`."""

from ridgeline._shim import forward

__getattr__ = forward(__name__, "ridgeline.store.record_store")
