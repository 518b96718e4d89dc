"""Loggers for one training phase: W&B (offline when not logged in), CSV, or none."""

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict
from pytorch_lightning.loggers import Logger, WandbLogger

from ridgeline.wandb_upload import log_tables_and_figures, offline_mode, run_id, wandb_nodes


def build_loggers(
    cfg: DictConfig | None, run_dir: Path, phase: str, job_type: str, group: str
) -> list[Logger]:
    """Instantiate every logger under ``cfg`` for one phase with its own name and W&B run."""
    loggers: list[Logger] = []
    for node in (cfg or {}).values():
        if not isinstance(node, DictConfig) or "_target_" not in node:
            continue
        node = node.copy()
        if "WandbLogger" in node._target_:
            with open_dict(node):
                node.offline = offline_mode(node)
                node.name = f"{node.get('name') or run_dir.name}/{phase}"
                node.group = node.get("group") or group
                node.job_type = job_type
                node.id = run_id(run_dir, phase)
                node.resume = "allow"
                node.save_dir = str(run_dir)
        elif "save_dir" in node:
            with open_dict(node):
                node.save_dir = str(run_dir / phase)
        loggers.append(instantiate(node))
    return loggers


def finish_loggers(loggers: list[Logger]) -> None:
    """Close W&B runs so the next phase (or sweep job) logs into its own run."""
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            if logger._experiment is not None:  # never start a run just to close it
                logger._experiment.finish()
        else:
            logger.finalize("success")


def log_run_summary(
    cfg: DictConfig | None, run_dir: Path, group: str, rows: list[dict], figures: list[Path]
) -> None:
    """The end-of-run table and figures as one more W&B run (job_type "summary") of the group."""
    for node in wandb_nodes(cfg):
        log_tables_and_figures(
            node, run_dir, run_dir.name, group, "summary", {"summary/table": rows}, figures
        )
