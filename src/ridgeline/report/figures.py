"""Figures of an instability analysis, drawn from probe records only (PNG, matplotlib Agg).

Every function takes a list of typed records (:class:`~ridgeline.store.typed.ProbeRecord`, from
one run, or the records of a sweep with their ``job`` and ``setting``, see
:mod:`ridgeline.report.collect`) and a path, and returns the
path written or None when the records hold nothing to draw. Phases with the same spawn step in
different jobs of a sweep (seeds) are averaged; bands show ± 1 s.d. over seeds (over child
pairs within one run).

Barrier definitions (docs/design.md §2): error barrier = endpoint-mean max_α E(θ_α) − ½(E_A + E_B)
(Frankle et al.), loss barrier = midpoint L(θ_½) − ½(L_A + L_B); predicted = −⅛ΔᵀH(θ_½)Δ.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ridgeline.report.records import (
    barrier_value,
    by_series,
    finals,
    label_of,
    mean,
    stat,
)
from ridgeline.store.statistics import fit_text, has_layers, layer_grid, prediction_points
from ridgeline.store.typed import ProbeRecord
from ridgeline.tracking.plotting import (
    heatmap,
    plt,
    save_png,
    spawn_colors,
    spawn_step_axis,
    zero_centred_norm,
)

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


def _sd_band(ax, xs, stats, color, alpha: float) -> None:
    """Shade mean ± 1 s.d. of each point's statistic."""
    lows = [st.mean - st.std for st in stats]
    highs = [st.mean + st.std for st in stats]
    ax.fill_between(xs, lows, highs, color=color, alpha=alpha, lw=0)


def _legend(ax, **kw) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=7, **kw)


def _settings(records: Records) -> list[str]:
    return sorted({r.setting for r in records})


def _outside_legend(fig, axes, title: str | None = None) -> None:
    """One legend for the figure, right of the axes (deduplicated labels)."""
    seen: dict[str, object] = {}
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


# ---------------------------------------------------------------------------------------------
def instability(records: Records, path: Path) -> Path | None:
    """Barrier between the children at the end of training vs spawn step: error and loss,
    test and train, mean ± s.d. over seeds, the independent-init level, the 2 % line, and the
    same after permutation alignment where the records hold it (``aligned``)."""
    fin = finals(records)
    spawn = [r for r in fin if r.kind == "spawn"]
    if not spawn:
        return None
    independent = [r for r in fin if r.kind == "independent"]
    settings = _settings(spawn)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (quantity, kind, scale, ylabel) in zip(axes, QUANTITIES, strict=True):
        ci = 0
        for setting in settings:
            mine = [r for r in spawn if r.setting == setting]
            ks = sorted({r.spawn_step for r in mine})
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
                    _sd_band(ax, xs, [s for _, s in pts], color, alpha=0.15)
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
    _outside_legend(fig, axes)
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
    splits = [split] if split else list(SPLITS)
    fig, axes = plt.subplots(2, len(splits), figsize=(5.2 * len(splits) + 1.5, 7), squeeze=False)
    spawn_keys = [k for k in series if k[1] == 0]
    colors = dict(zip(spawn_keys, spawn_colors(len(spawn_keys)), strict=True))
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
                    _sd_band(ax, xs, [st for _, st in pts], color, alpha=0.12)
                ax.set_ylabel(ylabel)
                ax.set_title(f"{sp} split", fontsize=10)
    for col in range(len(splits)):
        axes[0][col].axhline(
            100 * STABLE_LINE, color="red", lw=0.9, ls="-.", label="2 % stability line"
        )
        for row in range(2):
            axes[row][col].set_xlabel("training iteration (counted from the parent's init)")
            axes[row][col].grid(alpha=0.3)
    _outside_legend(fig, axes.ravel(), title="children spawned at")
    fig.suptitle("Barrier between the children during their training")
    fig.tight_layout()
    return save_png(fig, path)


def mountainside(records: Records, path: Path, split: str = "test") -> Path | None:
    """Left: loss along the segment θ_s → θ_child at the end of training, one line per spawn
    step (child A solid, child B dashed). Right: angle at θ_s between the children vs k."""
    fin = [r for r in finals(records) if r.kind == "spawn"]
    series = by_series(fin)
    if not series:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.3))
    colors = spawn_colors(len(series))
    drawn = False
    for recs, color in zip(series.values(), colors, strict=True):
        first = [r for r in recs if "a" in r.profiles.get(split, {})]
        if not first:
            continue
        # Loss profiles differ in their α-grid only by configuration: average when grids agree.
        for child, ls in (("a", "-"), ("b", "--")):
            profs = [r.profiles[split].get(child) for r in first]
            profs = [p for p in profs if p is not None and p.loss]
            if not profs:
                continue
            alphas = profs[0].alphas
            same = [p for p in profs if p.alphas == alphas]
            ys = [mean([p.loss[i] for p in same]) for i in range(len(alphas))]
            pts = [(a, y) for a, y in zip(alphas, ys, strict=True) if y is not None]
            label = label_of(recs[0]) if child == "a" else None
            axes[0].plot(*zip(*pts, strict=True), ls=ls, marker=".", color=color, label=label)
            drawn = True
    if not drawn:
        plt.close(fig)
        return None
    axes[0].set_yscale("log")
    axes[0].set_xlabel("position t on θ$_s$ + t(θ$_{child}$ − θ$_s$)  (0 = spawn point, 1 = child)")
    axes[0].set_ylabel(f"{split} loss (nats, log scale)")
    axes[0].set_title(
        "Mountainside: loss from the spawn point to each child\n"
        "(solid: child A, dashed: child B, at the end of training)",
        fontsize=9,
    )
    axes[0].grid(alpha=0.3, which="both")
    _legend(axes[0], title="spawn step", title_fontsize=7)
    # Angle panel: one line per sweep setting.
    for ci, setting in enumerate(_settings(fin)):
        mine = [r for r in fin if r.setting == setting]
        ks = sorted({r.spawn_step for r in mine})
        stats = [stat([r for r in mine if r.spawn_step == k], _angle) for k in ks]
        pts = [(k, s) for k, s in zip(ks, stats, strict=True) if s.mean is not None]
        if not pts:
            continue
        xs = [k for k, _ in pts]
        axes[1].errorbar(
            xs,
            [s.mean for _, s in pts],
            yerr=[s.std for _, s in pts],
            marker="o",
            color=f"C{ci}",
            capsize=3,
            label=setting or "angle at θ$_s$",
        )
    axes[1].axhline(90, color="grey", lw=0.8, ls=":", label="90° (orthogonal)")
    spawn_step_axis(axes[1])
    axes[1].set_ylabel("angle between θ$_A$ − θ$_s$ and θ$_B$ − θ$_s$ (degrees)")
    axes[1].set_title(
        "Angle at the spawn point at the end of training\n(mean ± s.d. over seeds or pairs)",
        fontsize=9,
    )
    axes[1].grid(alpha=0.3)
    _legend(axes[1])
    fig.tight_layout()
    return save_png(fig, path)


def _angle(r: ProbeRecord) -> float | None:
    return r.geometry.angle_deg if r.geometry is not None else None


def _diag(ax, xs, ys) -> None:
    lo, hi = min([*xs, *ys, 0.0]), max([*xs, *ys, 0.0])
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot(
        [lo - pad, hi + pad],
        [lo - pad, hi + pad],
        color="grey",
        lw=0.8,
        label="prediction = measurement",
    )
    ax.axhline(0, color="k", lw=0.4)
    ax.axvline(0, color="k", lw=0.4)


def predicted_vs_measured(records: Records, path: Path, split: str = "test") -> Path | None:
    """−⅛ΔᵀH(θ_½)Δ against the measured midpoint loss barrier at every probe point (left),
    and per layer (right), with Pearson r and the least-squares slope; the points and the fit
    are :func:`ridgeline.store.statistics.prediction_points` and ``fit_text``."""
    pts = prediction_points(records, split)
    if not pts["network"] and not pts["layers"]:
        return None
    # without per-layer predictions (probe.curvature.layerwise off) only the left panel is drawn
    panels = 2 if pts["layers"] else 1
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.8), squeeze=False)
    axes = axes[0]
    ax = axes[0]
    if pts["network"]:
        ms = [pt.measured for pt in pts["network"]]
        ps = [pt.predicted for pt in pts["network"]]
        ks = [pt.record.spawn_step for pt in pts["network"]]
        spawn_ks = sorted({k for k in ks if k is not None})
        colors = dict(zip(spawn_ks, spawn_colors(len(spawn_ks)), strict=True))
        for k in [*spawn_ks, None]:
            sel = [(m, p) for m, p, kk in zip(ms, ps, ks, strict=True) if kk == k]
            if sel:
                ax.scatter(
                    *zip(*sel, strict=True),
                    s=16,
                    color=colors.get(k, "black"),
                    marker="o" if k is not None else "x",
                    label=f"k = {k}" if k is not None else "different inits",
                )
        _diag(ax, ms, ps)
        ax.set_title(f"Full network ({len(ms)} probe points, {fit_text(ms, ps)})", fontsize=9)
    ax.set_xlabel(f"measured midpoint loss barrier, {split} (nats)\nL(θ$_{{½}}$) − ½(L$_A$+L$_B$)")
    ax.set_ylabel("predicted barrier −⅛ ΔᵀH(θ$_{½}$)Δ (nats)")
    ax.grid(alpha=0.3)
    _legend(ax, title="spawn step", title_fontsize=7)
    if pts["layers"]:
        ax = axes[1]
        names = list(dict.fromkeys(pt.layer for pt in pts["layers"]))
        cmap = plt.get_cmap("tab20" if len(names) > 10 else "tab10")
        for i, name in enumerate(names):
            sel = [(pt.measured, pt.predicted) for pt in pts["layers"] if pt.layer == name]
            ax.scatter(*zip(*sel, strict=True), s=14, color=cmap(i % cmap.N), label=name)
        ms = [pt.measured for pt in pts["layers"]]
        ps = [pt.predicted for pt in pts["layers"]]
        _diag(ax, ms, ps)
        ax.set_title(f"Per layer ({len(ms)} points, {fit_text(ms, ps)})", fontsize=9)
        ncol = 1 if len(names) <= 12 else 2
        ax.legend(
            fontsize=6,
            ncol=ncol,
            loc="center left",
            bbox_to_anchor=(1.0, 0.5),
            title="layer",
            title_fontsize=7,
        )
        ax.set_xlabel(
            f"measured single-layer midpoint loss barrier, {split} (nats)\n"
            "only layer ℓ interpolated, rest of θ$_A$, own endpoints"
        )
        ax.set_ylabel("predicted −⅛ Δ$_ℓ$ᵀH$_{ℓℓ}$(θ$^{ℓ,½}$)Δ$_ℓ$ (nats)")
        ax.grid(alpha=0.3)
    title = "Second-order barrier prediction vs measurement (every probe point with Δ ≠ 0)"
    if not pts["layers"]:
        title = (
            "Second-order barrier prediction vs measurement\n"
            "(probe points with Δ ≠ 0; per-layer predictions not recorded)"
        )
    fig.suptitle(title, fontsize=11 if panels == 1 else 12)
    fig.tight_layout()
    return save_png(fig, path)


def barrier_curves(records: Records, path: Path, split: str | None = None) -> Path | None:
    """Error and loss along θ_α between the children at the end of training, per spawn step."""
    series = by_series(finals(records))
    if not series:
        return None
    splits = [split] if split else list(SPLITS)
    fig, axes = plt.subplots(2, len(splits), figsize=(5.2 * len(splits) + 1.5, 7), squeeze=False)
    spawn_keys = [k for k in series if k[1] == 0]
    colors = dict(zip(spawn_keys, spawn_colors(len(spawn_keys)), strict=True))
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
        for row in range(2):
            axes[row][col].set_xlabel("α   (θ$_α$ = (1−α)θ$_A$ + αθ$_B$)")
            axes[row][col].grid(alpha=0.3)
    _outside_legend(fig, axes.ravel(), title="children spawned at")
    fig.suptitle("Linear paths between the children at the end of training (mean over seeds)")
    fig.tight_layout()
    return save_png(fig, path)


# ---------------------------------------------------------------------------------------------
def layerwise_heatmaps(
    records: Records, path: Path, split: str = "test", max_rows: int = 6
) -> Path | None:
    """Layer × checkpoint heatmaps, measured (left) and predicted (right), one row per spawn
    step (at most ``max_rows`` evenly chosen, plus different inits), on one colour scale."""
    series = {k: v for k, v in by_series(records).items() if any(has_layers(r, split) for r in v)}
    if not series:
        return None
    keys = list(series)
    spawn = [k for k in keys if k[1] == 0]
    if len(spawn) > max_rows:
        idx = sorted({round(i * (len(spawn) - 1) / (max_rows - 1)) for i in range(max_rows)})
        spawn = [spawn[i] for i in idx]
    keys = spawn + [k for k in keys if k[1] != 0]
    rows = [
        (k, layer_grid(series[k], split, "measured"), layer_grid(series[k], split, "predicted"))
        for k in keys
    ]
    n_layers = max(max(len(m[0]), len(p[0])) for _, m, p in rows)
    # without any predicted values (probe.curvature.layerwise off) only the measured column
    predicted = any(p[0] and p[1] for _, _, p in rows)
    kinds = ("measured", "predicted") if predicted else ("measured",)
    fig, axes = plt.subplots(
        len(rows),
        len(kinds),
        squeeze=False,
        layout="constrained",
        figsize=(5.5 * len(kinds) + 0.8, max(2.2, 0.28 * n_layers + 1.4) * len(rows) + 0.8),
    )
    for i, (key, meas, pred) in enumerate(rows):
        title = label_of(series[key][0])
        # one scale per row: measured and predicted comparable
        norm = zero_centred_norm([meas[2], pred[2]])
        image = None
        for j, what in enumerate(kinds):
            grid = meas if what == "measured" else pred
            ax = axes[i][j]
            if not grid[0] or not grid[1]:
                ax.text(
                    0.5,
                    0.5,
                    f"no {what} layer-wise values",
                    ha="center",
                    va="center",
                    transform=ax.transAxes,
                    fontsize=8,
                )
                ax.set_axis_off()
                continue
            image = heatmap(ax, *grid, norm)
            ax.set_title(f"{what}, {title}", fontsize=9)
        if image is not None:
            fig.colorbar(image, ax=list(axes[i]), pad=0.015, label="barrier (nats)")
    head = (
        f"Layer-wise midpoint loss barrier ({split}, nats): "
        "only layer ℓ interpolated, rest of θ$_A$"
    )
    if predicted:
        body = (
            "left: measured L(θ$^{ℓ,½}$) − ½(own endpoints); right: predicted "
            "−⅛ Δ$_ℓ$ᵀH$_{ℓℓ}$(θ$^{ℓ,½}$)Δ$_ℓ$; red = barrier (ridge), blue = negative"
        )
    else:
        body = (
            "measured L(θ$^{ℓ,½}$) − ½(own endpoints); red = barrier (ridge), blue = negative\n"
            "(per-layer predictions not recorded: probe.curvature.layerwise off)"
        )
    fig.suptitle(f"{head}\n{body}", fontsize=10 if predicted else 9)
    return save_png(fig, path)
