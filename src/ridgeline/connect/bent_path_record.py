"""The typed record of one bent path of a run: one line of ``landscape/curves.jsonl``.

A :class:`ConnectRecord` says which children it joins (phase, pair, their step), on which split
the loss and error were measured, how the training batches of the fit were drawn, and holds the
landscape core's :class:`~ridgeline.landscape.results.BentPathRecord` (path and line on one t
grid, both barriers, the fit). Lines are keyed by (phase, probe, step, pair) like
``records.jsonl``, with ``probe`` = ``curve/<kind>/<split>``: a rerun replaces its line, a
Bezier and a polychain fit of the same pair are kept side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ridgeline.landscape.results import BentPathRecord, Record
from ridgeline.store.layout import RunLayout
from ridgeline.store.record_store import RecordStore

__all__ = ["ConnectRecord", "probe_name", "read_curves", "write_curves"]


def probe_name(kind: str, split: str) -> str:
    """The ``probe`` key of a curve line: ``curve/<kind>/<split>``."""
    return f"curve/{kind}/{split}"


@dataclass
class ConnectRecord(Record):
    """A bent path between children ``pair`` of ``phase`` at ``step``, measured on ``split``.

    ``train_batches`` × ``batch_size`` un-augmented training examples (drawn with ``data_seed``)
    trained the bend; ``curve.n_examples`` examples of ``split`` measured curve and line.
    """

    phase: str
    phase_kind: str  # "spawn" or "independent"
    spawn_step: int | None
    step: int
    pair: list[int]
    split: str
    probe: str
    train_batches: int
    batch_size: int
    data_seed: int
    curve: BentPathRecord


def write_curves(run_dir: str | Path, records: list[ConnectRecord]) -> Path:
    """Add the records to the run's curves file (atomic rename; a line of the same key replaced)."""
    path = RunLayout(Path(run_dir)).curves
    RecordStore(path).append([r.to_dict() for r in records])
    return path


def read_curves(run_dir: str | Path) -> list[ConnectRecord]:
    """The run's curve records in file order ([] when ``ridgeline-connect`` never ran on it)."""
    path = RunLayout(Path(run_dir)).curves
    return [ConnectRecord.from_dict(d) for d in RecordStore(path).read()]
