"""Where a run keeps its files, and the one way every file of a run is written (atomically).

A run dir holds ``config.yaml``, ``landscape/records.jsonl`` (and ``landscape/curves.jsonl``
once ``ridgeline-connect`` ran), ``figures/`` and one directory per
phase (``done.json``, ``checkpoints/last.ckpt``, ``spawn_points/step=k.ckpt``, ``theta0.pt``).
The shared parent store holds one entry per parent key, laid out as a run dir whose only phase
is the parent itself, next to ``<key>.lock``. Under DDP only global rank 0 writes any of them.
"""

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success fsync it and rename it onto ``path``.

    A rename within one directory is atomic: a reader (or a kill) sees the old file or the whole
    new one, never a part. The temporary name carries the pid, so two writers never share it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        with tmp.open("rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def step_name(step: int) -> str:
    """The file name of the checkpoint taken after ``step`` optimiser steps."""
    return f"step={int(step):07d}.ckpt"


@dataclass(frozen=True)
class PhaseLayout:
    """One phase's directory: its checkpoints, spawn points, θ_0 and completion marker."""

    root: Path

    @property
    def done(self) -> Path:
        return self.root / "done.json"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.ckpt"

    @property
    def spawn_points(self) -> Path:
        return self.root / "spawn_points"

    def spawn_point(self, step: int) -> Path:
        return self.spawn_points / step_name(step)

    @property
    def theta0(self) -> Path:
        return self.root / "theta0.pt"


@dataclass(frozen=True)
class RunLayout:
    """A run dir: config, records, figures and the phases' directories."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def records(self) -> Path:
        return self.root / "landscape" / "records.jsonl"

    @property
    def curves(self) -> Path:
        """``ridgeline-connect``'s bent paths: one JSON line per phase, pair, kind and split."""
        return self.root / "landscape" / "curves.jsonl"

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    def phase(self, name: str) -> PhaseLayout:
        return PhaseLayout(self.root / name)


@dataclass(frozen=True)
class ParentStoreLayout:
    """The shared store of parents: ``<root>/<key>/`` (a run dir and its phase) and its lock."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    def run(self, key: str) -> RunLayout:
        return RunLayout(self.root / key)

    def phase(self, key: str) -> PhaseLayout:
        return PhaseLayout(self.root / key)

    def spec(self, key: str) -> Path:
        return self.root / key / "spec.json"

    def lock(self, key: str) -> Path:
        return self.root / f"{key}.lock"
