"""The typed record of one bent path of a run: one line of ``landscape/curves.jsonl``.

A :class:`ConnectRecord` says which children it joins (phase, pair, their step), on which split
the loss and error were measured, how the training batches of the fit were drawn, and holds the
landscape core's :class:`~ridgeline.landscape.results.BentPathRecord` (path and line on one t
grid, both barriers, the fit). Lines are keyed by (phase, probe, step, pair) like
``records.jsonl``, with ``probe`` = ``curve/<kind>/<split>``: a rerun replaces its line, a
Bezier and a polychain fit of the same pair are kept side by side.

The fitted control point θ_bend is not in the line (it is a whole parameter set): it is saved
as a state dict (``torch.save``, the trained dtype) in ``landscape/bends/`` and the line names
that file (``bend``, relative to the run dir), so that φ(t) can be recomputed from the records
(:func:`read_bend`, :func:`~ridgeline.landscape.bent_paths.bent_path_points`). Lines written before
issue 31 have ``bend: null``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ridgeline.landscape.params import ParamSet
from ridgeline.landscape.results import BentPathRecord, Record
from ridgeline.records.lines import typed_lines
from ridgeline.store.layout import RunLayout, atomic_path
from ridgeline.store.record_store import RecordStore

__all__ = ["ConnectRecord", "probe_name", "read_bend", "read_curves", "write_bend", "write_curves"]


def probe_name(kind: str, split: str) -> str:
    """The ``probe`` key of a curve line: ``curve/<kind>/<split>``."""
    return f"curve/{kind}/{split}"


@dataclass
class ConnectRecord(Record):
    """A bent path between children ``pair`` of ``phase`` at ``step``, measured on ``split``.

    ``train_batches`` × ``batch_size`` un-augmented training examples (drawn with ``data_seed``)
    trained the bend; ``curve.n_examples`` examples of ``split`` measured curve and line.
    ``bend``: the file of the fitted θ_bend, relative to the run dir (None before issue 31).
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
    bend: str | None = None

    def bend_file(self) -> str:
        """The bend's file name relative to the run dir: one per (phase, pair, kind, split),
        like the line's key (a rerun replaces both)."""
        name = f"{self.phase}__{self.pair[0]}-{self.pair[1]}__{self.curve.kind}__{self.split}.pt"
        return str(RunLayout(Path(".")).bends / name)


def write_bend(run_dir: str | Path, record: ConnectRecord, bend: ParamSet) -> None:
    """Save the fitted θ_bend (every tensor of the parameter set, on the CPU) atomically to
    ``record.bend_file()`` and name that file in ``record.bend``."""
    path = Path(run_dir) / record.bend_file()
    with atomic_path(path) as tmp:
        torch.save({k: v.detach().cpu() for k, v in bend.items()}, tmp)
    record.bend = record.bend_file()


def read_bend(run_dir: str | Path, record: ConnectRecord) -> ParamSet:
    """The θ_bend a curve line was measured with: φ(t) = ``bent_path_point(θ_A, bend, θ_B, t,
    record.curve.kind)`` with θ_A, θ_B the children ``record.pair`` of ``record.phase``."""
    if record.bend is None:
        raise ValueError(
            f"the curve line of {record.phase} pair {record.pair} names no bend file (written "
            f"before issue 31): run ridgeline-connect --phase {record.phase} again to refit it"
        )
    return torch.load(Path(run_dir) / record.bend, map_location="cpu", weights_only=True)


def write_curves(run_dir: str | Path, records: list[ConnectRecord]) -> Path:
    """Add the records to the run's curves file (atomic rename; a line of the same key replaced)."""
    path = RunLayout(Path(run_dir)).curves
    RecordStore(path).append([r.to_dict() for r in records])
    return path


def read_curves(run_dir: str | Path) -> list[ConnectRecord]:
    """The run's curve records in file order ([] when ``ridgeline-connect`` never ran on it); a
    line that is not a curve record (a field missing, not a number, a loss not as long as ``ts``)
    raises a :class:`~ridgeline.errors.RidgelineError` naming the file, the line and the field."""
    path = RunLayout(Path(run_dir)).curves
    return typed_lines(
        ConnectRecord.from_dict,
        RecordStore(path).read_numbered(),
        path,
        lambda number, line: (
            f"restore the file, or delete line {number} (ridgeline-connect --phase "
            f"{line.get('phase', '<phase>')} fits it again)"
        ),
    )
