"""Figures of an instability analysis, drawn from probe records only (PNG, matplotlib Agg)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ridgeline.report.records import Record, by_phase, final_records, get, mean, pair_records  # noqa: E402

STABLE_LINE = 0.02  # Frankle et al. 2020: error barrier below 2 % = stable


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path


def instability(records: list[Record], path: Path) -> Path | None:
    """Error and loss barrier at the end of training vs spawn step, train and test."""
    finals = final_records(records)
    spawn = sorted(
        (recs[0]["spawn_step"], recs) for recs in finals.values() if recs[0]["kind"] == "spawn"
    )
    if not spawn:
        return None
    independent = [recs for recs in finals.values() if recs[0]["kind"] == "independent"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    panels = [
        ("error", "endpoint_mean", "error barrier (endpoint-mean, Frankle et al.)"),
        ("loss", "midpoint", "loss barrier (midpoint)"),
    ]
    for ax, (quantity, kind, label) in zip(axes, panels, strict=True):
        for split, style in (("test", "o-"), ("train", "s--")):
            xs = [max(k, 0.5) for k, _ in spawn]
            ys = [
                mean([get(r, f"barrier.{split}.{quantity}_barrier.{kind}") for r in recs])
                for _, recs in spawn
            ]
            ax.plot(xs, ys, style, label=f"spawned children, {split}")
            if independent:
                level = mean(
                    [get(r, f"barrier.{split}.{quantity}_barrier.{kind}") for r in independent[0]]
                )
                if level is not None:
                    ax.axhline(level, ls=":", color=ax.lines[-1].get_color(),
                               label=f"different inits, {split}")
        if quantity == "error":
            ax.axhline(STABLE_LINE, color="grey", lw=0.8, label="2 % stability line")
        ax.set_xscale("log")
        ax.set_xlabel("spawn step k (iterations; k = 0 drawn at 0.5)")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    fig.suptitle("Instability: barrier between children at the end of training")
    return _save(fig, path)


def barrier_over_training(records: list[Record], path: Path, split: str = "test") -> Path | None:
    """Midpoint loss and endpoint-mean error barrier between the children over training."""
    phases = by_phase(pair_records(records))
    if not phases:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for phase, recs in sorted(phases.items()):
        label = "different inits" if recs[0]["kind"] == "independent" else f"k = {recs[0]['spawn_step']}"
        steps = sorted({r["step"] for r in recs})
        for ax, key in zip(
            axes,
            (f"barrier.{split}.error_barrier.endpoint_mean", f"barrier.{split}.loss_barrier.midpoint"),
            strict=True,
        ):
            ys = [mean([get(r, key) for r in recs if r["step"] == s]) for s in steps]
            ax.plot(steps, ys, ".-", label=label)
    axes[0].set_ylabel(f"{split} error barrier (endpoint-mean)")
    axes[1].set_ylabel(f"{split} loss barrier (midpoint, nats)")
    for ax in axes:
        ax.set_xlabel("iteration (since the parent's initialisation)")
        ax.legend(fontsize=7)
    fig.suptitle("Barrier between the children during training")
    return _save(fig, path)


def predicted_vs_measured(records: list[Record], path: Path, split: str = "test") -> Path | None:
    """−⅛ΔᵀH(θ_½)Δ against the measured midpoint loss barrier at every probe point."""
    pts = [
        (get(r, f"barrier.{split}.loss_barrier.midpoint"), get(r, f"taylor.{split}.predicted_barrier"))
        for r in pair_records(records)
    ]
    pts = [(m, p) for m, p in pts if m is not None and p is not None]
    if not pts:
        return None
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ms, ps = zip(*pts, strict=True)
    ax.scatter(ms, ps, s=12)
    lo, hi = min(ms + ps), max(ms + ps)
    ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, label="prediction = measurement")
    ax.set_xlabel(f"measured midpoint loss barrier ({split}, nats)")
    ax.set_ylabel("predicted barrier −⅛ ΔᵀH(θ_½)Δ (nats)")
    ax.legend(fontsize=7)
    ax.set_title("Second-order barrier prediction")
    return _save(fig, path)


def mountainside(records: list[Record], path: Path, split: str = "test") -> Path | None:
    """Loss along θ_s → child at the end of training, one line per spawn step."""
    finals = final_records(records)
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    drawn = False
    for recs in sorted(finals.values(), key=lambda rs: rs[0].get("spawn_step") or 0):
        prof = get(recs[0], f"geometry.profiles.{split}.a")
        if not prof:
            continue
        ax.plot(prof["alphas"], prof["loss"], ".-", label=f"k = {recs[0]['spawn_step']}")
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("α along θ_s → θ_child (0 = spawn point, 1 = child at the end)")
    ax.set_ylabel(f"{split} loss (nats)")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    ax.set_title("Mountainside: loss from the spawn point to a child")
    return _save(fig, path)


def barrier_curves(records: list[Record], path: Path, split: str = "test") -> Path | None:
    """Error along θ_α between the children at the end of training, per spawn step."""
    finals = final_records(records)
    if not finals:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for recs in sorted(finals.values(), key=lambda rs: (rs[0]["kind"] != "spawn", rs[0].get("spawn_step") or 0)):
        rec = get(recs[0], f"barrier.{split}")
        if not rec:
            continue
        label = "different inits" if recs[0]["kind"] == "independent" else f"k = {recs[0]['spawn_step']}"
        axes[0].plot(rec["alphas"], rec["error"], ".-", label=label)
        axes[1].plot(rec["alphas"], rec["loss"], ".-", label=label)
    axes[0].set_ylabel(f"{split} error of θ_α")
    axes[1].set_ylabel(f"{split} loss of θ_α (nats)")
    for ax in axes:
        ax.set_xlabel("α  (θ_α = (1−α)θ_A + αθ_B)")
        ax.legend(fontsize=7)
    fig.suptitle("Linear paths between the children at the end of training")
    return _save(fig, path)


def layerwise_heatmap(records: list[Record], split: str, path: Path) -> Path | None:
    """Single-layer midpoint loss barrier (own endpoints, into A) per layer × probe step."""
    recs = sorted((r for r in pair_records(records) if get(r, f"layerwise.{split}")),
                  key=lambda r: r["step"])
    recs = [r for r in recs if r.get("pair") == [0, 1]]
    if not recs:
        return None
    layers = [e["name"] for e in recs[0]["layerwise"][split]["entries"]
              if e["kind"] == "layer" and e["direction"] == "into_a"]
    grid = []
    for name in layers:
        row = []
        for r in recs:
            match = [e for e in r["layerwise"][split]["entries"]
                     if e["kind"] == "layer" and e["direction"] == "into_a" and e["name"] == name]
            value = match[0]["loss_mid_own"] if match else None
            row.append(float("nan") if value is None else value)
        grid.append(row)
    fig, ax = plt.subplots(figsize=(max(5, 0.5 * len(recs) + 2), max(3, 0.35 * len(layers) + 1.5)))
    image = ax.imshow(grid, aspect="auto", cmap="viridis")
    ax.set_yticks(range(len(layers)), layers, fontsize=7)
    ticks = list(range(0, len(recs), max(1, len(recs) // 8)))
    ax.set_xticks(ticks, [str(recs[i]["step"]) for i in ticks], fontsize=7)
    ax.set_xlabel("probe step (iteration)")
    fig.colorbar(image, ax=ax, label=f"{split} midpoint loss barrier, layer only (nats)")
    ax.set_title(f"Layer-wise barriers ({recs[0]['phase']})", fontsize=9)
    return _save(fig, path)
