"""Selections from typed probe records (:class:`~ridgeline.records.ProbeRecord`) for the
report's figures and tables, and their spread over seeds or pairs."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ridgeline.records.probe_record import ProbeRecord
from ridgeline.records.statistics import final_probe, mean_sd

Value = Callable[[ProbeRecord], float | None]  # one number of a record, None where it has none
SeriesKey = tuple[str, int, int]


def pair_records(records: Sequence[ProbeRecord]) -> list[ProbeRecord]:
    """Pair records (children), not the parent's."""
    return [r for r in records if r.probe == "pair"]


def finals(records: Sequence[ProbeRecord]) -> list[ProbeRecord]:
    """Pair records at the last probed step of their phase, in every job."""
    return final_probe(pair_records(records))


def mean(values: Sequence[float | None]) -> float | None:
    """Mean of the finite values (None when there are none)."""
    vals = [float(v) for v in values if v is not None and math.isfinite(v)]
    return sum(vals) / len(vals) if vals else None


def label_of(record: ProbeRecord) -> str:
    """Legend label of a record's phase: 'k = 100' or 'different inits' (+ sweep setting)."""
    base = "different inits" if record.kind == "independent" else f"k = {record.spawn_step}"
    return f"{base} ({record.setting})" if record.setting else base


def series_key(record: ProbeRecord) -> SeriesKey:
    """Key joining the same phase across seeds of a sweep: (setting, kind order, spawn step)."""
    order = {"spawn": 0, "independent": 1}.get(record.kind, 2)
    return (record.setting, order, record.spawn_step or 0)


def by_series(records: Sequence[ProbeRecord]) -> dict[SeriesKey, list[ProbeRecord]]:
    """Pair records grouped by :func:`series_key` (sorted), over all jobs of a sweep."""
    groups: dict[SeriesKey, list[ProbeRecord]] = defaultdict(list)
    for r in pair_records(records):
        groups[series_key(r)].append(r)
    return dict(sorted(groups.items()))


def barrier_value(split: str, quantity: str, kind: str, aligned: bool = False) -> Value:
    """The ``quantity`` ("loss", "error") barrier of variant ``kind`` on ``split``, as a
    :data:`Value` (of the aligned pair with ``aligned``)."""

    def value(r: ProbeRecord) -> float | None:
        results = r.aligned if aligned else r
        rec = results.barrier.get(split) if results is not None else None
        return getattr(getattr(rec, f"{quantity}_barrier"), kind) if rec is not None else None

    return value


@dataclass
class Stat:
    """Mean and spread of one quantity over seeds (jobs of a sweep) or, in one run, over pairs."""

    mean: float | None
    std: float | None
    lo: float | None
    hi: float | None
    n: int
    unit: str


def stat(records: Sequence[ProbeRecord], value: Value, scale: float = 1.0) -> Stat:
    """Mean over pairs within each job, then mean ± s.d. (:func:`mean_sd`) over jobs (over
    pairs with one job); values that are absent or not finite are left out."""
    per_job: dict[str, list[float]] = defaultdict(list)
    for r in records:
        v = value(r)
        if v is not None and math.isfinite(v):
            per_job[r.job].append(float(v) * scale)
    if len(per_job) > 1:
        vals = [sum(v) / len(v) for v in per_job.values()]
        unit = "seeds"
    else:
        vals = [v for vs in per_job.values() for v in vs]
        unit = "pairs"
    if not vals:
        return Stat(None, None, None, None, 0, unit)
    m, sd = mean_sd(vals)
    return Stat(m, sd, min(vals), max(vals), len(vals), unit)
