"""The report's bent-path figure: ``ridgeline-connect``'s records (``landscape/curves.jsonl``)
of every job that has them, drawn by :func:`ridgeline.connect.curve_figure`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ridgeline.connect import CAPTION, FIGURE_NAME, curve_figure, read_curves
from ridgeline.report.collect import SweepJob

__all__ = ["CURVE_CAPTION", "CURVE_FIGURE", "draw_curves"]

CURVE_FIGURE = FIGURE_NAME
CURVE_CAPTION = CAPTION


def draw_curves(jobs: Sequence[SweepJob], out_dir: str | Path) -> dict[str, Path]:
    """``{CURVE_FIGURE: <out_dir>/bent_paths.png}`` when any job has curve records, else {}."""
    records = [r for job in jobs for r in read_curves(job.dir)]
    path = curve_figure(records, out_dir, CURVE_FIGURE)
    return {} if path is None else {CURVE_FIGURE: path}
