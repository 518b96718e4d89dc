"""The classifier LightningModule: N replicas of one architecture trained in lockstep.

A parent run is the case N = 1. Spawned children are N replicas that start from the same
parent checkpoint; the permutation baseline is N replicas from different init seeds. Each
replica sees its own stream of the batch ``(x [N, B, ...], y [N, B])``, so a callback sees
every child at the same step. The summed loss gives each replica exactly its own gradient,
and SGD/AdamW act per parameter, so one optimiser over all replicas equals N optimisers.
"""

from collections.abc import Callable, Iterable, Sequence
from typing import cast

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from ridgeline.errors import TrainingDiverged
from ridgeline.store.checkpoints import kept_checkpoint
from ridgeline.training.schedules import Schedule, constant, shifted

OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]


class ReplicaClassifier(pl.LightningModule):
    """Cross-entropy training of ``len(replicas)`` classifiers, one batch stream each."""

    def __init__(
        self,
        replicas: Sequence[nn.Module],
        optimizer: OptimizerFactory,
        num_classes: int,
        schedule: Schedule | None = None,
        step_offset: int = 0,
        clip_norm: float | None = None,
    ) -> None:
        super().__init__()
        self.clip_norm = clip_norm
        self.replicas = nn.ModuleList(replicas)
        self.optimizer_factory = optimizer
        self.schedule = schedule or constant()
        self.step_offset = int(step_offset)
        self._finite: torch.Tensor | None = None  # all training losses finite since the check
        self._checked_step = self.step_offset
        n = len(self.replicas)
        self.val_loss = nn.ModuleList(MeanMetric() for _ in range(n))
        self.val_acc = nn.ModuleList(
            MulticlassAccuracy(num_classes, average="micro") for _ in range(n)
        )

    @property
    def n_replicas(self) -> int:
        return len(self.replicas)

    @property
    def absolute_step(self) -> int:
        """Iterations since the parent's initialisation: spawn step k + the children's own steps."""
        return self.step_offset + self.global_step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [N, B, classes] of every replica on its own slice x[i]."""
        return torch.stack([m(x[i]) for i, m in enumerate(self.replicas)])

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        x, y = batch
        logits = [m(x[i]) for i, m in enumerate(self.replicas)]
        losses = torch.stack([F.cross_entropy(out, y[i]) for i, out in enumerate(logits)])
        finite = torch.isfinite(losses.detach()).all()  # stays on the device: no sync per step
        self._finite = finite if self._finite is None else self._finite & finite
        # Loggers are written every log_every_n_steps; each self.log walks Lightning's result
        # collection, and reading the finite flag is a host sync: both on those steps only.
        # set on the Trainer by Lightning's logger connector, unknown to its annotations
        every = self.trainer.log_every_n_steps  # type: ignore[attr-defined]
        if (self.global_step + 1) % every == 0:
            self.check_finite()
            acc = torch.stack(
                [(out.detach().argmax(-1) == y[i]).float().mean() for i, out in enumerate(logits)]
            )
            self.log_dict(
                {"train/loss": losses.detach().mean(), "train/acc": acc.mean()}, prog_bar=True
            )
            self.log("trainer/absolute_step", float(self.absolute_step))
        return losses.sum()

    def check_finite(self) -> None:
        """Raise if a training loss since the last check was non-finite (one host sync)."""
        if self._finite is not None and not bool(self._finite):
            raise TrainingDiverged(
                f"training loss became non-finite after step {self._checked_step} and by step "
                f"{self.absolute_step}; lower optim.lr or check the data. {kept_checkpoint(self)}"
            )
        self._finite, self._checked_step = None, self.absolute_step

    def on_train_end(self) -> None:
        self.check_finite()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Never write non-finite weights over the last good checkpoint."""
        self.check_finite()
        bad = [n for n, p in self.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            raise TrainingDiverged(
                f"weights became non-finite after step {self.absolute_step} ({bad[0]}, ...); "
                "lower optim.lr or check the data. The checkpoint is not written. "
                f"{kept_checkpoint(self)}"
            )

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        for i, model in enumerate(self.replicas):
            logits = model(x)
            cast(MeanMetric, self.val_loss[i]).update(F.cross_entropy(logits, y, reduction="none"))
            cast(MulticlassAccuracy, self.val_acc[i]).update(logits.argmax(-1), y)

    def on_validation_epoch_end(self) -> None:
        losses = torch.stack([cast(MeanMetric, m).compute() for m in self.val_loss])
        accs = torch.stack([cast(MulticlassAccuracy, m).compute() for m in self.val_acc])
        self.log("val/loss", losses.mean(), prog_bar=True)
        self.log("val/acc", accs.mean(), prog_bar=True)
        if self.n_replicas > 1:
            for i in range(self.n_replicas):
                self.log(f"val/loss_child{i}", losses[i])
                self.log(f"val/acc_child{i}", accs[i])
        for metric in (*self.val_loss, *self.val_acc):
            metric.reset()

    def configure_gradient_clipping(
        self,
        optimizer: torch.optim.Optimizer,
        gradient_clip_val: int | float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """``clip_norm``: each replica's gradient clipped to that total norm over its own
        parameters, as if it trained alone; then the Trainer's own clipping, if any."""
        if self.clip_norm is not None:
            for replica in self.replicas:
                nn.utils.clip_grad_norm_(replica.parameters(), self.clip_norm)
        super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.parameters())
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, shifted(self.schedule, self.step_offset)
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
