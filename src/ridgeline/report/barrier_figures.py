"""The barrier figures: the instability plot (final barrier against spawn step), the barrier
over training, and the curves along the linear path between the children (docs/design.md §2)."""

from __future__ import annotations

from pathlib import Path

from ridgeline.report.figure_style import (
    QUANTITIES,
    SPLIT_STYLE,
    SPLITS,
    STABLE_LINE,
    Records,
    finish_split_grid,
    outside_legend,
    sd_band,
    settings_of,
    split_grid,
)
from ridgeline.report.records import barrier_value, by_series, finals, label_of, mean, stat
from ridgeline.tracking.plotting import plt, save_png, spawn_step_axis


def instability(records: Records, path: Path) -> Path | None:
    """Barrier between the children at the end of training vs spawn step: error and loss,
    test and train, mean ± s.d. over seeds, the independent-init level, the 2 % line, and the
    same after permutation alignment where the records hold it (``aligned``)."""
    fin = finals(records)
    spawn = [r for r in fin if r.kind == "spawn"]
    if not spawn:
        return None
    independent = [r for r in fin if r.kind == "independent"]
    settings = settings_of(spawn)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (quantity, kind, scale, ylabel) in zip(axes, QUANTITIES, strict=True):
        ci = 0
        for setting in settings:
            mine = [r for r in spawn if r.setting == setting]
            ks = sorted({r.spawn_step for r in mine if r.spawn_step is not None})
            for split in SPLITS:
                marker, ls = SPLIT_STYLE[split]
                plain = barrier_value(split, quantity, kind)
                aligned_value = barrier_value(split, quantity, kind, aligned=True)
                stats = [stat([r for r in mine if r.spawn_step == k], plain, scale) for k in ks]
                pts = [(k, s) for k, s in zip(ks, stats, strict=True) if s.mean is not None]
                if not pts:
                    continue
                xs = [k for k, _ in pts]
                color = f"C{ci % 10}"
                ci += 1
                unit = pts[0][1].unit
                nmax = max(s.n for _, s in pts)
                tag = f"{split}" + (f", {setting}" if setting else "")
                label = f"spawned children, {tag}"
                if nmax > 1:
                    label += f" (mean ± s.d., {nmax} {unit})"
                ax.plot(
                    xs, [s.mean for _, s in pts], marker=marker, ls=ls, color=color, label=label
                )
                if nmax > 1:
                    sd_band(ax, xs, [s for _, s in pts], color, alpha=0.15)
                aligned_stats = [
                    stat([r for r in mine if r.spawn_step == k], aligned_value, scale) for k in ks
                ]
                aligned = [
                    (k, s) for k, s in zip(ks, aligned_stats, strict=True) if s.mean is not None
                ]
                if aligned:
                    ax.plot(
                        [k for k, _ in aligned],
                        [s.mean for _, s in aligned],
                        marker="x",
                        ls=ls,
                        lw=0.8,
                        color=color,
                        label=f"spawned children, aligned, {tag}",
                    )
                ours = [r for r in independent if r.setting == setting]
                ind = stat(ours, plain, scale)
                if ind.mean is not None:
                    ax.axhline(ind.mean, ls=":", color=color, label=f"different inits, {tag}")
                ind = stat(ours, aligned_value, scale)
                if ind.mean is not None:
                    ax.axhline(
                        ind.mean,
                        ls=(0, (6, 2, 1, 2)),
                        lw=0.9,
                        color=color,
                        label=f"different inits, aligned, {tag}",
                    )
        if quantity == "error":
            ax.axhline(100 * STABLE_LINE, color="red", lw=0.9, ls="-.", label="2 % stability line")
        spawn_step_axis(ax)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].set_title("error barrier (percentage points)", fontsize=10)
    axes[1].set_title("loss barrier", fontsize=10)
    outside_legend(fig, axes)
    fig.suptitle("Instability: barrier between the children at the end of training")
    fig.tight_layout()
    return save_png(fig, path)


def barrier_over_training(records: Records, path: Path, split: str | None = None) -> Path | None:
    """Barrier between the children at every probe step, one line per spawn step.

    Rows: error (endpoint-mean) and loss (midpoint) barrier; columns: test and train (or only
    ``split``). Mean over seeds, band ± 1 s.d.
    """
    series = by_series(records)
    if not series:
        return None
    splits, fig, axes, colors = split_grid(series, split)
    for key, recs in series.items():
        color = colors.get(key, "black")
        ls = "-" if key[1] == 0 else ":"
        steps = sorted({r.step for r in recs})
        for col, sp in enumerate(splits):
            for row, (quantity, kind, scale, ylabel) in enumerate(QUANTITIES):
                ax = axes[row][col]
                value = barrier_value(sp, quantity, kind)
                stats = [stat([r for r in recs if r.step == s], value, scale) for s in steps]
                pts = [(s, st) for s, st in zip(steps, stats, strict=True) if st.mean is not None]
                if not pts:
                    continue
                xs = [s for s, _ in pts]
                ax.plot(
                    xs, [st.mean for _, st in pts], ".", ls=ls, color=color, label=label_of(recs[0])
                )
                if max(st.n for _, st in pts) > 1:
                    sd_band(ax, xs, [st for _, st in pts], color, alpha=0.12)
                ax.set_ylabel(ylabel)
                ax.set_title(f"{sp} split", fontsize=10)
    for col in range(len(splits)):
        axes[0][col].axhline(
            100 * STABLE_LINE, color="red", lw=0.9, ls="-.", label="2 % stability line"
        )
    xlabel = "training iteration (counted from the parent's init)"
    title = "Barrier between the children during their training"
    return finish_split_grid(fig, axes, xlabel, title, path)


def barrier_curves(records: Records, path: Path, split: str | None = None) -> Path | None:
    """Error and loss along θ_α between the children at the end of training, per spawn step."""
    series = by_series(finals(records))
    if not series:
        return None
    splits, fig, axes, colors = split_grid(series, split)
    drawn = False
    for key, recs in series.items():
        color = colors.get(key, "black")
        ls = "-" if key[1] == 0 else ":"
        for col, sp in enumerate(splits):
            curves = [r.barrier[sp] for r in recs if sp in r.barrier and r.barrier[sp].alphas]
            if not curves:
                continue
            alphas = curves[0].alphas
            same = [c for c in curves if c.alphas == alphas]
            for row, (quantity, scale) in enumerate((("error", 100.0), ("loss", 1.0))):
                ys = [mean([getattr(c, quantity)[i] for c in same]) for i in range(len(alphas))]
                pts = [(a, y * scale) for a, y in zip(alphas, ys, strict=True) if y is not None]
                if pts:
                    axes[row][col].plot(
                        *zip(*pts, strict=True), ".", ls=ls, color=color, label=label_of(recs[0])
                    )
                    drawn = True
    if not drawn:
        plt.close(fig)
        return None
    for col, sp in enumerate(splits):
        axes[0][col].set_ylabel(f"{sp} error of θ$_α$ (%)")
        axes[1][col].set_ylabel(f"{sp} loss of θ$_α$ (nats)")
        axes[0][col].set_title(f"{sp} split", fontsize=10)
    title = "Linear paths between the children at the end of training (mean over seeds)"
    return finish_split_grid(fig, axes, "α   (θ$_α$ = (1−α)θ$_A$ + αθ$_B$)", title, path)
