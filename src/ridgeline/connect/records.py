"""Moved to :mod:`ridgeline.connect.bent_path_record`."""

from ridgeline._shim import forward

__getattr__ = forward(__name__, "ridgeline.connect.bent_path_record")
