"""Moved to :mod:`ridgeline.report.bent_path_figure`."""

from ridgeline._shim import forward

__getattr__ = forward(__name__, "ridgeline.report.bent_path_figure")
