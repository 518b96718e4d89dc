"""The reproduction's figure: the second-order prediction against the measured midpoint loss
barrier, whole network (top) and per layer (bottom); ReLU with max-pooling, ReLU with average
pooling and GELU with average pooling (smooth) side by side."""

from __future__ import annotations

from pathlib import Path

from ridgeline.records.statistics import fit_text
from ridgeline.reproduce.claims import FIT_MODELS, Runs
from ridgeline.reproduce.measures import prediction_points
from ridgeline.tracking.plotting import plt, save_png

LEVELS = (
    ("network", "whole network: −⅛ΔᵀH(θ$_½$)Δ", "L(θ$_½$) − ½(L$_A$ + L$_B$)"),
    ("layers", "per layer: −⅛Δ$_ℓ$ᵀH$_{ℓℓ}$(θ$^{ℓ,½}$)Δ$_ℓ$", "single-layer midpoint barrier"),
)


def prediction_figure(runs: Runs, seeds: list[int], path: Path) -> Path:
    """Scatter of (measured, predicted) over every probe with Δ ≠ 0, one colour per seed; each
    panel's title gives Pearson r and the least-squares slope of all its points pooled."""
    fig, axes = plt.subplots(2, len(FIT_MODELS), figsize=(5 * len(FIT_MODELS), 9), squeeze=False)
    colors = plt.get_cmap("tab10")
    for col, (experiment, label) in enumerate(FIT_MODELS):
        points = [prediction_points(run) for run in runs[experiment]]
        for row, (level, what, measured) in enumerate(LEVELS):
            ax = axes[row][col]
            pooled = [pt for p in points for pt in p[level]]
            for i, (seed, p) in enumerate(zip(seeds, points, strict=True)):
                if p[level]:
                    ax.scatter(
                        *zip(*p[level], strict=True),
                        s=14,
                        color=colors(i % 10),
                        label=f"seed {seed}",
                    )
            xs, ys = [m for m, _ in pooled], [q for _, q in pooled]
            lo, hi = min([*xs, *ys, 0.0]), max([*xs, *ys, 0.0])
            ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, label="prediction = measurement")
            ax.axhline(0, color="k", lw=0.4)
            ax.axvline(0, color="k", lw=0.4)
            fit = fit_text(xs, ys)
            ax.set_title(f"{label}, {what}\n{len(xs)} points pooled over seeds, {fit}", fontsize=9)
            ax.set_xlabel(f"measured {measured}, test (nats)", fontsize=8)
            ax.set_ylabel("predicted barrier (nats)", fontsize=8)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    fig.suptitle(
        "Second-order barrier prediction against measurement: ReLU against a smooth activation\n"
        "(the same small CNN; every probe of spawned children with Δ ≠ 0)",
        fontsize=11,
    )
    fig.tight_layout()
    return save_png(fig, path)
