"""Tables and figures as one W&B run of their own, from a logger config (no Lightning import).

The training run logs its end-of-run summary this way (job_type "summary") and
``ridgeline-report`` logs the report (job_type "report"). Offline when not logged in.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ridgeline.tracking.console import route_wandb_terminal
from ridgeline.tracking.wandb_osh import sync_trigger

WANDB_TARGET = "WandbLogger"


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


def offline_mode(node: Mapping[str, Any]) -> bool:
    """The logger's ``offline`` key, or automatic: offline under WANDB_MODE=offline or no login."""
    offline = node.get("offline")
    if offline is None:
        return os.environ.get("WANDB_MODE") == "offline" or not wandb_logged_in()
    return bool(offline)


def run_id(run_dir: Path, phase: str) -> str:
    """A W&B run id derived from the run dir and phase, so a resumed job finds its own run."""
    return hashlib.sha1(f"{Path(run_dir).resolve()}|{phase}".encode()).hexdigest()[:16]


def wandb_nodes(logger_cfg: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The W&B logger entries of a ``logger`` config group (DictConfig or plain dict)."""
    return [
        node
        for node in (logger_cfg or {}).values()
        if isinstance(node, Mapping) and WANDB_TARGET in str(node.get("_target_", ""))
    ]


def log_tables_and_figures(
    node: Mapping[str, Any],
    save_dir: Path,
    name: str,
    group: str,
    job_type: str,
    tables: Mapping[str, list[dict[str, Any]]],
    figures: Iterable[Path],
    config: Mapping[str, Any] | None = None,
    tags: Sequence[str] = (),
) -> str:
    """One W&B run holding ``tables`` (key → rows) and ``figures`` (PNG → ``figures/<stem>``).

    The run id comes from ``save_dir`` and ``job_type``, so logging again resumes the same run.
    With ``osh: true`` the run is offline and leaves a wandb-osh sync trigger when it ends.
    Returns the run id.
    """
    import wandb

    save_dir = Path(save_dir)
    save_dir.mkdir(parents=True, exist_ok=True)
    ident = run_id(save_dir, job_type)
    trigger = sync_trigger(node)
    offline = trigger is not None or offline_mode(node)
    route_wandb_terminal(offline)
    run = wandb.init(
        project=node.get("project"),
        entity=node.get("entity"),
        dir=str(save_dir),
        name=f"{node.get('name') or name}/{job_type}",
        group=node.get("group") or group,
        job_type=job_type,
        tags=list(dict.fromkeys([*(node.get("tags") or []), *tags])),
        config=dict(config or {}),
        id=ident,
        resume="allow",
        mode="offline" if offline else "online",
    )
    for key, rows in tables.items():
        if rows:
            columns = list(rows[0])
            data = [["" if r.get(c) is None else str(r.get(c)) for c in columns] for r in rows]
            header: list[str | int] = [*columns]  # wandb's annotation: a list of str or int
            run.log({key: wandb.Table(columns=header, data=data)})
    for path in figures:
        run.log({f"figures/{Path(path).stem}": wandb.Image(str(path))})
    offline_run_dir = Path(run.dir).parent  # run.dir is <offline run dir>/files
    run.finish()
    if trigger is not None:
        trigger(offline_run_dir)
    return ident
