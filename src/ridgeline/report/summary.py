"""The end-of-run table (spawn step → barriers, prediction, angle) and the run's figures."""

from pathlib import Path

import rich
from rich.table import Table

from ridgeline.report.records import Record, final_records, stat
from ridgeline.store.records import RecordStore

# (column, record path): test/train error barrier = endpoint-mean (Frankle et al. 2020);
# loss barrier = midpoint; predicted = −⅛ΔᵀH(θ_½)Δ on test; angle at the spawn point θ_s.
COLUMNS = (
    ("err test", "barrier.test.error_barrier.endpoint_mean"),
    ("err train", "barrier.train.error_barrier.endpoint_mean"),
    ("loss test", "barrier.test.loss_barrier.midpoint"),
    ("pred test", "taylor.test.predicted_barrier"),
    ("angle°", "geometry.angle_deg"),
    ("‖θA−θB‖", "geometry.dist_ab"),
)
# The same columns after aligning θ_B to θ_A (probe.align): no spawn angle, distance after.
ALIGNED = {"geometry.angle_deg": None, "geometry.dist_ab": "aligned.alignment.dist_after"}


def summary_rows(records: list[Record]) -> list[dict]:
    """One row per phase at its final probe: mean and s.d. (``<column> s.d.``, None for one
    pair) over child pairs of each column."""
    rows = []
    finals = final_records(records)
    order = sorted(
        finals.values(), key=lambda rs: (rs[0]["kind"] != "spawn", rs[0].get("spawn_step") or 0)
    )
    for recs in order:
        first = recs[0]
        row = {
            "phase": first["phase"],
            "spawn step": "indep. init" if first["kind"] == "independent" else first["spawn_step"],
            "step": first["step"],
            "pairs": len(recs),
        }
        for name, path in COLUMNS:
            _spread(row, name, recs, path)
        rows.append(row)
        if any(r.get("aligned") for r in recs):
            aligned = {**row, "spawn step": f"{row['spawn step']}, aligned"}
            for name, path in COLUMNS:
                path = ALIGNED.get(path, f"aligned.{path}")
                _spread(aligned, name, recs, path)
            rows.append(aligned)
    return rows


def _spread(row: dict, name: str, recs: list[Record], path: str | None) -> None:
    """``row[name]`` = mean over pairs, ``row[name + ' s.d.']`` = s.d. (None for one pair)."""
    s = stat(recs, path) if path else None
    row[name] = s.mean if s else None
    row[f"{name} s.d."] = s.std if s and s.n > 1 else None


def _fmt(value: object, sd: object = None) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" + (f" ± {sd:.4f}" if isinstance(sd, float) else "")
    return str(value)


def print_table(rows: list[dict]) -> None:
    table = Table(
        title="Instability: barriers between children at the end of training "
        "(mean ± s.d. over child pairs)",
        caption="err = endpoint-mean error barrier, loss = midpoint loss barrier (nats), "
        "pred = −⅛ΔᵀH(θ_½)Δ, angle at the spawn point; aligned: θ_B's units permuted onto θ_A's",
    )
    for key in ("spawn step", *(name for name, _ in COLUMNS)):
        table.add_column(key, justify="right")
    for row in rows:
        cells = [_fmt(row[n], row.get(f"{n} s.d.")) for n, _ in COLUMNS]
        table.add_row(_fmt(row["spawn step"]), *cells)
    rich.print(table)


def write_figures(records: list[Record], out_dir: Path) -> list[Path]:
    """Every figure the records support, as PNGs in ``out_dir`` (see ridgeline.report.build)."""
    from ridgeline.report.build import draw_figures

    return list(draw_figures(records, out_dir).values())


def summarise_run(run_dir: Path) -> list[dict]:
    """Print the table and write the figures of a finished run; returns the table rows."""
    records = RecordStore(Path(run_dir) / "landscape" / "records.jsonl").read()
    rows = summary_rows(records)
    if rows:
        print_table(rows)
    paths = write_figures(records, Path(run_dir) / "figures")
    if paths:
        rich.print(f"figures: {', '.join(str(p) for p in paths)}")
    return rows
