"""Hand probe records to the Lightning loggers: scalars, W&B tables, heatmaps and the summary.

In W&B every probe scalar is declared against ``probe/absolute_step`` (``define_metric``), so
the parent's and the children's curves share one x axis: the training step counted from θ_0.
At the end of a spawn phase its final values are logged once more as ``instability/<key>`` at
x = ``instability/spawn_step``: grouped line plots of them draw barrier against spawn step.
"""

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import pytorch_lightning as pl
from pytorch_lightning.loggers import Logger, WandbLogger

from ridgeline.store.scalars import scalar_metrics
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
    from ridgeline.store.plan import Phase

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


def log_record(trainer: pl.Trainer, record: dict[str, Any]) -> None:
    """Scalars at the trainer's step (plus the absolute step); barrier curves as W&B tables."""
    metrics = _finite(scalar_metrics(record))
    metrics[PROBE_STEP] = float(record["step"])
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            declare_metrics(logger, list(metrics), PROBE_STEP)
        logger.log_metrics(metrics, step=trainer.global_step)
        if isinstance(logger, WandbLogger):
            plain = record.get("barrier") or {}
            aligned = (record.get("aligned") or {}).get("barrier") or {}
            curves = [("barrier", split, rec) for split, rec in plain.items()]
            curves += [("barrier_aligned", split, rec) for split, rec in aligned.items()]
            for name, split, rec in curves:
                rows = [list(r) for r in zip(rec["alphas"], rec["loss"], rec["error"], strict=True)]
                logger.log_table(
                    f"curves/{split}/{name}_pair_{record['pair'][0]}_{record['pair'][1]}",
                    columns=["alpha", "loss", "error"],
                    data=rows,
                    step=trainer.global_step,
                )
            request_sync(logger)


def layerwise_rows(records: list[dict[str, Any]], split: str) -> list[list[Any]]:
    """Every single-layer midpoint of the records on ``split``, one row per layer and direction."""
    rows = []
    for record in records:
        for entry in ((record.get("layerwise") or {}).get(split) or {}).get("entries") or []:
            if entry.get("kind") == "layer":
                pair = "-".join(str(i) for i in record.get("pair") or [])
                values = {**entry, "step": record["step"], "pair": pair, "layer": entry["name"]}
                rows.append([values.get(c) for c in LAYERWISE_COLUMNS])
    return rows


def layerwise_heatmap(
    records: list[dict[str, Any]], split: str, title: str, path: Path
) -> Path | None:
    """The single-layer midpoint loss barriers of :func:`layerwise_rows` (into A, own endpoints)
    as a layer × probe step image, mean over pairs; None when there are none."""
    from ridgeline.tracking.plotting import heatmap, plt, save_png, zero_centred_norm

    values: dict[tuple[str, int], list[float]] = {}
    layers: list[str] = []
    for row in layerwise_rows(records, split):
        r = dict(zip(LAYERWISE_COLUMNS, row, strict=True))
        if r["direction"] != "into_a":
            continue
        if r["layer"] not in layers:
            layers.append(r["layer"])
        if r["loss_mid_own"] is not None:
            values.setdefault((r["layer"], r["step"]), []).append(float(r["loss_mid_own"]))
    steps = sorted({step for _, step in values})
    if not layers or not steps:
        return None
    grid = [
        [sum(v) / len(v) if (v := values.get((lay, s))) else math.nan for s in steps]
        for lay in layers
    ]
    fig, ax = plt.subplots(figsize=(max(5, 0.5 * len(steps) + 3), max(3, 0.35 * len(layers) + 1.8)))
    image = heatmap(ax, layers, steps, grid, zero_centred_norm([grid]))
    fig.colorbar(image, ax=ax, label=f"{split} midpoint loss barrier,\nlayer ℓ only (nats)")
    ax.set_title(f"Layer-wise barriers, {title} (into A, own endpoints)", fontsize=9)
    fig.tight_layout()
    return save_png(fig, path)


def log_phase_end(trainer: pl.Trainer, phase: "Phase", records: list[dict[str, Any]]) -> None:
    """Final values into the W&B run summary (and the instability series), layer-wise tables
    and the layer-wise heatmap as an image."""
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
