"""Run the real console script in a temp dir, as a user would."""

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

TRAIN = str(Path(sys.executable).with_name("ridgeline-train"))


def run_train(
    cwd: Path, *overrides: str, timeout: int = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``ridgeline-train <overrides>`` with its run dir at cwd/run and offline W&B (+ ``env``)."""
    env = {
        **os.environ,
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "COLUMNS": "200",
        **(env or {}),
    }
    args = [TRAIN, f"hydra.run.dir={cwd / 'run'}", "print_config=false", *overrides]
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def train_ok(cwd: Path, *overrides: str, **kwargs: object) -> subprocess.CompletedProcess:
    """:func:`run_train` that must succeed (the failure shows the tail of its stderr)."""
    result = run_train(cwd, *overrides, **kwargs)  # type: ignore[arg-type]
    assert result.returncode == 0, result.stderr[-3000:]
    return result


BATCH = str(Path(__file__).with_name("train_batch.py"))


@dataclass(frozen=True)
class BatchResult:
    """One command line of :func:`run_train_batch`: what a process would have given."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float


def run_train_batch(
    cases: list[tuple[Path, list[str], dict[str, str]]], timeout: int = 600
) -> list[BatchResult]:
    """:func:`run_train` for several ``(cwd, overrides, env)`` in ONE process (tests/helpers/
    train_batch.py: the console script's entry point called once per command line, each with its
    own cwd, environment and captured output). For configs refused before training, where one
    start-up of torch and Lightning serves them all."""
    spec = [
        {
            "cwd": str(cwd),
            "argv0": TRAIN,
            "args": [f"hydra.run.dir={cwd / 'run'}", "print_config=false", *overrides],
            "env": {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "COLUMNS": "200", **env},
        }
        for cwd, overrides, env in cases
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(spec, file)
    try:
        done = subprocess.run(
            [sys.executable, BATCH, file.name],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        os.unlink(file.name)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) == len(cases), done.stdout[-3000:]
    return [BatchResult(**r) for r in results]


@dataclass(frozen=True)
class TinyRun:
    """A finished ``ridgeline-train`` job (made by the ``tiny_run_factory`` fixture): its
    project dir ``cwd`` (run dir ``cwd/run``, parent store below ``cwd/outputs``) and output."""

    cwd: Path
    result: subprocess.CompletedProcess

    @property
    def run_dir(self) -> Path:
        return self.cwd / "run"

    def records(self) -> list[dict]:
        """The probe records of ``landscape/records.jsonl``, as JSON objects."""
        return [json.loads(line) for line in (self.run_dir / "landscape" / "records.jsonl").open()]
