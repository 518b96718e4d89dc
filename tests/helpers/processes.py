"""The process tree of a job, read from /proc: kill all of it, as a preemption does."""

import contextlib
import os
import signal
import time
from pathlib import Path


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state first), None when gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` in the process tree (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        fields = _stat(int(entry.name)) if entry.name.isdigit() else None
        if fields:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


def wait_gone(pids: list[int], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if (f := _stat(p)) is not None and f[0] != "Z"]
        if not alive:
            return
        time.sleep(0.05)
    raise AssertionError(f"processes {alive} outlived SIGKILL")


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to ``pid`` and every process below it (W&B's service and DDP ranks included:
    SLURM kills every process of a preempted job), then wait until they are gone."""
    tree = [pid, *descendants(pid)]
    for p in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, sig)
    wait_gone(tree[1:])


def wait_for_record(proc, records: Path, phase: str, step: int, timeout: float = 300) -> None:
    """Wait until ``records`` holds ``phase``'s record at ``step`` (or ``proc`` has ended)."""
    mark = f'"phase": "{phase}", "kind": "spawn", "step": {step}'
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if records.exists() and mark in records.read_text():
            return
        time.sleep(0.02)
