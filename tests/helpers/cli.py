"""Run the real console script in a temp dir, as a user would."""

import os
import subprocess
import sys
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
