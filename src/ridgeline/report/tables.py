"""CSV tables of every number behind the report's figures (long format, one row per point).

- ``metrics.csv``: one row per job × probe point × pair, with the varying config keys of a sweep
  (``config.<key>``) and every :func:`ridgeline.records.scalars.scalar_metrics` column.
- ``curves.csv``: one row per curve point: barrier curves over α (``curve=barrier``, and
  ``barrier_aligned`` after permutation alignment), loss profiles spawn point → child
  (``profile_a``/``profile_b``) and parent θ_0 → θ_t (``parent``).
- ``instability.csv``: the aggregated numbers drawn in ``instability.png`` (mean, s.d., min,
  max, n over seeds or pairs, at the final probe of each phase).
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ridgeline.landscape.results import BarrierRecord, ProfileRecord
from ridgeline.records.probe_record import ProbeRecord
from ridgeline.records.scalars import pair_prefix, scalar_metrics
from ridgeline.report.collect import Collection, job_columns
from ridgeline.report.records import barrier_value, by_series, finals, stat
from ridgeline.store.layout import atomic_path

ID_COLUMNS = ("job", "phase", "kind", "probe", "step", "spawn_step", "pair", "bn_policy")
INSTABILITY_COLUMNS = (
    ("error", "endpoint_mean"),
    ("error", "midpoint"),
    ("loss", "midpoint"),
    ("loss", "chord"),
)


def _pair(record: ProbeRecord) -> str:
    return "" if record.pair is None else f"{record.pair[0]}-{record.pair[1]}"


def _ids(collection: Collection, r: ProbeRecord) -> dict[str, Any]:
    return {
        "job": r.job,
        **job_columns(collection, r.job),
        "phase": r.phase,
        "kind": r.kind,
        "probe": r.probe,
        "step": r.step,
        "spawn_step": r.spawn_step,
        "pair": _pair(r),
        "bn_policy": r.bn_policy,
    }


def write_csv(path: Path, rows: list[dict[str, Any]], first: list[str]) -> Path:
    """Rows to CSV atomically: the ``first`` columns, then every other key in first-seen order."""
    columns = list(first)
    for row in rows:
        for k in row:
            if k not in columns:
                columns.append(k)
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return path


def metric_rows(collection: Collection) -> list[dict[str, Any]]:
    rows = []
    for r in collection.records:
        metrics = scalar_metrics(r)
        # A non-(0,1) pair gets a 'pair_i_j/' prefix in the loggers; here the pair is a column.
        prefix = pair_prefix(r)
        rows.append(
            {**_ids(collection, r), **{k.removeprefix(prefix): v for k, v in metrics.items()}}
        )
    return rows


def curve_rows(collection: Collection) -> list[dict[str, Any]]:
    rows = []
    for r in collection.records:
        ids = _ids(collection, r)
        curves: list[tuple[str, str, BarrierRecord | ProfileRecord]] = []
        for split, barrier in r.barrier.items():
            curves.append(("barrier", split, barrier))
        for split, barrier in (r.aligned.barrier if r.aligned else {}).items():
            curves.append(("barrier_aligned", split, barrier))
        for split, profiles in r.profiles.items():
            for child, prof in profiles.items():
                curves.append((f"profile_{child}", split, prof))
        for split, prof in r.parent_profiles.items():
            curves.append(("parent", split, prof))
        for name, split, rec in curves:
            for a, lo, er in zip(rec.alphas, rec.loss, rec.error, strict=True):
                rows.append(
                    {**ids, "split": split, "curve": name, "alpha": a, "loss": lo, "error": er}
                )
    return rows


def instability_rows(records: Sequence[ProbeRecord]) -> list[dict[str, Any]]:
    """Final barriers per series; pairs aligned by ``probe.align`` add rows with ``aligned`` set."""
    rows = []
    for (setting, _, _), recs in by_series(finals(records)).items():
        first = recs[0]
        variants = [("", False)]
        how = first.aligned.alignment if first.aligned else None
        if how is not None:
            variants.append((how.method, True))
        for (method, aligned), split, (quantity, kind) in itertools.product(
            variants, ("test", "train"), INSTABILITY_COLUMNS
        ):
            s = stat(recs, barrier_value(split, quantity, kind, aligned))
            if s.mean is None:
                continue
            rows.append(
                {
                    "setting": setting,
                    "kind": first.kind,
                    "aligned": method,
                    "spawn_step": first.spawn_step,
                    "final_step": max(r.step for r in recs),
                    "split": split,
                    "quantity": quantity,
                    "barrier": kind,
                    "mean": s.mean,
                    "std": s.std,
                    "min": s.lo,
                    "max": s.hi,
                    "n": s.n,
                    "over": s.unit,
                }
            )
    return rows


def leading_columns(collection: Collection) -> list[str]:
    """The job, the config keys that vary across jobs, then the probe's identity."""
    return ["job", *[f"config.{k}" for k in collection.varying], *ID_COLUMNS[1:]]


def write_tables(collection: Collection, out_dir: Path) -> dict[str, Path]:
    """metrics.csv, curves.csv and instability.csv in ``out_dir``."""
    out_dir = Path(out_dir)
    first = leading_columns(collection)
    return {
        "metrics": write_csv(out_dir / "metrics.csv", metric_rows(collection), first),
        "curves": write_csv(out_dir / "curves.csv", curve_rows(collection), first),
        "instability": write_csv(
            out_dir / "instability.csv",
            instability_rows(collection.records),
            ["setting", "kind", "spawn_step"],
        ),
    }
