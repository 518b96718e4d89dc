"""Checkpoints at given iteration counts (the parent's spawn points), written atomically."""

import os
from collections.abc import Iterable
from pathlib import Path

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    """torch.save to a temporary file in the target's directory, fsync, then rename.

    Lightning's own save writes through an fsspec transaction whose temporary file lives in
    the system temp dir; moving it onto another file system is a copy, so a kill leaves a
    partial checkpoint. A rename within one directory is atomic.
    """

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with tmp.open("wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def step_checkpoint_path(dirpath: str | Path, step: int) -> Path:
    """The file of the checkpoint taken after ``step`` optimiser steps."""
    return Path(dirpath) / f"step={int(step):07d}.ckpt"


def save_atomically(trainer: pl.Trainer, path: Path) -> None:
    """trainer.save_checkpoint to a temporary name, then rename: a kill leaves only whole files."""
    tmp = path.with_name(path.name + ".tmp")
    trainer.save_checkpoint(tmp)
    if trainer.is_global_zero:
        os.replace(tmp, path)
    trainer.strategy.barrier("ridgeline_step_checkpoint")


class StepCheckpoint(pl.Callback):
    """Save the full training state (weights, optimiser, schedule) after the given steps."""

    def __init__(self, steps: Iterable[int], dirpath: str | Path) -> None:
        self.steps = sorted({int(s) for s in steps})
        self.dirpath = Path(dirpath)

    def _save(self, trainer: pl.Trainer, step: int) -> None:
        path = step_checkpoint_path(self.dirpath, step)
        if not path.exists():
            self.dirpath.mkdir(parents=True, exist_ok=True)
            save_atomically(trainer, path)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_step in self.steps:
            self._save(trainer, trainer.global_step)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
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
