"""Read a run dir or a Hydra sweep dir: every job's records, its config, and what varies.

A run dir holds ``landscape/records.jsonl``; a sweep dir holds ``<job>/landscape/records.jsonl``
(at any depth) with each job's resolved ``config.yaml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ridgeline.errors import RidgelineError
from ridgeline.records.probe_record import ProbeRecord, read_records
from ridgeline.store.damaged import damaged_file
from ridgeline.store.layout import RunLayout

RECORDS = RunLayout(Path()).records  # landscape/records.jsonl, relative to a run dir
# Config keys never used to tell jobs apart (they differ by construction, or describe the
# machine a job ran on rather than what it computed).
IGNORED_PREFIXES = ("paths.", "hydra.", "logger.", "environment.")


@dataclass
class SweepJob:
    """One training run of a sweep (or the run itself): its directory, name within the sweep,
    flattened config and records."""

    dir: Path
    name: str
    config: dict[str, Any] = field(default_factory=dict)
    records: list[ProbeRecord] = field(default_factory=list)


@dataclass
class Collection:
    """All jobs of a run or sweep, the config keys that vary across them, and annotated records.

    Each record carries its ``job`` (job name) and ``setting`` (the varying config values other
    than seeds and spawn steps, '' when only those vary).
    """

    root: Path
    jobs: list[SweepJob]
    varying: list[str]
    seed_keys: list[str]
    spawn_keys: list[str]
    setting_keys: list[str]
    records: list[ProbeRecord]


def flatten_config(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dict → {'a.b.c': leaf}; lists are leaves."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten_config(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): value}


def _natural(path: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def _read_yaml(path: Path) -> dict[str, Any] | None:
    """The YAML mapping in ``path`` (None when absent); a damaged file is named with its line."""
    if not path.exists():
        return None
    try:
        with path.open() as f:
            value = yaml.safe_load(f)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        fix = "; restore it from the run's .hydra/ folder or a copy"
        raise damaged_file(path, exc, fix) from None
    if value is not None and not isinstance(value, dict):
        raise RidgelineError(f"{path} is damaged: not a YAML dict; restore it")
    return value


def find_job_dirs(root: Path) -> list[Path]:
    """The run dir itself when it holds records, else every job dir below it (natural order)."""
    root = Path(root)
    if RunLayout(root).records.exists():
        return [root]
    found = {
        p.parent.parent for p in root.rglob(RECORDS.name) if RunLayout(p.parent.parent).records == p
    }
    # Jobs have a config.yaml; a shared parent store inside the sweep dir has none.
    jobs = {d for d in found if RunLayout(d).config.exists()} or found
    return sorted(jobs, key=_natural)


def load_job(job_dir: Path, root: Path) -> SweepJob:
    """One job dir: its config (``config.yaml``, else Hydra's copy) and its records."""
    config = _read_yaml(RunLayout(job_dir).config)
    if config is None:
        config = _read_yaml(job_dir / ".hydra" / "config.yaml") or {}
    name = "." if job_dir == root else str(job_dir.relative_to(root))
    records = read_records(RunLayout(job_dir).records)
    return SweepJob(job_dir, name, flatten_config(config), records)


def _printable(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ",".join(_printable(v) for v in value) + "]"
    return str(value)


def varying_keys(jobs: list[SweepJob]) -> list[str]:
    """Config keys whose value differs between jobs (paths, hydra and logger keys ignored)."""
    if len(jobs) < 2:
        return []
    keys = sorted({k for j in jobs for k in j.config})
    out = []
    for k in keys:
        if k.startswith(IGNORED_PREFIXES):
            continue
        values = {_printable(j.config.get(k)) for j in jobs}
        if len(values) > 1:
            out.append(k)
    return out


def is_seed_key(key: str) -> bool:
    return key == "seed" or key.startswith("seeds.") or key.rsplit(".", 1)[-1].endswith("seed")


def collect(root: str | Path) -> Collection:
    """Load a run dir or a sweep dir; a clear error when it holds no probe records."""
    root = Path(root)
    if not root.is_dir():
        raise RidgelineError(f"{root} is not a directory (give a run dir or a sweep dir)")
    dirs = find_job_dirs(root)
    if not dirs:
        raise RidgelineError(
            f"no {RECORDS} under {root}: give a run dir of ridgeline-train or a multirun sweep dir"
        )
    jobs = [load_job(d, root) for d in dirs]
    if not any(job.records for job in jobs):
        files = ", ".join(str(RunLayout(d).records) for d in dirs)
        raise RidgelineError(
            f"no probe records in {files} (empty): the run has not probed yet, or probes were "
            "off (probe=none)"
        )
    varying = varying_keys(jobs)
    seed_keys = [k for k in varying if is_seed_key(k)]
    spawn_keys = [k for k in varying if k.startswith("spawn.") and k not in seed_keys]
    setting_keys = [k for k in varying if k not in seed_keys and k not in spawn_keys]
    records = []
    for job in jobs:
        setting = ", ".join(f"{k}={_printable(job.config.get(k))}" for k in setting_keys)
        records += [r.in_job(job.name, setting) for r in job.records]
    return Collection(root, jobs, varying, seed_keys, spawn_keys, setting_keys, records)


def job_columns(collection: Collection, job_name: str) -> dict[str, str]:
    """The varying config values of one job, as CSV columns ``config.<key>``."""
    job = next(j for j in collection.jobs if j.name == job_name)
    return {f"config.{k}": _printable(job.config.get(k)) for k in collection.varying}
