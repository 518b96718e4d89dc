"""The checks of ``ridgeline-train`` that need neither torch nor Lightning, run before those are
imported: a schema typo (``probe.bn_policy=foo``, ``spawn.at=[1.5]``), a key nothing reads or
an option set for a component that is switched off fails in about a second, before anything is
computed or written beside Hydra's own files. (The environment is checked before Hydra starts:
:func:`ridgeline.config.env.check_env`.)
"""

from omegaconf import DictConfig, OmegaConf

from ridgeline.config.rules import check_keys, check_switched_off, check_values
from ridgeline.config.settings import read_settings


def command_line_overrides() -> list[str]:
    """The job's overrides as typed (Hydra's ``overrides.task``); none outside a Hydra job."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    task = OmegaConf.to_container(HydraConfig.get().overrides.task, resolve=False)
    return [str(o) for o in task] if isinstance(task, list) else []


def check_schema(cfg: DictConfig, overrides: list[str] | None = None) -> None:
    """Keys, the schema's types and choices, options of switched-off components (set by
    ``overrides``, default: the job's command line); ConfigError on the first problem."""
    check_keys(cfg)
    check_switched_off(cfg, command_line_overrides() if overrides is None else overrides)
    check_values(read_settings(cfg))
