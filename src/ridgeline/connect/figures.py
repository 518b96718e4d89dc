"""The bent-path figure: loss along t on the fitted curve and on the line, one panel per phase."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ridgeline.connect.bent_path_record import ConnectRecord
from ridgeline.tracking.plotting import plt, save_png, spawn_colors

__all__ = ["CAPTION", "FIGURE_NAME", "curve_figure"]

FIGURE_NAME = "bent_paths"
CAPTION = (
    "Bent paths (ridgeline-connect; Garipov et al. 2018). Loss along t between two children at "
    "the end of training, one panel per phase (spawn step k, or different inits): solid, the "
    "fitted curve φ(t) (quadratic Bezier or one-bend polygonal chain, its bend trained on "
    "E_t L(φ(t)) over training batches); dashed, the straight line (1−t)θ_A + tθ_B; one colour "
    "per pair. A curve that stays flat where the line has a hump joins the children around "
    "the ridge; the legend gives both chord barriers (max_t L(t) − ((1−t)L_A + tL_B), nats)."
)


def _title(r: ConnectRecord) -> str:
    if r.phase_kind == "independent":
        return f"{r.phase} (different inits)"
    return f"{r.phase} (k = {r.spawn_step})"


def curve_figure(
    records: Sequence[ConnectRecord], out_dir: str | Path, name: str = FIGURE_NAME
) -> Path | None:
    """``<out_dir>/<name>.png`` from the records (None when there are none), drawn atomically.

    Panels in order of first appearance of (job label, phase); a record's label is its phase.
    """
    if not records:
        return None
    panels: dict[str, list[ConnectRecord]] = {}
    for r in records:
        panels.setdefault(_title(r), []).append(r)
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.4), squeeze=False, sharey=True)
    for ax, (title, rs) in zip(axes[0], panels.items(), strict=True):
        colors = spawn_colors(len(rs))
        for color, r in zip(colors, rs, strict=True):
            c = r.curve
            tag = f"{r.pair[0]}-{r.pair[1]} {c.kind}"
            ax.plot(
                c.ts,
                c.loss,
                "-",
                color=color,
                label=f"{tag}: curve {c.loss_barrier.chord:.3f}",
            )
            ax.plot(
                c.ts,
                c.line_loss,
                "--",
                color=color,
                label=f"{tag}: line {c.line_loss_barrier.chord:.3f}",
            )
        ax.set_title(title)
        ax.set_xlabel("t (0 = child A, 1 = child B)")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel(f"{records[0].split} loss (nats)")
    fig.tight_layout()
    return save_png(fig, Path(out_dir) / f"{name}.png")
