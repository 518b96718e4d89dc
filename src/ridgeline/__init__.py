"""ridgeline: linear mode connectivity and loss-landscape topography (Hydra + PyTorch Lightning).

``ridgeline.load_run(run_dir)`` reads a run of ``ridgeline-train`` back (see
:mod:`ridgeline.job.run`).
It is imported on first use (PEP 562), so that ``import ridgeline.<module>`` stays light.
"""

from ridgeline._shim import on_first_use

__all__ = ["load_run"]
__getattr__ = on_first_use(__name__, {"load_run": "ridgeline.job.run"})
