"""What one ``ridgeline-train`` job is: its plan, its checks, its run dir's resume policy, its
ranks under DDP, the parent store it shares, and ``load_run`` to read a finished job back.

``from ridgeline.job import load_run`` (also ``ridgeline.load_run``) reads a run dir.
The names below are imported on first use (PEP 562): ``import ridgeline.job.validate`` then
checks a config without importing Lightning.
"""

from typing import TYPE_CHECKING

from ridgeline._shim import on_first_use

if TYPE_CHECKING:
    from ridgeline.job.plan import Phase as Phase
    from ridgeline.job.plan import RunPlan as RunPlan
    from ridgeline.job.plan import make_plan as make_plan
    from ridgeline.job.run import LoadedPhase as LoadedPhase
    from ridgeline.job.run import LoadedRun as LoadedRun
    from ridgeline.job.run import load_run as load_run

# Each exported name and the module that defines it.
_HOMES = {
    "Phase": "ridgeline.job.plan",
    "RunPlan": "ridgeline.job.plan",
    "make_plan": "ridgeline.job.plan",
    "LoadedPhase": "ridgeline.job.run",
    "LoadedRun": "ridgeline.job.run",
    "load_run": "ridgeline.job.run",
}
__all__ = sorted(_HOMES)
__getattr__ = on_first_use(__name__, _HOMES)
