"""Collect every job's records.jsonl of a sweep dir into one CSV.

One row per job × probe point × pair: the job dir, the probe's identity, every scalar of the
record (``scalar_metrics``) and every config key whose value differs between the jobs.
"""

import csv
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from ridgeline.record_store import RecordStore
from ridgeline.report.flatten import scalar_metrics

IDENTITY = ("job", "phase", "kind", "probe", "step", "spawn_step", "pair")
IGNORED_CONFIG_PREFIXES = ("paths.", "hydra.", "logger.")


def job_dirs(sweep_dir: Path) -> list[Path]:
    """Directories under ``sweep_dir`` with landscape/records.jsonl and config.yaml (jobs)."""
    found = sorted(p.parents[1] for p in Path(sweep_dir).rglob("landscape/records.jsonl"))
    return [d for d in found if (d / "config.yaml").exists()]


def flat_config(job_dir: Path) -> dict[str, Any]:
    """The job's resolved config.yaml as dotted keys → scalar values (lists as strings)."""
    cfg = OmegaConf.to_container(OmegaConf.load(job_dir / "config.yaml"), resolve=False)
    out: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            out[prefix.rstrip(".")] = str(node) if isinstance(node, list) else node

    walk(cfg, "")
    return out


def varying_keys(configs: list[dict[str, Any]]) -> list[str]:
    """Config keys whose value is not the same in every job."""
    keys = sorted({k for c in configs for k in c})
    return [
        k
        for k in keys
        if not k.startswith(IGNORED_CONFIG_PREFIXES) and len({repr(c.get(k)) for c in configs}) > 1
    ]


def collect_rows(sweep_dir: Path) -> list[dict[str, Any]]:
    """The rows of the sweep's CSV."""
    jobs = job_dirs(sweep_dir)
    configs = [flat_config(j) for j in jobs]
    varied = varying_keys(configs)
    rows = []
    for job, config in zip(jobs, configs, strict=True):
        for record in RecordStore(job / "landscape" / "records.jsonl").read():
            row: dict[str, Any] = {
                "job": str(job.relative_to(sweep_dir)) if job != Path(sweep_dir) else ".",
                **{k: record.get(k) for k in IDENTITY[1:]},
            }
            row["pair"] = "-".join(map(str, record["pair"])) if record.get("pair") else ""
            row.update({f"config.{k}": config.get(k) for k in varied})
            row.update(scalar_metrics(record))
            rows.append(row)
    return rows


def write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    """Rows to CSV (columns: identity, varied config keys, then metrics in first-seen order)."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
    return path
