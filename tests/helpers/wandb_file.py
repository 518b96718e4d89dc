"""Read back an offline W&B run file (.wandb): a LevelDB-style log of protobuf records.

Layout: a 7-byte header (":W&B", magic 0xBEE1, version), then 32 KiB blocks of chunks, each
with a 7-byte header (crc32 4 bytes, length 2, type 1: full=1, first=2, middle=3, last=4).
"""

import json
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf.message import DecodeError
from wandb.proto import wandb_internal_pb2 as pb

BLOCK = 32768
HEADER = 7


def _payloads(data: bytes):
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        block_left = BLOCK - (pos % BLOCK)
        if block_left < HEADER:
            pos += block_left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if kind == 0 and length == 0:
            pos += block_left
            continue
        if pos + HEADER + length > len(data):
            return  # a chunk still being written
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind == 1:
            yield chunk
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            yield pending + chunk
            pending = b""


def _key(item) -> str:
    return item.key or "/".join(item.nested_key)


@dataclass
class WandbRun:
    run_id: str = ""
    name: str = ""
    group: str = ""
    job_type: str = ""
    tags: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    # define_metric: metric name → its step metric ("" when declared without one)
    step_metrics: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def _update_config(config: dict, items) -> None:
    """W&B stores each top-level config key as {"value": ...}; keep the plain values."""
    for item in items:
        value = json.loads(item.value_json)
        config[_key(item)] = value.get("value", value) if isinstance(value, dict) else value


def _records(path: Path, settle: float = 3.0) -> list:
    """The file's records once W&B has written its last one (``exit``), or once the file has
    stopped growing for ``settle`` seconds (a killed run never writes ``exit``).

    ``run.finish()`` can return before W&B's writer process has flushed the file; reading it
    then would see a file without its run record.
    """
    size, stable_since = -1, time.monotonic()
    while True:
        data = Path(path).read_bytes()
        assert data[:4] == b":W&B", f"{path} is not a W&B run file"
        records = []
        for payload in _payloads(data):
            record = pb.Record()
            try:
                record.ParseFromString(payload)
            except DecodeError:  # a record still being written
                break
            records.append(record)
        if any(r.WhichOneof("record_type") == "exit" for r in records):
            return records
        if len(data) != size:
            size, stable_since = len(data), time.monotonic()
        elif time.monotonic() - stable_since > settle:
            return records
        time.sleep(0.1)


def read_run(path: Path) -> WandbRun:
    """Run metadata (name, tags, config), metric definitions, history rows and summary."""
    run = WandbRun()
    for record in _records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            run.run_id, run.name, run.group, run.job_type = (
                r.run_id,
                r.display_name,
                r.run_group,
                r.job_type,
            )
            run.tags = list(r.tags)
            _update_config(run.config, r.config.update)
        elif kind == "config":
            _update_config(run.config, record.config.update)
        elif kind == "metric":
            run.step_metrics[record.metric.name or record.metric.glob_name] = (
                record.metric.step_metric
            )
        elif kind == "history":
            run.history.append({_key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "summary":
            for item in record.summary.update:
                run.summary[_key(item)] = json.loads(item.value_json)
    return run


def read_runs(run_dir: Path) -> list[WandbRun]:
    """Every offline run under ``run_dir/wandb``."""
    return [read_run(p) for p in sorted(Path(run_dir).glob("wandb/offline-run-*/*.wandb"))]
