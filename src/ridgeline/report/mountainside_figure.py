"""The mountainside figure: the loss from the spawn point to each child, and the angle at the
spawn point between the children, against the spawn step (docs/design.md §5)."""

from __future__ import annotations

from pathlib import Path

from ridgeline.records.probe_record import ProbeRecord
from ridgeline.report.figure_style import Records, legend, settings_of
from ridgeline.report.records import by_series, finals, label_of, mean, stat
from ridgeline.tracking.plotting import plt, save_png, spawn_colors, spawn_step_axis


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
            found = [r.profiles[split].get(child) for r in first]
            profs = [p for p in found if p is not None and p.loss]
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
    legend(axes[0], title="spawn step", title_fontsize=7)
    # Angle panel: one line per sweep setting.
    for ci, setting in enumerate(settings_of(fin)):
        mine = [r for r in fin if r.setting == setting]
        ks = sorted({r.spawn_step for r in mine if r.spawn_step is not None})
        stats = [stat([r for r in mine if r.spawn_step == k], _angle) for k in ks]
        angles = [(k, s) for k, s in zip(ks, stats, strict=True) if s.mean is not None]
        if not angles:
            continue
        xs = [k for k, _ in angles]
        axes[1].errorbar(
            xs,
            [s.mean for _, s in angles],
            yerr=[s.std for _, s in angles],
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
    legend(axes[1])
    fig.tight_layout()
    return save_png(fig, path)


def _angle(r: ProbeRecord) -> float | None:
    return r.geometry.angle_deg if r.geometry is not None else None
