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
from typing import overload


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


def remove_stale_temps(root: str | Path) -> list[Path]:
    """Delete the temporary files of :func:`atomic_path` that a killed writer left below
    ``root`` (``.<name>.<pid>.tmp`` of another process); the deleted paths.

    Call it where this process alone writes ``root``: a run dir is one job's, and a parent
    store entry is written under its lock. The target files are untouched: a kill inside a
    write leaves the old file or the whole new one.
    """
    own = f".{os.getpid()}.tmp"
    removed = []
    for tmp in Path(root).rglob(".*.tmp"):
        stem = tmp.name[: -len(".tmp")]
        pid = stem.rpartition(".")[2]
        if tmp.is_file() and pid.isdigit() and not tmp.name.endswith(own):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def step_name(step: int) -> str:
    """The file name of the checkpoint taken after ``step`` optimiser steps."""
    return f"step={int(step):07d}.ckpt"


class _Below:
    """A path below a layout's ``root``, read as an attribute: ``done = _Below("done.json")``."""

    def __init__(self, *parts: str, doc: str | None = None) -> None:
        self.parts = parts
        self.__doc__ = doc or f"``<root>/{'/'.join(parts)}``"

    @overload
    def __get__(self, layout: None, owner: type) -> "_Below": ...

    @overload
    def __get__(self, layout: "_Rooted", owner: type | None = None) -> Path: ...

    def __get__(self, layout: "_Rooted | None", owner: type | None = None) -> "Path | _Below":
        return self if layout is None else layout.root.joinpath(*self.parts)


@dataclass(frozen=True)
class _Rooted:
    """A directory of a run or of the parent store, given by its root (a str becomes a Path)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))


@dataclass(frozen=True)
class PhaseLayout(_Rooted):
    """One phase's directory: its checkpoints, spawn points, θ_0 and completion marker."""

    done = _Below("done.json")
    checkpoints = _Below("checkpoints")
    last_checkpoint = _Below("checkpoints", "last.ckpt")
    spawn_points = _Below("spawn_points")
    theta0 = _Below("theta0.pt")

    def spawn_point(self, step: int) -> Path:
        return self.spawn_points / step_name(step)


@dataclass(frozen=True)
class RunLayout(_Rooted):
    """A run dir: config, records, figures and the phases' directories."""

    config = _Below("config.yaml")
    records = _Below("landscape", "records.jsonl")
    curves = _Below(
        "landscape",
        "curves.jsonl",
        doc="``ridgeline-connect``'s bent paths: one JSON line per phase, pair, kind and split.",
    )
    figures = _Below("figures")
    bends = _Below(
        "landscape",
        "bends",
        doc="``ridgeline-connect``'s fitted control points, one file per curve line.",
    )

    def phase(self, name: str) -> PhaseLayout:
        return PhaseLayout(self.root / name)


@dataclass(frozen=True)
class ParentStoreLayout(_Rooted):
    """The shared store of parents: ``<root>/<key>/`` (a run dir and its phase) and its lock."""

    def run(self, key: str) -> RunLayout:
        return RunLayout(self.root / key)

    def phase(self, key: str) -> PhaseLayout:
        return PhaseLayout(self.root / key)

    def spec(self, key: str) -> Path:
        return self.root / key / "spec.json"

    def lock(self, key: str) -> Path:
        return self.root / f"{key}.lock"
