"""The second-order prediction figures: −⅛ΔᵀH(θ_½)Δ against the measured barrier (whole network
and per layer), and the layer × checkpoint heatmaps of measured and predicted layer barriers."""

from __future__ import annotations

from pathlib import Path

from ridgeline.records.statistics import fit_text, has_layers, layer_grid, prediction_points
from ridgeline.report.figure_style import Records, legend
from ridgeline.report.records import by_series, label_of
from ridgeline.tracking.plotting import (
    heatmap,
    plt,
    save_png,
    spawn_colors,
    zero_centred_norm,
)


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
    are :func:`ridgeline.records.statistics.prediction_points` and ``fit_text``."""
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
        colors: dict[int | None, str] = dict(
            zip(spawn_ks, spawn_colors(len(spawn_ks)), strict=True)
        )
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
    legend(ax, title="spawn step", title_fontsize=7)
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
