"""The report of a run dir or sweep dir: PNG figures, CSV tables and report.md embedding them."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ridgeline.errors import ConfigError
from ridgeline.records.probe_record import ProbeRecord
from ridgeline.report import figures, plane_figure
from ridgeline.report.bent_path_figure import (
    CURVE_CAPTION,
    CURVE_FIGURE,
    draw_curves,
    read_job_curves,
)
from ridgeline.report.collect import Collection, collect
from ridgeline.report.tables import instability_rows, write_tables
from ridgeline.tracking.wandb_upload import WANDB_TARGET, log_tables_and_figures

WANDB_CHOICES = ("auto", "on", "off")

# name → (caption: how to read the figure)
CAPTIONS = {
    "instability": (
        "Instability analysis (Frankle et al. 2020). Barrier between two children spawned from "
        "the parent at step k and trained to the end, against k (symmetric-log axis; k = 0 is "
        "the initialisation). Left: error barrier = max_α E(θ_α) − ½(E_A + E_B) in percentage "
        "points; right: midpoint loss barrier L(θ_½) − ½(L_A + L_B) in nats. Solid/circles: "
        "test split, dashed/squares: train subset; bands ± 1 s.d. over seeds (over child pairs "
        "in a single run). Dotted: children from different initialisations (no shared parent); "
        "dash-dotted (and crosses for spawned children): the same after permuting θ_B's hidden "
        "units onto θ_A's (probe.align, LMC modulo permutation). "
        "Below the red 2 % line the children are linearly connected ('stable')."
    ),
    "barrier_over_training": (
        "Barrier between the children during their training, one line per spawn step k "
        "(a line starts at k, where the children coincide and the barrier is 0). Rows: error "
        "(endpoint-mean, pp) and loss (midpoint, nats) barrier; columns: test and train."
    ),
    "mountainside": (
        "Left: loss along the straight segment from the spawn point θ_s to each child at the end "
        "of training (solid: child A, dashed: child B). A monotone descent means the child went "
        "down one mountainside from θ_s; a bump means it crossed a ridge. Right: angle at θ_s "
        "between θ_A − θ_s and θ_B − θ_s against the spawn step; small angles mean both children "
        "descend the same side."
    ),
    "predicted_vs_measured": (
        "Second-order prediction of the midpoint loss barrier, −⅛ΔᵀH(θ_½)Δ with Δ = θ_B − θ_A, "
        "against the measured barrier at every probe point (left, coloured by spawn step) and "
        "for each layer alone (right: only layer ℓ interpolated, rest from θ_A; prediction "
        "−⅛Δ_ℓᵀH_ℓℓΔ_ℓ). Points on the grey diagonal are predicted exactly; a positive value "
        "means negative curvature along Δ, i.e. a ridge between the children."
    ),
    "layerwise_heatmaps": (
        "Layer-wise midpoint loss barrier (Adilova et al. 2024) for every layer (rows) and probe "
        "step (columns), measured (left) and predicted by the layer's own curvature (right), "
        "one row of panels per spawn step. Red: barrier (ridge), blue: negative; one colour "
        "scale for all panels."
    ),
    "barrier_curves": (
        "Error (%) and loss (nats) along the linear path θ_α = (1−α)θ_A + αθ_B between the "
        "children at the end of training, one line per spawn step, mean over seeds and pairs; "
        "dotted: different initialisations. The barrier is the height of the hump above the "
        "endpoints."
    ),
    plane_figure.FIGURE_NAME: plane_figure.CAPTION,
}
CAPTIONS[CURVE_FIGURE] = CURVE_CAPTION  # ridgeline-connect's records (report/curves.py)
ORDER = tuple(CAPTIONS)


@dataclass
class Report:
    out_dir: Path
    figures: dict[str, Path] = field(default_factory=dict)
    tables: dict[str, Path] = field(default_factory=dict)
    markdown: Path | None = None
    wandb_run: str | None = None


def draw_figures(records: Sequence[ProbeRecord], out_dir: Path) -> dict[str, Path]:
    """Every figure the records support (name → PNG path)."""
    out_dir = Path(out_dir)
    made = {
        "instability": figures.instability(records, out_dir / "instability.png"),
        "barrier_over_training": figures.barrier_over_training(
            records, out_dir / "barrier_over_training.png"
        ),
        "mountainside": figures.mountainside(records, out_dir / "mountainside.png"),
        "predicted_vs_measured": figures.predicted_vs_measured(
            records, out_dir / "predicted_vs_measured.png"
        ),
        "layerwise_heatmaps": figures.layerwise_heatmaps(
            records, out_dir / "layerwise_heatmaps.png"
        ),
        "barrier_curves": figures.barrier_curves(records, out_dir / "barrier_curves.png"),
        plane_figure.FIGURE_NAME: plane_figure.loss_plane(
            records, out_dir / f"{plane_figure.FIGURE_NAME}.png"
        ),
    }
    return {k: v for k, v in made.items() if v is not None}


def _fmt(v: object, pct: bool = False) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{100 * v:.2f}" if pct else f"{v:.4f}"
    return str(v)


def _summary_table(records: Sequence[ProbeRecord]) -> list[str]:
    rows = instability_rows(records)
    index: dict[tuple, dict[str, str]] = {}
    for row in rows:
        key = (
            row["setting"],
            row["kind"] != "spawn",
            row["spawn_step"] or 0,
            row["kind"],
            row.get("aligned") or "",
        )
        cell = index.setdefault(key, {})
        pct = row["quantity"] == "error"
        text = _fmt(row["mean"], pct)
        if row["n"] > 1:
            text += f" ± {_fmt(row['std'], pct)}"
        cell[f"{row['split']}/{row['quantity']}/{row['barrier']}"] = text
        cell["n"] = f"{row['n']} {row['over']}"
    if not index:
        return []
    cols = [
        ("test error barrier (pp, endpoint-mean)", "test/error/endpoint_mean"),
        ("train error barrier (pp, endpoint-mean)", "train/error/endpoint_mean"),
        ("test loss barrier (nats, midpoint)", "test/loss/midpoint"),
        ("train loss barrier (nats, midpoint)", "train/loss/midpoint"),
        ("n", "n"),
    ]
    settings = len({k[0] for k in index}) > 1
    head = (["setting"] if settings else []) + ["spawn step k"] + [c for c, _ in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key in sorted(index):
        setting, _, k, kind, aligned = key
        first = [setting] if settings else []
        label = "different inits" if kind == "independent" else str(k)
        if aligned:
            label += f", aligned ({aligned} matching)"
        cells = [index[key].get(c, "–") for _, c in cols]
        lines.append("| " + " | ".join([*first, label, *cells]) + " |")
    return lines


def write_markdown(collection: Collection, report: Report) -> Path:
    out = report.out_dir / "report.md"
    lines = [
        "# ridgeline report",
        "",
        f"Source: `{collection.root}` — {len(collection.jobs)} job(s), "
        f"{len(collection.records)} probe records.",
    ]
    if collection.varying:
        lines.append("")
        lines.append(
            "Config keys that vary across jobs: "
            + ", ".join(f"`{k}`" for k in collection.varying)
            + (
                f" (seeds averaged: {', '.join(collection.seed_keys)})"
                if collection.seed_keys
                else ""
            )
            + "."
        )
    table = _summary_table(collection.records)
    if table:
        lines += [
            "",
            "## Barriers at the end of training",
            "",
            "Mean ± s.d. over seeds (over child pairs in a single run). "
            "pp = percentage points of error.",
            "",
            *table,
        ]
    lines += ["", "## Figures", ""]
    for name in ORDER:
        if name in report.figures:
            rel = report.figures[name].relative_to(report.out_dir)
            lines += [
                f"### {name.replace('_', ' ')}",
                "",
                f"![{name}]({rel})",
                "",
                CAPTIONS[name],
                "",
            ]
    missing = [n for n in ORDER if n not in report.figures]
    if missing:
        lines += [f"Not drawn (no such values in the records): {', '.join(missing)}.", ""]
    lines += ["## Tables", ""]
    for name, path in report.tables.items():
        lines.append(f"- [`{path.name}`]({path.relative_to(report.out_dir)}) ({name})")
    lines.append("")
    out.write_text("\n".join(lines))
    return out


def wandb_logger_of(collection: Collection) -> dict[str, Any] | None:
    """The W&B logger config (``logger.<name>.*``) of the first job that trained with one."""
    for job in collection.jobs:
        for key, target in job.config.items():
            parts = key.split(".")
            is_target = len(parts) == 3 and parts[0] == "logger" and parts[2] == "_target_"
            if is_target and WANDB_TARGET in str(target):
                prefix = f"logger.{parts[1]}."
                return {k[len(prefix) :]: v for k, v in job.config.items() if k.startswith(prefix)}
    return None


def log_report_to_wandb(collection: Collection, report: Report, node: Mapping[str, Any]) -> str:
    """The report's figures and CSV tables as one W&B run (job_type "report"); returns its id."""
    tables = {}
    for name, path in report.tables.items():
        with path.open(newline="") as f:
            tables[f"report/{name}"] = list(csv.DictReader(f))
    group = node.get("group") or collection.root.name
    figures_in_order = [report.figures[name] for name in ORDER if name in report.figures]
    return log_tables_and_figures(
        node, report.out_dir, collection.root.name, group, "report", tables, figures_in_order
    )


def make_report(
    source: str | Path, out_dir: str | Path | None = None, wandb: str = "auto"
) -> Report:
    """Collect a run or sweep dir and write figures/, the CSV tables and report.md.

    ``wandb``: "auto" logs them to W&B when the jobs trained with a W&B logger, "on" always
    (the jobs' W&B settings, else project "ridgeline"), "off" never.
    """
    if wandb not in WANDB_CHOICES:
        raise ConfigError("--wandb", wandb, f"use one of {', '.join(WANDB_CHOICES)}")
    collection = collect(source)
    curves = read_job_curves(collection.jobs)  # every input is read (and checked) before a write
    out = Path(out_dir) if out_dir is not None else collection.root / "report"
    out.mkdir(parents=True, exist_ok=True)
    report = Report(out)
    report.figures = draw_figures(collection.records, out / "figures")
    report.figures.update(draw_curves(curves, out / "figures"))
    report.tables = write_tables(collection, out)
    report.markdown = write_markdown(collection, report)
    node = wandb_logger_of(collection) if wandb != "off" else None
    if node is None and wandb == "on":
        node = {"project": "ridgeline"}
    if node is not None:
        report.wandb_run = log_report_to_wandb(collection, report, node)
    return report
