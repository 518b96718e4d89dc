"""The loss plane figure (issue 24 part 1): one panel per spawn step k (and the independent
pair) side by side, drawn from records only (:attr:`ridgeline.records.ProbeRecord.plane`).

Each panel is the loss on the recorded grid in the plane through θ_s, θ_A, θ_B (for children of
different inits: through their inits' midpoint, θ_A, θ_B), in the plane's orthonormal
coordinates (u, v), as filled contours on a log scale shared by all panels; the three points,
the straight path θ_A → θ_B and the projected trajectories (the parent's saved points, or each
independent child's init → end) on top. One pair per panel: the first pair with a plane at the
phase's final probe (of the first job of a sweep's setting).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.contour import QuadContourSet
from matplotlib.ticker import FuncFormatter, NullFormatter

from ridgeline.records.probe_record import Plane, ProbeRecord
from ridgeline.records.statistics import final_probe
from ridgeline.report.records import by_series, label_of
from ridgeline.tracking.plotting import plt, save_png

FIGURE_NAME = "loss_plane"
CAPTION = (
    "Loss plane through the spawn point θ_s and the two children θ_A, θ_B at the end of training "
    "(Gram-Schmidt coordinates u along θ_A − θ_s, v orthogonal to it in the plane), one panel per "
    "spawn step k and, right, two children of different initialisations (plane through their "
    "inits' midpoint, θ_A, θ_B). Filled contours: loss (nats) on the recorded grid, log scale, "
    "one colour scale for all panels, saturated above 30 × the largest loss of the marked "
    "points. Star: θ_s (or the inits' midpoint); circles: θ_A (red), "
    "θ_B (blue), with their losses; white line: the straight path θ_A → θ_B; dashed: the "
    "parent's saved points (θ_0, spawn points, end; labelled by step) projected onto the plane "
    "(their off-plane distance is in the records; points beyond the grid are cut off), dotted: "
    "each independent child's init → end. Axes are not to the same scale. "
    "A ridge between two valleys shows as a saddle crossed by the white line (k = 0); one "
    "valley holding both children as a path that stays low (later k). One pair per panel."
)
CAP = 30.0
POINT_STYLE = (("*", "black", 14), ("o", "tab:red", 8), ("o", "tab:blue", 8))


def planes_by_panel(records: Sequence[ProbeRecord]) -> list[tuple[ProbeRecord, Plane]]:
    """(record, plane) per panel: spawn steps in order, then independent children; each the
    first pair (lowest pair, first job) with a plane at its phase's final probe."""
    out = []
    for recs in by_series(final_probe([r for r in records if r.probe == "pair"])).values():
        ranked = sorted(recs, key=lambda r: (r.job, r.pair or (0, 0)))
        for r in ranked:
            if r.plane is not None:
                out.append((r, r.plane))
                break
    return out


def _positive(values: Sequence[Sequence[float]]) -> list[float]:
    return [v for row in values for v in row if math.isfinite(v) and v > 0]


def loss_plane(records: Sequence[ProbeRecord], path: Path) -> Path | None:
    """Draw the figure into ``path``; None when no record holds a plane."""
    panels = planes_by_panel(records)
    if not panels:
        return None
    vals = [v for _, p in panels for v in _positive(p.slice.loss)]
    if not vals:
        return None
    lo, hi = min(vals), max(vals)
    # far out on the margins the loss grows by orders of magnitude: the scale stops at
    # CAP × the largest of the panels' point losses (darker: lower; above it saturated)
    points = [v for _, p in panels for v in p.slice.point_loss if math.isfinite(v) and v > 0]
    if points:
        hi = min(hi, CAP * max(points))
    if hi <= lo * 1.0001:
        hi = lo * 1.01
    norm = LogNorm(vmin=lo, vmax=hi)
    levels = np.geomspace(lo, hi, 16)
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(4.3 * n + 1.2, 4.3), squeeze=False)
    images = [
        _panel(ax, rec, p, norm, levels) for ax, (rec, p) in zip(axes[0], panels, strict=True)
    ]
    cbar = fig.colorbar(images[-1], ax=list(axes[0]), shrink=0.9, pad=0.02)
    cbar.set_ticks(_ticks(lo, hi))
    cbar.ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:.3g}"))
    cbar.ax.yaxis.set_minor_formatter(NullFormatter())
    cbar.set_label("loss (nats, log scale)")
    fig.suptitle("Loss plane through the spawn point and the two children (end of training)")
    return save_png(fig, path)


def _ticks(lo: float, hi: float) -> list[float]:
    """lo, hi and the 1-2-5 values between them (at most about eight)."""
    inside = [
        m * 10.0**e
        for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
        for m in (1, 2, 5)
        if lo * 1.15 < m * 10.0**e < hi / 1.15
    ]
    every = max(1, math.ceil(len(inside) / 6))
    return [lo, *inside[::every], hi]


def _panel(
    ax: Axes, rec: ProbeRecord, p: Plane, norm: LogNorm, levels: np.ndarray
) -> QuadContourSet:
    sl = p.slice
    vmin, vmax = norm.vmin, norm.vmax
    assert vmin is not None and vmax is not None  # loss_plane's norm has both
    grid = np.array(sl.loss, dtype=float)
    grid = np.where(np.isfinite(grid), grid, vmax)
    grid = np.clip(grid, vmin, vmax)
    uu, vv = np.meshgrid(np.array(sl.u), np.array(sl.v))
    image = ax.contourf(uu, vv, grid, levels=levels, norm=norm, cmap="viridis")
    ax.contour(uu, vv, grid, levels=levels, norm=norm, colors="k", linewidths=0.3, alpha=0.4)
    if sl.path:
        path = np.array(sl.path)
        ax.plot(path[:, 0], path[:, 1], color="white", lw=1.6, label="θ_A → θ_B")
    for name, traj in sl.trajectories.items():
        pts = np.array(traj.coords)
        if not len(pts):
            continue
        style = "--" if name == "parent" else ":"
        ax.plot(pts[:, 0], pts[:, 1], style, color="orange", lw=1.2, marker=".", ms=5)
        steps: list[int | None] = list(traj.steps) if traj.steps else [None] * len(pts)
        for (x, y), step in zip(pts, steps, strict=True):
            if name == "parent" and step is not None:
                ax.annotate(f"{step}", (x, y), fontsize=6, color="orange", xytext=(2, 2),
                            textcoords="offset points")  # fmt: skip
    labels = {"spawn": "θ_s", "a": "θ_A", "b": "θ_B"}
    for k, ((x, y), (marker, color, size)) in enumerate(zip(sl.points, POINT_STYLE, strict=True)):
        name = labels.get(sl.labels[k], sl.labels[k]) if k < len(sl.labels) else f"p{k}"
        loss = sl.point_loss[k] if k < len(sl.point_loss) else math.nan
        ax.plot([x], [y], marker=marker, color=color, ms=size, mec="white", mew=0.8, ls="none")
        ax.annotate(f"{name}\n{loss:.3g}", (x, y), fontsize=7, color="white", xytext=(4, -12),
                    textcoords="offset points")  # fmt: skip
    ax.set_xlim(min(sl.u), max(sl.u))  # trajectory points beyond the grid are cut off
    ax.set_ylim(min(sl.v), max(sl.v))
    pair = "-".join(str(i) for i in rec.pair or ())
    ax.set_title(f"{label_of(rec)}: pair {pair}, step {rec.step}, {p.split}", fontsize=9)
    origin = "θ_s" if sl.labels and sl.labels[0] == "spawn" else "the inits' midpoint"
    ax.set_xlabel(f"u (along θ_A − {origin})", fontsize=8)
    ax.set_ylabel("v", fontsize=8)
    ax.tick_params(labelsize=7)
    return image
