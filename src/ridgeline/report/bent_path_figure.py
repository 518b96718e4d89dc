"""The report's bent-path figure: ``ridgeline-connect``'s records (``landscape/curves.jsonl``)
of every job that has them, drawn by :func:`ridgeline.connect.curve_figure`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ridgeline.connect import CAPTION, FIGURE_NAME, ConnectRecord, curve_figure, read_curves
from ridgeline.report.collect import SweepJob

__all__ = ["CURVE_CAPTION", "CURVE_FIGURE", "draw_curves", "read_job_curves"]

CURVE_FIGURE = FIGURE_NAME
CURVE_CAPTION = CAPTION


def read_job_curves(jobs: Sequence[SweepJob]) -> list[ConnectRecord]:
    """Every job's curve records, in job order (a damaged line is named before anything is
    drawn: :func:`ridgeline.connect.read_curves`)."""
    return [r for job in jobs for r in read_curves(job.dir)]


def draw_curves(records: Sequence[ConnectRecord], out_dir: str | Path) -> dict[str, Path]:
    """``{CURVE_FIGURE: <out_dir>/bent_paths.png}`` when there are curve records, else {}."""
    path = curve_figure(records, out_dir, CURVE_FIGURE)
    return {} if path is None else {CURVE_FIGURE: path}
