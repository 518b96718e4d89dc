"""One in-process Lightning fit for the training tests: CPU, no logger, checkpoint, progress bar
or validation, batches from the data module's own streams."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl


def fit_streams(
    module: pl.LightningModule,
    dm: Any,
    streams: Sequence[Any],
    steps: int,
    root: str | Path,
    callbacks: Sequence[pl.Callback] = (),
    ckpt_path: str | Path | None = None,
) -> pl.Trainer:
    """Train ``module`` for ``steps`` steps on ``dm`` reading ``streams``; returns the Trainer."""
    dm.set_streams(list(streams))
    trainer = pl.Trainer(
        max_steps=steps,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=list(callbacks),
        default_root_dir=root,
    )
    trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path)
    return trainer
