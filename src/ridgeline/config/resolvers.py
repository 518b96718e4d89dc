"""OmegaConf resolvers for configs: ${logspace:first,last,count}, ${linspace:lo,hi,count} and
${launch_id:default} (the run dir name every process of one launch agrees on)."""

import os

from omegaconf import OmegaConf

from ridgeline.config.steps import log_spaced_steps


def linspace(lo: float, hi: float, count: int) -> list[float]:
    """``count`` evenly spaced values from lo to hi, both included (an α-grid)."""
    count = int(count)
    if count < 2:
        raise ValueError(f"linspace needs count >= 2, got {count}")
    return [round(lo + (hi - lo) * i / (count - 1), 10) for i in range(count)]


def launch_id(default: str) -> str:
    """The id of a multi-process launch, shared by all its processes, else ``default``.

    torchrun and srun start every rank with its own clock, so a time-stamped run dir could differ
    between ranks; they share the rendezvous id (torchrun) or the job and step ids (SLURM, kept
    by a requeued job, which therefore resumes in its own run dir). Read from the launchers'
    variables because Hydra resolves the run dir before anything else runs.
    """
    if "TORCHELASTIC_RUN_ID" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return f"torchrun-{os.environ['TORCHELASTIC_RUN_ID']}"
    if "SLURM_JOB_ID" in os.environ and int(os.environ.get("SLURM_NTASKS", "1")) > 1:
        step = os.environ.get("SLURM_STEP_ID")
        return f"slurm-{os.environ['SLURM_JOB_ID']}" + (f".{step}" if step else "")
    return default


def register_resolvers() -> None:
    """Register once; safe to call again."""
    if not OmegaConf.has_resolver("logspace"):
        OmegaConf.register_new_resolver(
            "logspace",
            lambda first, last, count: log_spaced_steps(int(first), int(last), int(count)),
        )
    if not OmegaConf.has_resolver("linspace"):
        OmegaConf.register_new_resolver("linspace", linspace)
    if not OmegaConf.has_resolver("launch_id"):
        OmegaConf.register_new_resolver("launch_id", launch_id, use_cache=True)
