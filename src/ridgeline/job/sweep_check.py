"""A multirun checked whole before its first job starts (Hydra callback ``on_multirun_start``,
:class:`ridgeline.cli.train.CheckSweep`).

Without it, ``ridgeline-train -m probe.geometry.plane_resolution=11,0`` trains job 0 to the end
and only then reports job 1's config. Here, in the launching process and before the launcher
starts anything (no sweep dir, no ``multirun.yaml`` yet), the sweep's overrides are expanded
into its jobs as Hydra's basic sweeper expands them, each job's config is composed as the job
will see it, and the checks that need only the config run on each
(:func:`ridgeline.config.precheck.check_schema`, :func:`ridgeline.job.validate.validate_config`).
The first problem ends the sweep with one line naming the job and its overrides, exit 2; a
sweep of no job (``seed=range(0)``) is refused too. Checks that need the data or the run dir
still run inside each job.
"""

from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from ridgeline.errors import ConfigError, RidgelineError


def sweep_jobs(overrides: list[str]) -> list[list[str]]:
    """Each job's overrides, in launch order, as Hydra's basic sweeper expands ``overrides``."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


def job_config(config_name: str, overrides: list[str], num: int, sweep_dir: str) -> DictConfig:
    """Job ``num``'s config as its task function gets it (Hydra's node set, then removed)."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra = GlobalHydra.instance().hydra
    assert hydra is not None, "called inside a Hydra application"
    cfg = hydra.compose_config(config_name, overrides, run_mode=RunMode.MULTIRUN)
    with open_dict(cfg):
        cfg.hydra.job.num = num
        cfg.hydra.job.override_dirname = ""
        cfg.hydra.runtime.output_dir = str(Path(sweep_dir) / str(num))
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def check_sweep(config: DictConfig, config_name: str) -> None:
    """Every job of the sweep passes the config checks; ConfigError naming the first that
    does not (its number and overrides)."""
    from hydra.core.hydra_config import HydraConfig

    from ridgeline.config.precheck import check_schema
    from ridgeline.job.validate import validate_config

    typed = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    task = [str(o) for o in typed] if isinstance(typed, list) else []
    jobs = sweep_jobs(task)
    if not jobs:
        raise ConfigError(
            "-m", " ".join(task), "a sweep of at least one job (a sweep over an empty range?)"
        )
    if len(jobs) < 2:
        return  # the job checks itself before any compute
    sweep_dir = str(OmegaConf.select(config, "hydra.sweep.dir"))
    saved = HydraConfig.instance().cfg
    try:
        for num, overrides in enumerate(jobs):
            try:
                cfg = job_config(config_name, overrides, num, sweep_dir)
                check_schema(cfg, overrides)
                validate_config(cfg)
            except RidgelineError as exc:
                raise RidgelineError(
                    f"sweep job {num} ({' '.join(overrides)}): {exc}; no job was started"
                ) from None
    finally:
        HydraConfig.instance().cfg = saved
