"""A W&B workspace whose panels are the paper's figures, live over any run or sweep.

Built with W&B's ``wandb-workspaces`` library from the keys the training runs log (probe
scalars as in ``ridgeline.records.scalars``, ``ridgeline.tracking.wandb_keys``, the nested
config). Panels:
final barrier against spawn step (grouped by seed), barrier over training per spawn step,
predicted against measured barrier, angle at the spawn point against k, layer-wise tables.
"""

from dataclasses import dataclass

import wandb_workspaces.reports.v2 as wr
import wandb_workspaces.workspaces as ws
from wandb_workspaces.reports.v2.interface import PanelTypes

from ridgeline.tracking.wandb_keys import (
    FINAL,
    INSTABILITY,
    LAYERWISE_HEATMAP,
    PROBE_STEP,
    SPAWN_STEP,
    SUMMARY_TABLE,
    layerwise_table,
)

SPLITS = ("test", "train")
# (quantity, barrier variant, label): the error barrier of Frankle et al. and the midpoint loss
# barrier, as in the end-of-run table.
BARRIERS = (("error", "endpoint_mean", "error barrier"), ("loss", "midpoint", "loss barrier"))
SEED = "seed"
SPAWN_STEP_CONFIG = "phase.spawn_step"
PanelList = list[PanelTypes]


@dataclass(frozen=True)
class DashboardTarget:
    """Where the workspace is saved and which runs it shows (``group``: one sweep or job)."""

    project: str
    entity: str
    group: str | None = None


def barrier_key(split: str, quantity: str, variant: str) -> str:
    return f"barrier/{split}/{quantity}/{variant}"


def _barrier_panels(title: str, x: str, y_prefix: str, groupby: str, title_x: str) -> PanelList:
    """One line plot per barrier and split, of ``y_prefix`` + its key against ``x``, mean and
    range over the runs grouped by the config key ``groupby``; ``title`` is formatted with the
    barrier's ``label`` and the ``split``."""
    return [
        wr.LinePlot(
            title=title.format(label=label, split=split),
            x=x,
            y=[y_prefix + barrier_key(split, quantity, variant)],
            groupby=wr.Config(groupby),
            groupby_aggfunc="mean",
            groupby_rangefunc="minmax",
            title_x=title_x,
        )
        for quantity, variant, label in BARRIERS
        for split in SPLITS
    ]


def _instability_section() -> ws.Section:
    panels = _barrier_panels(
        "final {label} ({split}) against spawn step, by seed",
        SPAWN_STEP,
        INSTABILITY,
        SEED,
        "spawn step k",
    )
    return ws.Section(
        name="Instability: final barrier against spawn step", panels=panels, is_open=True
    )


def _over_training_section() -> ws.Section:
    panels = _barrier_panels(
        "{label} ({split}) over training, by spawn step",
        PROBE_STEP,
        "",
        SPAWN_STEP_CONFIG,
        "training step",
    )
    return ws.Section(name="Barrier over training, per spawn step", panels=panels, is_open=True)


def _prediction_section() -> ws.Section:
    measured, predicted = (
        barrier_key("test", "loss", "midpoint"),
        "curvature/test/predicted_barrier",
    )
    return ws.Section(
        name="Predicted against measured barrier",
        panels=[
            wr.ScatterPlot(
                title="final: −⅛ΔᵀH(θ_½)Δ against measured midpoint loss barrier (test)",
                x=wr.SummaryMetric(FINAL + measured),
                y=wr.SummaryMetric(FINAL + predicted),
            ),
            wr.LinePlot(
                title="measured and predicted midpoint loss barrier (test) over training",
                x=PROBE_STEP,
                y=[measured, predicted],
                groupby=wr.Config(SPAWN_STEP_CONFIG),
                groupby_aggfunc="mean",
            ),
        ],
    )


def _geometry_section() -> ws.Section:
    angle = "geometry/angle_deg"
    return ws.Section(
        name="Angle at the spawn point",
        panels=[
            wr.LinePlot(
                title="final angle at the spawn point against spawn step, by seed",
                x=SPAWN_STEP,
                y=[INSTABILITY + angle],
                groupby=wr.Config(SEED),
                groupby_aggfunc="mean",
                groupby_rangefunc="minmax",
                title_x="spawn step k",
            ),
            wr.LinePlot(
                title="angle at the spawn point over training, by spawn step",
                x=PROBE_STEP,
                y=[angle],
                groupby=wr.Config(SPAWN_STEP_CONFIG),
                groupby_aggfunc="mean",
            ),
        ],
    )


def _tables_section() -> ws.Section:
    return ws.Section(
        name="Tables: layer-wise barriers and the end-of-run table",
        panels=[
            *(wr.WeavePanelSummaryTable(table_name=layerwise_table(split)) for split in SPLITS),
            wr.MediaBrowser(title="layer-wise heatmap", media_keys=[LAYERWISE_HEATMAP]),
            wr.WeavePanelSummaryTable(table_name=SUMMARY_TABLE),
        ],
    )


def build_workspace(target: DashboardTarget) -> ws.Workspace:
    """The workspace object (nothing is sent until ``.save()``)."""
    filters = [ws.Metric("Group") == target.group] if target.group else []
    name = f"ridgeline: {target.group}" if target.group else "ridgeline"
    return ws.Workspace(
        entity=target.entity,
        project=target.project,
        name=name,
        sections=[
            _instability_section(),
            _over_training_section(),
            _prediction_section(),
            _geometry_section(),
            _tables_section(),
        ],
        runset_settings=ws.RunsetSettings(filters=filters),
    )
