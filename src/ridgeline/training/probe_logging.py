"""Hand probe records to the Lightning loggers: scalars, W&B tables, heatmaps and the summary."""

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.loggers import WandbLogger

from ridgeline.report.flatten import scalar_metrics


def _finite(metrics: dict[str, float | None]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if v is not None}


def log_record(trainer: pl.Trainer, record: dict[str, Any]) -> None:
    """Scalars at the trainer's step (plus the absolute step); barrier curves as W&B tables."""
    metrics = _finite(scalar_metrics(record))
    metrics["probe/absolute_step"] = float(record["step"])
    for logger in trainer.loggers:
        logger.log_metrics(metrics, step=trainer.global_step)
        if isinstance(logger, WandbLogger):
            for split, rec in (record.get("barrier") or {}).items():
                rows = [list(r) for r in zip(rec["alphas"], rec["loss"], rec["error"], strict=True)]
                logger.log_table(
                    f"curves/{split}/barrier_pair_{record['pair'][0]}_{record['pair'][1]}",
                    columns=["alpha", "loss", "error"],
                    data=rows,
                    step=trainer.global_step,
                )


def log_phase_end(trainer: pl.Trainer, phase: Any, records: list[dict[str, Any]]) -> None:
    """Final values into the W&B run summary, and the layer-wise heatmap as an image."""
    mine = [r for r in records if r.get("phase") == phase.name]
    if not mine:
        return
    final_step = max(r["step"] for r in mine)
    final = {}
    for record in (r for r in mine if r["step"] == final_step):
        final.update(_finite(scalar_metrics(record)))
    wandb_loggers = [lg for lg in trainer.loggers if isinstance(lg, WandbLogger)]
    if not wandb_loggers:
        return
    from ridgeline.report.figures import layerwise_heatmap

    figure_dir = Path(trainer.default_root_dir) / "figures"
    heatmaps = [
        layerwise_heatmap(mine, split, figure_dir / f"layerwise_{split}.png")
        for split in ("train", "test")
    ]
    for logger in wandb_loggers:
        logger.experiment.summary.update({f"final/{k}": v for k, v in final.items()})
        logger.experiment.summary["final/step"] = final_step
        paths = [str(p) for p in heatmaps if p is not None]
        if paths:
            logger.log_image("layerwise/heatmap", paths, step=trainer.global_step)
