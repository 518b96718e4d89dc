"""What every W&B run of a job records: config, phase, environment, sweep point, name and tags.

The resolved Hydra config goes in as nested keys, so the dashboard filters and groups runs by
``optim.lr``, ``model.name``, ``spawn.at`` or ``seed``; ``phase.*`` says which phase (kind,
spawn step, child seeds) and ``sweep.*`` which keys the sweep varies and this job's values.
"""

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from ridgeline.tracking.environment import run_environment

if TYPE_CHECKING:
    from ridgeline.job.plan import Phase


def _multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def sweep_point() -> dict[str, Any] | None:
    """The sweep's varying keys and this job's values of them; None outside a multirun.

    The sweep's own overrides (e.g. ``seed=0,1 spawn.at=0,10``) are in the sweep dir's
    ``multirun.yaml``, which Hydra writes before it launches any job.
    """
    if not _multirun():
        return None
    hc = HydraConfig.get()
    parser = OverridesParser.create()
    sweep_file = Path(hc.sweep.dir) / "multirun.yaml"
    sweep_overrides: list[str] = []
    if sweep_file.exists():  # written by Hydra's basic sweeper (the one ridgeline uses)
        sweep_cfg = OmegaConf.load(sweep_file)
        sweep_overrides += list(sweep_cfg.hydra.overrides.task)
        params = sweep_cfg.hydra.sweeper.get("params") or {}
        sweep_overrides += [f"{k}={v}" for k, v in params.items()]
    varying = sorted(
        {
            o.get_key_element()
            for o in parser.parse_overrides(sweep_overrides)
            if o.is_sweep_override()
        }
    )
    job = {
        o.get_key_element(): o.get_value_element_as_str()
        for o in parser.parse_overrides(list(hc.overrides.task))
    }
    values = {key: job.get(key) for key in varying}
    return {
        "name": Path(hc.sweep.dir).name,
        "job": int(hc.job.num),
        "varying": varying,
        "point": " ".join(f"{k}={v}" for k, v in values.items()),
    }


def run_config(cfg: DictConfig, phase: "Phase | None") -> dict[str, Any]:
    """The resolved config as nested keys, plus ``phase``, ``environment`` and ``sweep``."""
    container = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(container, dict)
    config = cast(dict[str, Any], container)  # a composed config's keys are strings
    config["environment"] = run_environment()
    if phase is not None:
        config["phase"] = {**asdict(phase), "step_offset": phase.step_offset}
    sweep = sweep_point()
    if sweep is not None:
        config["sweep"] = sweep
    return config


def run_label(group: str) -> str:
    """The first part of a job's run names: the group, and in a sweep the job and its point."""
    sweep = sweep_point()
    if sweep is None:
        return group
    return f"{group}#{sweep['job']} {sweep['point']}".strip()


def run_tags(cfg: DictConfig) -> list[str]:
    """The task name and the experiment chosen (``experiment=...``), without repeats."""
    tags = [str(cfg.task_name or "")]
    if HydraConfig.initialized():
        tags.append(str(HydraConfig.get().runtime.choices.get("experiment") or ""))
    return list(dict.fromkeys(t for t in tags if t))
