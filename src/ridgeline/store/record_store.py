"""records.jsonl: one JSON object per probe point, written atomically, never doubled.

Every number in the loggers, the printed table, the figures and the CSVs comes from here.
"""

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ridgeline.errors import RidgelineError
from ridgeline.store.layout import atomic_write_text

KEY_FIELDS = ("phase", "probe", "step", "pair")


def json_safe(value: Any) -> Any:
    """Replace non-finite floats by None (JSON has no NaN/Inf) recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def non_finite_keys(value: Any, path: str = "") -> list[str]:
    """Key paths of every non-finite float inside ``value``, written as the landscape core's
    records write theirs: ``barrier.loss[1]``."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path]
    if isinstance(value, dict):
        return [
            k
            for key, v in value.items()
            for k in non_finite_keys(v, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(value, (list, tuple)):
        return [k for i, v in enumerate(value) for k in non_finite_keys(v, f"{path}[{i}]")]
    return []


def record_key(record: dict, fields: Sequence[str] = KEY_FIELDS) -> tuple:
    return tuple(json.dumps(record.get(f), sort_keys=True) for f in fields)


class RecordStore:
    """Append-or-replace JSONL with write-to-temp-then-rename, keyed by KEY_FIELDS."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def read(self) -> list[dict]:
        """Every record, in file order; a line that is not a JSON object raises a
        :class:`~ridgeline.errors.RidgelineError` naming the file and the line."""
        return [record for _, record in self.read_numbered()]

    def read_numbered(self) -> list[tuple[int, dict]]:
        """:meth:`read` with each record's line number in the file (blank lines are counted)."""
        if not self.path.exists():
            return []
        records = []
        with self.path.open("rb") as f:
            for number, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw.decode("utf-8"))
                    reason = "not a JSON object"
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    record, reason = None, str(exc)
                if not isinstance(record, dict):
                    raise RidgelineError(
                        f"{self.path} line {number} is damaged ({reason}): restore the file, or "
                        f"delete line {number} (the probe point it held is then missing)"
                    )
                records.append((number, record))
        return records

    def append(self, records: Iterable[dict]) -> None:
        """Add records; one with the key of an existing record replaces it (a resumed probe)."""
        new = []
        for record in records:
            flags = non_finite_keys(record)
            record = json_safe(record)
            if flags:
                record["non_finite"] = flags
            new.append(record)
        keys = {record_key(r) for r in new}
        kept = [r for r in self.read() if record_key(r) not in keys]
        lines = (json.dumps(record, allow_nan=False) + "\n" for record in [*kept, *new])
        atomic_write_text(self.path, "".join(lines))
