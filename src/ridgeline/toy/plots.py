"""Figures of the toy examples (matplotlib Agg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.colors import LogNorm

from ridgeline.toy.scalar import ToyRun
from ridgeline.tracking.plotting import plt, save_png, spawn_colors, spawn_step_axis


def scalar_figure(run: ToyRun, path: Path, extent: float = 2.0) -> Path:
    """Contour of L = (w₁w₂ − 1)² with parent and children trajectories and the straight lines
    between the children (left), loss along those lines (middle), barrier and prediction vs k."""
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.4), gridspec_kw={"width_ratios": [1.15, 1, 1]})
    ax = axes[0]
    g = np.linspace(-extent, extent, 301)
    w1, w2 = np.meshgrid(g, g)
    z = (w1 * w2 - 1.0) ** 2 + 1e-3
    cs = ax.contourf(
        w1,
        w2,
        z,
        levels=np.logspace(-3, np.log10(z.max()), 30),
        norm=LogNorm(),
        cmap="Greys_r",
        alpha=0.85,
    )
    fig.colorbar(
        cs,
        ax=ax,
        label="L(w₁, w₂) = (w₁w₂ − 1)² (+10⁻³ for the log scale)",
        ticks=[1e-3, 1e-2, 1e-1, 1, 10],
    )
    h = np.linspace(0.45, extent, 100)
    ax.plot(h, 1 / h, color="tab:green", lw=1, label="valleys w₁w₂ = 1 (L = 0)")
    ax.plot(-h, -1 / h, color="tab:green", lw=1)
    ax.axhline(0, color="tab:red", lw=1, ls="--", label="ridge w₁w₂ = 0 (L = 1)")
    ax.axvline(0, color="tab:red", lw=1, ls="--")
    parent = run.parent.numpy()
    ax.plot(parent[:, 0], parent[:, 1], color="magenta", lw=1.4, label="parent")
    colors = spawn_colors(len(run.spawns))
    for s, color in zip(run.spawns, colors, strict=True):
        kids = s.children.numpy()
        i = s.shown
        for c in (2 * i, 2 * i + 1):
            ax.plot(kids[:, c, 0], kids[:, c, 1], color=color, lw=0.8, alpha=0.9)
        a, b = s.pair.theta_a, s.pair.theta_b
        ax.plot([a[0], b[0]], [a[1], b[1]], ls=":", color=color, lw=1.6)
        ax.plot(
            *s.spawn_point,
            marker="*",
            ms=11,
            color=color,
            mec="black",
            mew=0.5,
            label=f"spawn k = {s.spawn_step}",
            ls="none",
        )
        ax.plot([a[0], b[0]], [a[1], b[1]], "o", ms=4, color=color, mec="black", mew=0.5)
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    ax.set_xlabel("w₁")
    ax.set_ylabel("w₂")
    ax.set_title(
        "Children (solid) from spawn points (★), straight line between them (dotted)", fontsize=9
    )
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.12), ncol=3, framealpha=0.9)
    ax = axes[1]
    for s, color in zip(run.spawns, colors, strict=True):
        ax.plot(s.pair.alphas, s.pair.loss, ".-", color=color, label=f"k = {s.spawn_step}")
    ax.set_xlabel("α   (θ$_α$ = (1−α)θ$_A$ + αθ$_B$, drawn pair)")
    ax.set_ylabel("L(θ$_α$)")
    ax.set_title("Loss along the straight line between the drawn children", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, title="spawn step", title_fontsize=7)
    ax = axes[2]
    ks = [s.spawn_step for s in run.spawns]
    n = len(run.spawns[0].pairs)
    for s in run.spawns:
        ax.plot(
            [s.spawn_step] * n,
            [p.midpoint for p in s.pairs],
            "o",
            color="tab:blue",
            alpha=0.15,
            ms=4,
        )
    ax.plot(
        ks,
        [s.mean("midpoint") for s in run.spawns],
        "o-",
        color="tab:blue",
        label=f"measured B_mid = L(θ$_{{½}}$) − ½(L$_A$+L$_B$), mean of {n} pairs",
    )
    ax.plot(
        ks,
        [s.mean("predicted") for s in run.spawns],
        "s--",
        color="tab:orange",
        label="predicted −⅛ΔᵀH(θ$_{½}$)Δ, mean of pairs",
    )
    ax.plot(
        ks,
        [s.split_fraction for s in run.spawns],
        "^:",
        color="tab:red",
        label="fraction of pairs in opposite valleys",
    )
    ax.axhline(1.0, color="grey", lw=0.8, ls="-.", label="analytic B_mid = 1 (opposite valleys)")
    spawn_step_axis(ax)
    ax.set_ylabel("barrier (loss units) / fraction")
    ax.set_title("Barrier vs spawn step (light dots: single pairs)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.12))
    fig.suptitle(
        "Toy: L(w₁, w₂) = (w₁w₂ − 1)²: children spawned on the ridge fall into opposite "
        "valleys, children spawned on a mountainside stay in one"
    )
    fig.tight_layout()
    return save_png(fig, Path(path))
