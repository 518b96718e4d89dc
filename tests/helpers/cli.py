"""Run the real console script in a temp dir, as a user would."""

import json
import os
import subprocess
import sys
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
