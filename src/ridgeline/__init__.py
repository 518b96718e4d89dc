"""ridgeline: linear mode connectivity and loss-landscape topography (Hydra + PyTorch Lightning).

``ridgeline.load_run(run_dir)`` reads a run of ``ridgeline-train`` back (see
:mod:`ridgeline.job.run`).
It is imported on first use (PEP 562), so that ``import ridgeline.<module>`` stays light.
"""

from typing import Any

__all__ = ["load_run"]


def __getattr__(name: str) -> Any:
    if name == "load_run":
        from ridgeline.job.run import load_run

        return load_run
    raise AttributeError(f"module 'ridgeline' has no attribute {name!r}")
