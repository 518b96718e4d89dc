"""Matplotlib pieces shared by the report, the probes' W&B images and the toys (Agg backend).

Atomic PNG output, the spawn-step axis, the colour sequence of spawn steps, and the layer ×
step heatmap on a colour scale centred at zero.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from ridgeline.store.layout import atomic_path  # noqa: E402

__all__ = ["heatmap", "plt", "save_png", "spawn_colors", "spawn_step_axis", "zero_centred_norm"]


def save_png(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` as PNG atomically (a reader never sees half a file); close it."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return path


def spawn_step_axis(ax) -> None:
    """Symmetric-log x axis for spawn steps so that k = 0 (initialisation) has a place."""
    ax.set_xscale("symlog", linthresh=1.0, linscale=0.5)
    ax.set_xlim(left=-0.3)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.set_xlabel("spawn step k (iterations, log scale; 0 = initialisation)")


def spawn_colors(n: int) -> list:
    """``n`` colours along viridis, early spawn steps dark, late ones light."""
    cmap = plt.get_cmap("viridis")
    return [cmap(0.9 * i / max(1, n - 1)) for i in range(n)]


def zero_centred_norm(grids: list[list[list[float]]]) -> TwoSlopeNorm:
    """One colour scale for several grids, symmetric about 0 (NaN cells ignored)."""
    vals = [v for g in grids for row in g for v in row if not math.isnan(v)]
    bound = max([abs(v) for v in vals] + [1e-12])
    return TwoSlopeNorm(vcenter=0.0, vmin=-bound, vmax=bound)


def heatmap(
    ax,
    layers: list[str],
    steps: list[int],
    grid: list[list[float]],
    norm: TwoSlopeNorm,
    cmap: str = "RdBu_r",
):
    """grid[layer][step] as an image (rows = layers, columns = probe steps); values written
    into the cells when the grid is small. Returns the image for a colour bar."""
    image = ax.imshow(grid, aspect="auto", cmap=cmap, norm=norm, interpolation="nearest")
    if len(layers) * len(steps) <= 48 and len(steps) <= 8:
        for i, row in enumerate(grid):
            for j, v in enumerate(row):
                if not math.isnan(v):
                    dark = abs(norm(v) - 0.5) > 0.3
                    ax.text(
                        j,
                        i,
                        f"{v:.3g}" if abs(v) >= 1e-4 else "≈0",
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white" if dark else "black",
                    )
    ax.set_yticks(range(len(layers)), layers, fontsize=7)
    every = max(1, math.ceil(len(steps) / 8))
    ticks = list(range(0, len(steps), every))
    ax.set_xticks(
        ticks, [str(steps[i]) for i in ticks], fontsize=7, rotation=45 if len(steps) > 5 else 0
    )
    ax.set_xlabel("probe step (iteration)", fontsize=8)
    return image
