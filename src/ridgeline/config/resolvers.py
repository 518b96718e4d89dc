"""OmegaConf resolvers for configs: ${logspace:first,last,count}, ${linspace:lo,hi,count},
${launch_id:default} (the run dir name every process of one launch agrees on) and
${launch_cwd:} (the directory the command started in)."""

import os

from omegaconf import OmegaConf

from ridgeline.config.steps import log_spaced_steps

LINSPACE = "${linspace:lo,hi,count} with numbers lo < hi and an integer count >= 2"
LOGSPACE = "${logspace:first,last,count} with integers 1 <= first <= last and count >= 1"


class ResolverError(ValueError):
    """Bad arguments of a resolver; the message says what it takes (read by schema_errors)."""


def _arguments(usage: str, args: tuple, kinds: tuple[type, ...]) -> list:
    """``args`` as ``kinds`` (an int is a whole number: 3 or 3.0, not 2.5 or 'x')."""
    if len(args) != len(kinds):
        raise ResolverError(f"{usage}; got {len(args)} argument(s)")
    out = []
    for arg, kind in zip(args, kinds, strict=True):
        try:
            value = float(arg) if not isinstance(arg, bool) else None
        except (TypeError, ValueError):
            value = None
        if value is None or value != value or (kind is int and not value.is_integer()):
            raise ResolverError(
                f"{usage}; {arg!r} is not {'an integer' if kind is int else 'a number'}"
            )
        out.append(int(value) if kind is int else value)
    return out


def linspace(*args: object) -> list[float]:
    """``count`` evenly spaced values from lo to hi, both included (an α-grid)."""
    lo, hi, count = _arguments(LINSPACE, args, (float, float, int))
    if count < 2 or not lo < hi:
        raise ResolverError(f"{LINSPACE}; got {lo}, {hi}, {count}")
    return [round(lo + (hi - lo) * i / (count - 1), 10) for i in range(count)]


def logspace(*args: object) -> list[int]:
    """0 and ``count`` log-spaced integer steps from first to last (spawn points)."""
    first, last, count = _arguments(LOGSPACE, args, (int, int, int))
    if first < 1 or last < first or count < 1:
        raise ResolverError(f"{LOGSPACE}; got {first}, {last}, {count}")
    return log_spaced_steps(first, last, count)


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


def launch_cwd() -> str:
    """The directory the command was started in: Hydra's ``runtime.cwd`` inside a job, the
    process's own before Hydra has set its config (a multirun resolving its sweep dir, where
    ``${hydra:runtime.cwd}`` fails)."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return HydraConfig.get().runtime.cwd
    return os.getcwd()


def register_resolvers() -> None:
    """Register once; safe to call again."""
    if not OmegaConf.has_resolver("logspace"):
        OmegaConf.register_new_resolver("logspace", logspace)
    if not OmegaConf.has_resolver("linspace"):
        OmegaConf.register_new_resolver("linspace", linspace)
    if not OmegaConf.has_resolver("launch_cwd"):
        OmegaConf.register_new_resolver("launch_cwd", launch_cwd)
    if not OmegaConf.has_resolver("launch_id"):
        OmegaConf.register_new_resolver("launch_id", launch_id, use_cache=True)
