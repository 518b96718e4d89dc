"""Loggers for one training phase: W&B (offline when not logged in), CSV, or none."""

from pathlib import Path
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict
from pytorch_lightning.loggers import Logger, WandbLogger
from pytorch_lightning.utilities import rank_zero_only

from ridgeline.tracking.console import route_wandb_terminal
from ridgeline.tracking.run_config import run_config, run_label, run_tags
from ridgeline.tracking.wandb_keys import SUMMARY_TABLE
from ridgeline.tracking.wandb_osh import OSH_KEYS, SyncTrigger, sync_trigger
from ridgeline.tracking.wandb_upload import (
    log_tables_and_figures,
    offline_mode,
    run_id,
    wandb_nodes,
)

if TYPE_CHECKING:
    from ridgeline.job.plan import Phase

# The wandb-osh trigger of each W&B logger built with ``osh: true``.
_SYNC_TRIGGERS: "WeakKeyDictionary[Logger, SyncTrigger]" = WeakKeyDictionary()


def build_loggers(cfg: DictConfig, run_dir: Path, phase: "Phase", group: str) -> list[Logger]:
    """Every logger under ``cfg.logger`` for one phase, each given the full run config.

    A W&B run is named ``<group>[#job point]/<phase>``, tagged with task and experiment, of
    job type ``phase.kind``, with an id derived from run dir and phase (a resumed job finds it).
    """
    loggers: list[Logger] = []
    for node in (cfg.get("logger") or {}).values():
        if not isinstance(node, DictConfig) or "_target_" not in node:
            continue
        node = node.copy()
        trigger = None
        if "WandbLogger" in node._target_:
            trigger = sync_trigger(node)
            with open_dict(node):
                for key in OSH_KEYS:
                    node.pop(key, None)
                node.offline = trigger is not None or offline_mode(node)
                node.name = f"{node.get('name') or run_label(group)}/{phase.name}"
                node.group = node.get("group") or group
                node.job_type = phase.kind
                node.tags = list(dict.fromkeys([*(node.get("tags") or []), *run_tags(cfg)]))
                node.id = run_id(run_dir, phase.name)
                node.resume = "allow"
                node.save_dir = str(run_dir)
            if rank_zero_only.rank == 0:  # type: ignore[attr-defined]  # set by Lightning
                route_wandb_terminal(bool(node.offline))
        elif "save_dir" in node:
            with open_dict(node):
                node.save_dir = str(run_dir / phase.name)
        logger = instantiate(node)
        if trigger is not None:
            _SYNC_TRIGGERS[logger] = trigger
        loggers.append(logger)
    config = run_config(cfg, phase)
    for logger in loggers:
        logger.log_hyperparams(config)
    return loggers


def request_sync(logger: Logger) -> None:
    """Leave a wandb-osh sync trigger for the logger's offline run (no-op without ``osh``)."""
    trigger = _SYNC_TRIGGERS.get(logger)
    run = getattr(logger, "_experiment", None)  # None on ranks > 0 and before the run starts
    if trigger is not None and run is not None:
        trigger(Path(run.dir).parent)  # run.dir is <offline run dir>/files


def finish_loggers(loggers: list[Logger]) -> None:
    """Close W&B runs so the next phase (or sweep job) logs into its own run."""
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            if logger._experiment is not None:  # never start a run just to close it
                logger._experiment.finish()
                request_sync(logger)
        else:
            logger.finalize("success")


def log_run_summary(
    cfg: DictConfig, run_dir: Path, group: str, rows: list[dict], figures: list[Path]
) -> None:
    """The end-of-run table and figures as one more W&B run (job_type "summary") of the group."""
    for node in wandb_nodes(cfg.get("logger")):
        log_tables_and_figures(
            node,
            run_dir,
            run_label(group),
            group,
            "summary",
            {SUMMARY_TABLE: rows},
            figures,
            config=run_config(cfg, None),
            tags=run_tags(cfg),
        )
