"""Hand probe records to the Lightning loggers: scalars, W&B tables, heatmaps and the summary.

In W&B every probe scalar is declared against ``probe/absolute_step`` (``define_metric``), so
the parent's and the children's curves share one x axis: the training step counted from θ_0.
At the end of a spawn phase its final values are logged once more as ``instability/<key>`` at
x = ``instability/spawn_step``: grouped line plots of them draw barrier against spawn step.
"""

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import pytorch_lightning as pl
from pytorch_lightning.loggers import Logger, WandbLogger

from ridgeline.records.probe_record import ProbeRecord
from ridgeline.records.scalars import scalar_metrics
from ridgeline.records.statistics import final_probe, layer_grid
from ridgeline.tracking.loggers import request_sync
from ridgeline.tracking.wandb_keys import (
    FINAL,
    INSTABILITY,
    LAYERWISE_HEATMAP,
    PROBE_STEP,
    SPAWN_STEP,
    layerwise_table,
)

if TYPE_CHECKING:
    from ridgeline.job.plan import Phase

LAYERWISE_COLUMNS = (
    "step",
    "pair",
    "layer",
    "direction",
    "loss_mid_own",
    "loss_mid_orig",
    "error_mid_own",
    "error_mid_orig",
)

# The metric keys already declared in each W&B run (define_metric once per key and run).
_DECLARED: "WeakKeyDictionary[Logger, set[str]]" = WeakKeyDictionary()


def _finite(metrics: dict[str, float | None]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if v is not None}


def declare_metrics(logger: WandbLogger, keys: list[str], step_metric: str) -> None:
    """``define_metric(key, step_metric=...)`` for each key not yet declared in the run."""
    declared = _DECLARED.setdefault(logger, set())
    for key in [step_metric, *keys]:
        if key not in declared:
            logger.experiment.define_metric(
                key, step_metric=None if key == step_metric else step_metric
            )
            declared.add(key)


def log_record(trainer: pl.Trainer, record: ProbeRecord) -> None:
    """Scalars at the trainer's step (plus the absolute step); barrier curves as W&B tables."""
    metrics = _finite(scalar_metrics(record))
    metrics[PROBE_STEP] = float(record.step)
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            declare_metrics(logger, list(metrics), PROBE_STEP)
        logger.log_metrics(metrics, step=trainer.global_step)
        if isinstance(logger, WandbLogger):
            aligned = record.aligned.barrier if record.aligned is not None else {}
            curves = [("barrier", split, rec) for split, rec in record.barrier.items()]
            curves += [("barrier_aligned", split, rec) for split, rec in aligned.items()]
            for name, split, rec in curves:
                rows = [list(r) for r in zip(rec.alphas, rec.loss, rec.error, strict=True)]
                i, j = record.pair or (0, 0)
                logger.log_table(
                    f"curves/{split}/{name}_pair_{i}_{j}",
                    columns=["alpha", "loss", "error"],
                    data=rows,
                    step=trainer.global_step,
                )
            request_sync(logger)


def layerwise_rows(records: Sequence[ProbeRecord], split: str) -> list[list[Any]]:
    """Every single-layer midpoint of the records on ``split``, one row per layer and direction
    (a value that is not finite is an empty cell)."""
    rows = []
    for record in records:
        layerwise = record.layerwise.get(split)
        pair = "-".join(str(i) for i in record.pair or ())
        for entry in layerwise.entries if layerwise else []:
            if entry.kind == "layer":
                values = {
                    "step": record.step,
                    "pair": pair,
                    "layer": entry.name,
                    "direction": entry.direction,
                    **{c: _finite_or_none(getattr(entry, c)) for c in LAYERWISE_COLUMNS[4:]},
                }
                rows.append([values[c] for c in LAYERWISE_COLUMNS])
    return rows


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def layerwise_heatmap(
    records: Sequence[ProbeRecord], split: str, title: str, path: Path
) -> Path | None:
    """The measured :func:`ridgeline.records.statistics.layer_grid` (single-layer midpoint loss
    barriers, into A, own endpoints, mean over pairs) as a layer × probe step image; None when
    there are none."""
    from ridgeline.tracking.plotting import heatmap, plt, save_png, zero_centred_norm

    layers, steps, grid = layer_grid(records, split, "measured")
    if not layers or not steps:
        return None
    fig, ax = plt.subplots(figsize=(max(5, 0.5 * len(steps) + 3), max(3, 0.35 * len(layers) + 1.8)))
    image = heatmap(ax, layers, steps, grid, zero_centred_norm([grid]))
    fig.colorbar(image, ax=ax, label=f"{split} midpoint loss barrier,\nlayer ℓ only (nats)")
    ax.set_title(f"Layer-wise barriers, {title} (into A, own endpoints)", fontsize=9)
    fig.tight_layout()
    return save_png(fig, path)


def log_phase_end(trainer: pl.Trainer, phase: "Phase", records: Sequence[ProbeRecord]) -> None:
    """Final values into the W&B run summary (and the instability series), layer-wise tables
    and the layer-wise heatmap as an image."""
    mine = [r for r in records if r.phase == phase.name]
    if not mine:
        return
    last = final_probe(mine)
    final_step = last[0].step
    final = {}
    for record in last:
        final.update(_finite(scalar_metrics(record)))
    wandb_loggers = [lg for lg in trainer.loggers if isinstance(lg, WandbLogger)]
    if not wandb_loggers:
        return
    figure_dir = Path(trainer.default_root_dir) / "figures"
    title = f"k = {phase.spawn_step}" if phase.kind == "spawn" else phase.name
    heatmaps = [
        layerwise_heatmap(mine, split, title, figure_dir / f"layerwise_{split}.png")
        for split in ("train", "test")
    ]
    for logger in wandb_loggers:
        logger.experiment.summary.update({f"{FINAL}{k}": v for k, v in final.items()})
        logger.experiment.summary[f"{FINAL}step"] = final_step
        if phase.kind == "spawn":
            assert phase.spawn_step is not None  # every spawn phase has its k
            series = {f"{INSTABILITY}{k}": v for k, v in final.items()}
            declare_metrics(logger, list(series), SPAWN_STEP)
            logger.log_metrics({**series, SPAWN_STEP: phase.spawn_step}, step=trainer.global_step)
        for split in ("train", "test"):
            rows = layerwise_rows(mine, split)
            if rows:
                logger.log_table(layerwise_table(split), columns=list(LAYERWISE_COLUMNS), data=rows)
        paths = [str(p) for p in heatmaps if p is not None]
        if paths:
            logger.log_image(LAYERWISE_HEATMAP, paths, step=trainer.global_step)
