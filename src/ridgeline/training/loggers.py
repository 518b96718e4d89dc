"""Loggers for one training phase: W&B (offline when not logged in), CSV, or none."""

import hashlib
import os
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict
from pytorch_lightning.loggers import Logger, WandbLogger


def wandb_logged_in() -> bool:
    """True when W&B credentials exist (env var or netrc); decides the automatic offline mode."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        import netrc

        rc = netrc.netrc()
        return any("wandb" in host for host in rc.hosts)
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def run_id(run_dir: Path, phase: str) -> str:
    """A W&B run id derived from the run dir and phase, so a resumed job finds its own run."""
    return hashlib.sha1(f"{run_dir.resolve()}|{phase}".encode()).hexdigest()[:16]


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
                if node.get("offline") is None:
                    node.offline = os.environ.get("WANDB_MODE") == "offline" or not (
                        wandb_logged_in()
                    )
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
    for node in (cfg or {}).values():
        if not isinstance(node, DictConfig) or "WandbLogger" not in node.get("_target_", ""):
            continue
        import wandb

        offline = node.get("offline")
        if offline is None:
            offline = os.environ.get("WANDB_MODE") == "offline" or not wandb_logged_in()
        run = wandb.init(
            project=node.get("project"),
            entity=node.get("entity"),
            dir=str(run_dir),
            name=f"{node.get('name') or run_dir.name}/summary",
            group=node.get("group") or group,
            job_type="summary",
            id=run_id(run_dir, "summary"),
            resume="allow",
            mode="offline" if offline else "online",
        )
        if rows:
            columns = list(rows[0])
            run.log(
                {
                    "summary/table": wandb.Table(
                        columns=columns, data=[[str(r[c]) for c in columns] for r in rows]
                    )
                }
            )
        for path in figures:
            run.log({f"figures/{path.stem}": wandb.Image(str(path))})
        run.finish()
