"""What one ``ridgeline-train`` job is: its plan, its checks, its run dir's resume policy, its
ranks under DDP, the parent store it shares, and ``load_run`` to read a finished job back.

``from ridgeline.job import load_run`` (also ``ridgeline.load_run``) reads a run dir.
"""

from ridgeline.job.plan import Phase, RunPlan, make_plan
from ridgeline.job.run import LoadedPhase, LoadedRun, load_run

__all__ = ["LoadedPhase", "LoadedRun", "Phase", "RunPlan", "load_run", "make_plan"]
