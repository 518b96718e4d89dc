"""One progress bar per phase over the absolute training steps (k → T), not one per epoch.

Lightning's bar is per epoch and reads "Epoch 40/-2" in a step-limited run (``max_epochs: -1``);
this one reads e.g. ``spawn_k=0000010 ━━━━ 120/250``: where the phase's replicas are in training.
"""

from typing import TYPE_CHECKING, Any

import pytorch_lightning as pl
from omegaconf import DictConfig
from pytorch_lightning.callbacks import RichProgressBar
from pytorch_lightning.callbacks.progress.rich_progress import (
    BatchesProcessedColumn,
    CustomBarColumn,
    CustomTimeColumn,
)
from rich.progress import TextColumn

if TYPE_CHECKING:
    from ridgeline.job.plan import Phase

TRAIN_PREFIX = "train/"


class PhaseProgressBar(RichProgressBar):
    """Rich bar labelled with the phase, from ``first_step`` to ``last_step`` (absolute steps)."""

    def __init__(self, label: str, first_step: int, last_step: int) -> None:
        super().__init__()
        self.label, self.first_step, self.last_step = label, first_step, last_step

    def _get_train_description(self, current_epoch: int) -> str:
        return self.label

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.is_disabled or self.progress is None:
            return
        if self.train_progress_bar_id is None:
            self.train_progress_bar_id = self._add_task(self.last_step, self.label)
            self._update(self.train_progress_bar_id, self.first_step + trainer.global_step)
        self.refresh()

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self.train_progress_bar_id is None:
            self.on_train_epoch_start(trainer, pl_module)
        self._update(self.train_progress_bar_id, self.first_step + trainer.global_step)
        self._update_metrics(trainer, pl_module)
        self.refresh()

    def configure_columns(self, trainer: pl.Trainer) -> list:
        """Phase, a short bar, steps done/total, time: room for the metrics on a narrow console."""
        return [
            TextColumn("[progress.description]{task.description}"),
            CustomBarColumn(
                bar_width=10,
                complete_style=self.theme.progress_bar,
                finished_style=self.theme.progress_bar_finished,
                pulse_style=self.theme.progress_bar_pulse,
            ),
            BatchesProcessedColumn(style=self.theme.batch_progress),
            CustomTimeColumn(style=self.theme.time),
        ]

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        """The progress-bar metrics, ``train/`` dropped from their names, no logger version id."""
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        return {name.removeprefix(TRAIN_PREFIX): value for name, value in metrics.items()}


def progress_callbacks(trainer_cfg: DictConfig, phase: "Phase") -> list[pl.Callback]:
    """The phase's bar when ``trainer.enable_progress_bar`` is on (Lightning's default bar off)."""
    if not trainer_cfg.get("enable_progress_bar", True):
        return []
    return [PhaseProgressBar(phase.name, phase.step_offset, phase.total_steps)]
