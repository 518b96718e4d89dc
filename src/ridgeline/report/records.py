"""Selections from a list of probe records (as read from records.jsonl)."""

from collections import defaultdict
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
