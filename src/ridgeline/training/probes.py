"""Moved to :mod:`ridgeline.probes`; kept so configs with ``ridgeline.training.probes.<Class>``
``_target_``s still build."""

from ridgeline._shim import forward

__getattr__ = forward(__name__, "ridgeline.probes")
