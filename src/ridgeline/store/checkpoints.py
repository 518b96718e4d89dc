"""A phase's checkpoints (``last.ckpt``, the parent's spawn points), written atomically."""

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning_fabric.utilities.types import _PATH
from pytorch_lightning.callbacks import Checkpoint
from pytorch_lightning.utilities.exceptions import SIGTERMException

from ridgeline.store.layout import PhaseLayout, atomic_path


class AtomicCheckpointIO(TorchCheckpointIO):
    """torch.save through :func:`atomic_path`: a kill leaves the old file or the whole new one.

    Lightning's own save writes through an fsspec transaction whose temporary file lives in
    the system temp dir; moving it onto another file system is a copy, so a kill leaves a
    partial checkpoint. A rename within one directory is atomic.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None
    ) -> None:
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)


class PhaseCheckpoint(Checkpoint):
    """``last.ckpt`` of a phase: every ``every_n_steps`` while training, at T after the
    end-of-phase probe, and at the step where SIGTERM stopped training.

    Lightning runs checkpoint callbacks after every other callback of a hook, so each save
    follows the probes of its step. The file at T is written last: a kill during the end probe
    resumes from an earlier step and repeats the probe, and a ``last.ckpt`` at T means every
    probe of the phase is in ``records.jsonl``.
    """

    def __init__(self, phase: PhaseLayout, every_n_steps: int) -> None:
        self.phase = phase
        self.every_n_steps = int(every_n_steps)

    def on_train_batch_end(self, trainer: pl.Trainer, *_: Any) -> None:
        step = trainer.global_step
        if step % self.every_n_steps == 0 and step < trainer.max_steps:
            trainer.save_checkpoint(self.phase.last_checkpoint)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        trainer.save_checkpoint(self.phase.last_checkpoint)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        """SIGTERM: Lightning stops at the end of a step (its probes done); save that step."""
        if isinstance(exception, SIGTERMException):
            trainer.save_checkpoint(self.phase.last_checkpoint)


class StepCheckpoint(pl.Callback):
    """Save the full training state (weights, optimiser, schedule) after the given steps.

    Every rank takes part in each save (Lightning writes on rank 0); whether a step's file
    already exists is decided on rank 0 and broadcast, so all ranks save or skip together.
    """

    def __init__(self, steps: Iterable[int], phase: PhaseLayout) -> None:
        self.steps = sorted({int(s) for s in steps})
        self.phase = phase

    def _save(self, trainer: pl.Trainer, step: int) -> None:
        path = self.phase.spawn_point(step)
        exists = trainer.strategy.broadcast(path.exists() if trainer.is_global_zero else None)
        if not exists:
            trainer.save_checkpoint(path)  # atomic through AtomicCheckpointIO

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_step in self.steps:
            self._save(trainer, trainer.global_step)

    def on_train_batch_end(self, trainer: pl.Trainer, *_: Any) -> None:
        if trainer.global_step in self.steps:
            self._save(trainer, trainer.global_step)


def load_checkpoint(path: str | Path) -> dict:
    """torch.load a Lightning checkpoint on CPU with a clear error for a missing or corrupt file."""
    from ridgeline.errors import RidgelineError

    path = Path(path)
    if not path.is_file():
        raise RidgelineError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises several types for truncated files
        raise RidgelineError(
            f"checkpoint {path} is truncated or corrupt ({type(exc).__name__}: {exc}); "
            "delete it and re-run to recreate it"
        ) from None


def kept_checkpoint(module: Any) -> str:
    """Which checkpoint a diverged phase keeps, and where: its last.ckpt and the step it holds."""
    trainer = getattr(module, "_trainer", None)
    if trainer is None:
        return "No checkpoint of this phase was written."
    last = PhaseLayout(Path(trainer.default_root_dir)).last_checkpoint  # the phase's directory
    if not last.is_file():
        return f"No checkpoint of this phase was written yet ({last} does not exist)."
    try:  # mmap: reads the step, not the weights
        step = torch.load(last, map_location="cpu", mmap=True, weights_only=False)["global_step"]
    except Exception:
        return f"The last good checkpoint is kept: {last}."
    return f"The last good checkpoint is kept: {last} (step {module.step_offset + int(step)})."
