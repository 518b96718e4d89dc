"""Selections from a list of probe records (as read from records.jsonl)."""

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

Record = dict[str, Any]


def pair_records(records: list[Record], kind: str | None = None) -> list[Record]:
    """Pair records (children), optionally of one phase kind ('spawn' or 'independent')."""
    return [
        r for r in records if r.get("probe") == "pair" and (kind is None or r.get("kind") == kind)
    ]


def by_phase(records: list[Record]) -> dict[str, list[Record]]:
    """Records grouped by phase, each list sorted by step."""
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        groups[r["phase"]].append(r)
    return {k: sorted(v, key=lambda r: r["step"]) for k, v in groups.items()}


def final_records(records: list[Record]) -> dict[str, list[Record]]:
    """For each phase, its pair records at the last probed step (one per pair)."""
    out = {}
    for phase, recs in by_phase(pair_records(records)).items():
        last = max(r["step"] for r in recs)
        out[phase] = [r for r in recs if r["step"] == last]
    return out


def get(record: Record, path: str) -> Any:
    """Nested value by dotted path, None when any part is missing."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def mean(values: list[Any]) -> float | None:
    """Mean of the non-None values (None when there are none)."""
    vals = [float(v) for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def label_of(record: Record) -> str:
    """Legend label of a record's phase: 'k = 100' or 'different inits' (+ sweep setting)."""
    base = (
        "different inits" if record.get("kind") == "independent" else f"k = {record['spawn_step']}"
    )
    setting = record.get("_setting") or ""
    return f"{base} ({setting})" if setting else base


def series_key(record: Record) -> tuple[str, int, int]:
    """Key joining the same phase across seeds of a sweep: (setting, kind order, spawn step)."""
    order = {"spawn": 0, "independent": 1}.get(record.get("kind", ""), 2)
    return (record.get("_setting") or "", order, record.get("spawn_step") or 0)


def by_series(records: list[Record]) -> dict[tuple[str, int, int], list[Record]]:
    """Pair records grouped by :func:`series_key` (sorted), over all jobs of a sweep."""
    groups: dict[tuple[str, int, int], list[Record]] = defaultdict(list)
    for r in pair_records(records):
        groups[series_key(r)].append(r)
    return dict(sorted(groups.items()))


def finals(records: list[Record]) -> list[Record]:
    """Pair records at the last probed step of their phase, in every job."""
    last: dict[tuple[Any, str], int] = {}
    for r in pair_records(records):
        key = (r.get("_job"), r["phase"])
        last[key] = max(last.get(key, r["step"]), r["step"])
    return [r for r in pair_records(records) if r["step"] == last[(r.get("_job"), r["phase"])]]


@dataclass
class Stat:
    """Mean and spread of one quantity over seeds (jobs of a sweep) or, in one run, over pairs."""

    mean: float | None
    std: float | None
    lo: float | None
    hi: float | None
    n: int
    unit: str


def stat(records: list[Record], path: str, scale: float = 1.0) -> Stat:
    """Mean over pairs within each job, then mean ± s.d. over jobs (over pairs with one job)."""
    per_job: dict[Any, list[float]] = defaultdict(list)
    for r in records:
        v = get(r, path)
        if v is not None:
            per_job[r.get("_job")].append(float(v) * scale)
    if len(per_job) > 1:
        vals = [sum(v) / len(v) for v in per_job.values()]
        unit = "seeds"
    else:
        vals = [v for vs in per_job.values() for v in vs]
        unit = "pairs"
    if not vals:
        return Stat(None, None, None, None, 0, unit)
    m = sum(vals) / len(vals)
    sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
    return Stat(m, sd, min(vals), max(vals), len(vals), unit)
