"""The end-of-run table (spawn step → barriers, prediction, angle) and the run's figures."""

from collections.abc import Sequence
from pathlib import Path

import rich
from rich.table import Table

from ridgeline.records.probe_record import PairResults, ProbeRecord, read_records
from ridgeline.records.scalars import min_layer_gauss_newton
from ridgeline.report.records import Value, barrier_value, finals, stat
from ridgeline.store.layout import RunLayout


def _predicted(results: PairResults | None) -> float | None:
    rec = results.curvature.get("test") if results is not None else None
    return rec.predicted_barrier if rec is not None else None


def _angle(r: ProbeRecord) -> float | None:
    return r.geometry.angle_deg if r.geometry is not None else None


def _dist_after(r: ProbeRecord) -> float | None:
    how = r.aligned.alignment if r.aligned is not None else None
    return how.dist_after if how is not None else None


def _ridge(key: str, aligned: bool = False) -> Value:
    """Field ``key`` of the ridge on the test split's path, as a :data:`Value` (of the aligned
    pair with ``aligned``)."""

    def value(r: ProbeRecord) -> float | None:
        results = r.aligned if aligned else r
        rec = results.ridge.get("test") if results is not None else None
        return getattr(rec, key) if rec is not None else None

    return value


def _gauss_newton(part: str, aligned: bool = False) -> Value:
    """A number of the test split's Gauss-Newton split as a :data:`Value` (of the aligned pair
    with ``aligned``): ``part`` "min_layer" = min over layers of Δ_ℓᵀG_ℓℓΔ_ℓ; "gauss_newton" /
    "residual" = the whole network's share −⅛ΔᵀGΔ / −⅛ΔᵀRΔ of the prediction −⅛ΔᵀHΔ."""

    def value(r: ProbeRecord) -> float | None:
        results = r.aligned if aligned else r
        rec = results.gauss_newton.get("test") if results is not None else None
        if rec is None:
            return None
        if part == "min_layer":
            return min_layer_gauss_newton(rec)
        return -0.125 * getattr(rec.whole, part)

    return value


# (column, value, value of the aligned pair): on the test split, α* of the ridge on the path,
# its height over the chord (nats), the curvature ΔᵀH(θ_α*)Δ there (negative = a ridge);
# min over layers of Δ_ℓᵀG_ℓℓΔ_ℓ (≥ 0), and the prediction's Gauss-Newton and residual parts.
TOPOGRAPHY_COLUMNS: tuple[tuple[str, Value, Value], ...] = (
    ("ridge α*", _ridge("alpha"), _ridge("alpha", True)),
    ("ridge h", _ridge("height"), _ridge("height", True)),
    ("ΔᵀHΔ at α*", _ridge("dHd"), _ridge("dHd", True)),
    ("min_ℓ G", _gauss_newton("min_layer"), _gauss_newton("min_layer", True)),
    ("pred G", _gauss_newton("gauss_newton"), _gauss_newton("gauss_newton", True)),
    ("pred R", _gauss_newton("residual"), _gauss_newton("residual", True)),
)

# (column, value, value after aligning θ_B to θ_A with probe.align): test/train error barrier =
# endpoint-mean (Frankle et al. 2020); loss barrier = midpoint; predicted = −⅛ΔᵀH(θ_½)Δ on
# test; angle at the spawn point θ_s (none after alignment); ‖θ_A − θ_B‖ (after alignment).
COLUMNS: tuple[tuple[str, Value, Value | None], ...] = (
    (
        "err test",
        barrier_value("test", "error", "endpoint_mean"),
        barrier_value("test", "error", "endpoint_mean", aligned=True),
    ),
    (
        "err train",
        barrier_value("train", "error", "endpoint_mean"),
        barrier_value("train", "error", "endpoint_mean", aligned=True),
    ),
    (
        "loss test",
        barrier_value("test", "loss", "midpoint"),
        barrier_value("test", "loss", "midpoint", aligned=True),
    ),
    ("pred test", _predicted, lambda r: _predicted(r.aligned)),
    ("angle°", _angle, None),
    ("‖θA−θB‖", lambda r: r.dist_ab, _dist_after),
    *TOPOGRAPHY_COLUMNS,  # the ridge on the path and the Gauss-Newton split (test split)
)


def summary_rows(records: Sequence[ProbeRecord]) -> list[dict]:
    """One row per phase at its final probe: mean and s.d. (``<column> s.d.``, None for one
    pair) over child pairs of each column."""
    rows = []
    phases: dict[str, list[ProbeRecord]] = {}
    for r in finals(records):
        phases.setdefault(r.phase, []).append(r)
    order = sorted(phases.values(), key=lambda rs: (rs[0].kind != "spawn", rs[0].spawn_step or 0))
    for recs in order:
        first = recs[0]
        row = {
            "phase": first.phase,
            "spawn step": "indep. init" if first.kind == "independent" else first.spawn_step,
            "step": first.step,
            "pairs": len(recs),
        }
        for name, value, _ in COLUMNS:
            _spread(row, name, recs, value)
        rows.append(row)
        if any(r.aligned is not None for r in recs):
            aligned = {**row, "spawn step": f"{row['spawn step']}, aligned"}
            for name, _, aligned_value in COLUMNS:
                _spread(aligned, name, recs, aligned_value)
            rows.append(aligned)
    return rows


def _spread(row: dict, name: str, recs: list[ProbeRecord], value: Value | None) -> None:
    """``row[name]`` = mean over pairs, ``row[name + ' s.d.']`` = s.d. (None for one pair)."""
    s = stat(recs, value) if value is not None else None
    row[name] = s.mean if s else None
    row[f"{name} s.d."] = s.std if s and s.n > 1 else None


def _fmt(value: object, sd: object = None) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" + (f" ± {sd:.4f}" if isinstance(sd, float) else "")
    return str(value)


def print_table(rows: list[dict]) -> None:
    """The barrier table, then (where some row has them) the ridge and Gauss-Newton columns as
    a second table."""
    topography = {name for name, _, _ in TOPOGRAPHY_COLUMNS}
    _print(
        rows,
        [n for n, _, _ in COLUMNS if n not in topography],
        "Instability: barriers between children at the end of training "
        "(mean ± s.d. over child pairs)",
        "err = endpoint-mean error barrier, loss = midpoint loss barrier (nats), "
        "pred = −⅛ΔᵀH(θ_½)Δ, angle at the spawn point; aligned: θ_B's units permuted onto θ_A's",
    )
    names = [
        n for n, _, _ in TOPOGRAPHY_COLUMNS if any(row.get(n) is not None for row in rows)
    ]  # the switches that were on
    if names:
        _print(
            rows,
            names,
            "The ridge on the path and the Gauss-Newton split (test, mean ± s.d. over pairs)",
            "ridge α*, h: where L(α) − chord peaks and its height (nats); ΔᵀHΔ at α*: < 0 is a "
            "ridge; min_ℓ G = min over layers of Δ_ℓᵀG_ℓℓΔ_ℓ (≥ 0); pred G + pred R = pred "
            "(−⅛ΔᵀGΔ, −⅛ΔᵀRΔ at θ_½)",
        )


def _print(rows: list[dict], names: list[str], title: str, caption: str) -> None:
    table = Table(title=title, caption=caption)
    for key in ("spawn step", *names):
        table.add_column(key, justify="right")
    for row in rows:
        cells = [_fmt(row[n], row.get(f"{n} s.d.")) for n in names]
        table.add_row(_fmt(row["spawn step"]), *cells)
    rich.print(table)


def write_figures(records: Sequence[ProbeRecord], out_dir: Path) -> list[Path]:
    """Every figure the records support, as PNGs in ``out_dir`` (see ridgeline.report.build)."""
    from ridgeline.report.build import draw_figures

    return list(draw_figures(records, out_dir).values())


def summarise_run(run_dir: Path) -> list[dict]:
    """Print the table and write the figures of a finished run; returns the table rows."""
    run = RunLayout(Path(run_dir))
    records = read_records(run.records)
    rows = summary_rows(records)
    if rows:
        print_table(rows)
    paths = write_figures(records, run.figures)
    if paths:
        rich.print(f"figures: {', '.join(str(p) for p in paths)}")
    return rows
