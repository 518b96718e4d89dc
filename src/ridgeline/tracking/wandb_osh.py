"""W&B on clusters whose compute nodes have no internet, through ``wandb-osh``.

With ``logger.wandb.osh=true`` runs stay offline and, after each probe and when a run ends,
leave a sync trigger (a ``<hash>.command`` file naming the offline run dir) in wandb-osh's
command dir; ``wandb-osh`` on the login node, which has internet, runs ``wandb sync`` on them.
"""

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Logger keys of ridgeline's own, removed before the rest is handed to W&B.
OSH_KEYS = ("osh", "osh_command_dir")


class SyncTrigger:
    """Writes wandb-osh's trigger file for an offline run dir (``offline-run-...``)."""

    def __init__(self, command_dir: str | Path | None) -> None:
        from wandb_osh.hooks import TriggerWandbSyncHook

        # wandb-osh prints through a console handler of its own: its records go to the log file
        logging.getLogger("wandb_osh").handlers.clear()
        self._hook = (
            TriggerWandbSyncHook(Path(command_dir).expanduser())
            if command_dir is not None
            else TriggerWandbSyncHook()
        )

    def __call__(self, offline_run_dir: str | Path) -> None:
        self._hook(Path(offline_run_dir))


def sync_trigger(node: Mapping[str, Any]) -> SyncTrigger | None:
    """The trigger of a W&B logger config with ``osh: true``, else None."""
    if not node.get("osh"):
        return None
    return SyncTrigger(node.get("osh_command_dir"))
