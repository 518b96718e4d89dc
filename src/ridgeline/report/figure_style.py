"""What the report's figures share: the barrier quantities and their labels, the splits' styles,
the legends, the ± 1 s.d. bands, and the split-by-row grid of the barrier figures."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ridgeline.records.probe_record import ProbeRecord
from ridgeline.report.records import Stat
from ridgeline.tracking.plotting import plt, save_png, spawn_colors

STABLE_LINE = 0.02  # Frankle et al. 2020: error barrier below 2 % = stable
ERR_LABEL = "error barrier (pp)\nendpoint-mean: max$_α$ E(θ$_α$) − ½(E$_A$+E$_B$)"
LOSS_LABEL = "loss barrier (nats)\nmidpoint: L(θ$_{½}$) − ½(L$_A$+L$_B$)"
# (quantity, barrier variant, display scale, axis label)
QUANTITIES = (
    ("error", "endpoint_mean", 100.0, ERR_LABEL),
    ("loss", "midpoint", 1.0, LOSS_LABEL),
)
Records = Sequence[ProbeRecord]
SPLITS = ("test", "train")
SPLIT_STYLE = {"test": ("o", "-"), "train": ("s", "--")}


def sd_band(ax: Axes, xs: Sequence[Any], stats: Sequence[Stat], color: str, alpha: float) -> None:
    """Shade mean ± 1 s.d. of each point's statistic (the drawn points': each has both)."""
    spread = [(st.mean, st.std) for st in stats if st.mean is not None and st.std is not None]
    lows = [m - sd for m, sd in spread]
    highs = [m + sd for m, sd in spread]
    ax.fill_between(xs, lows, highs, color=color, alpha=alpha, lw=0)


def legend(ax: Axes, **kw: Any) -> None:
    """The axes' legend, where it has labelled artists."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=7, **kw)


def settings_of(records: Records) -> list[str]:
    """The sweep settings of ``records``, sorted."""
    return sorted({r.setting for r in records})


def outside_legend(fig: Figure, axes: Iterable[Axes], title: str | None = None) -> None:
    """One legend for the figure, right of the axes (deduplicated labels)."""
    seen: dict[str, Artist] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(lab, h)
    if seen:
        fig.legend(
            list(seen.values()),
            list(seen.keys()),
            loc="center left",
            bbox_to_anchor=(1.0, 0.5),
            fontsize=8,
            title=title,
            title_fontsize=8,
        )


def split_grid(
    series: dict[Any, list[ProbeRecord]], split: str | None
) -> tuple[list[str], Figure, Any, dict[Any, str]]:
    """The splits drawn (``split``, or test and train), a figure of error (top) and loss
    (bottom) rows by split columns, and a colour per spawned series (``series`` keys ``(k, 0)``)."""
    splits = [split] if split else list(SPLITS)
    fig, axes = plt.subplots(2, len(splits), figsize=(5.2 * len(splits) + 1.5, 7), squeeze=False)
    spawn_keys = [k for k in series if k[1] == 0]
    colors = dict(zip(spawn_keys, spawn_colors(len(spawn_keys)), strict=True))
    return splits, fig, axes, colors


def finish_split_grid(fig: Figure, axes: Any, xlabel: str, title: str, path: Path) -> Path:
    """Label and grid every panel of a :func:`split_grid`, one legend of the spawn steps right of
    it, the title; written to ``path``."""
    for row in range(2):
        for ax in axes[row]:
            ax.set_xlabel(xlabel)
            ax.grid(alpha=0.3)
    outside_legend(fig, axes.ravel(), title="children spawned at")
    fig.suptitle(title)
    fig.tight_layout()
    return save_png(fig, path)
