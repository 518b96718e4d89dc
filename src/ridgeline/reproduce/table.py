"""The reproduction table, claim by claim: markdown, CSV (one row per quantity) and JSON."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from ridgeline.reproduce.claims import ClaimResult, Quantity
from ridgeline.store.layout import atomic_write_text

DIGITS = {"pp": 2, "nats": 3, "°": 1, "fraction": 2, "": 2}


def fmt_quantity(q: Quantity) -> str:
    """'name: mean ± s.d. unit' with the unit's precision; 'name: undefined' for nan (a
    statistic without a value, e.g. Pearson r of points without spread)."""
    d = DIGITS.get(q.unit, 3)
    if not math.isfinite(q.mean):
        return f"{q.name}: undefined"
    unit = f" {q.unit}" if q.unit and q.unit != "°" else q.unit
    return f"{q.name}: {q.mean:.{d}f} ± {q.sd:.{d}f}{unit}"


def markdown(results: list[ClaimResult]) -> str:
    """The table as markdown: claim, source, statement, experiment, measured, criterion, holds."""
    n = sorted({len(r.seeds) for r in results})
    lines = [
        f"| claim | published statement | experiment | measured (mean ± s.d. over "
        f"{'/'.join(map(str, n))} seeds) | holds when | holds |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        measured = "; ".join(fmt_quantity(q) for q in r.quantities)
        cells = [
            r.claim,
            f"{r.source}: {r.statement}",
            r.experiment,
            measured,
            r.criterion,
            "**yes**" if r.holds else "**no**",
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


CSV_FIELDS = ("claim", "quantity", "unit", "mean", "sd", "n_seeds", "values", "holds")


def csv_text(results: list[ClaimResult]) -> str:
    """One row per (claim, quantity): mean, s.d., the per-seed values, whether the claim holds."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in results:
        for q in r.quantities:
            writer.writerow(
                {
                    "claim": r.claim,
                    "quantity": q.name,
                    "unit": q.unit,
                    "mean": repr(q.mean),
                    "sd": repr(q.sd),
                    "n_seeds": len(q.values),
                    "values": " ".join(repr(v) for v in q.values),
                    "holds": r.holds,
                }
            )
    return out.getvalue()


def write_table(results: list[ClaimResult], out: Path, extra: dict) -> dict[str, Path]:
    """``reproduce.md``, ``reproduce.csv`` and ``reproduce.json`` (with ``extra``: command,
    wall time, run dirs, environment) in ``out``."""
    paths = {ext: out / f"reproduce.{ext}" for ext in ("md", "csv", "json")}
    atomic_write_text(paths["md"], markdown(results))
    atomic_write_text(paths["csv"], csv_text(results))
    doc = {**extra, "claims": [r.to_dict() for r in results]}
    atomic_write_text(paths["json"], json.dumps(doc, indent=1) + "\n")
    return paths
