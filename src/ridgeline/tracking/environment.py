"""What a run needs to be repeated: versions, commit, device, threads, determinism flags.

Recorded in ``config.yaml``, in every probe record and in the W&B config; one function, so the
three agree.
"""

import platform
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


@cache
def git_commit() -> str | None:
    """The commit of the ridgeline checkout this code runs from (None for an installed wheel)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def run_environment() -> dict[str, Any]:
    """Versions, git commit, device and thread count of this process, as plain JSON data."""
    import torch

    cuda = torch.cuda.is_available()
    return {
        "ridgeline": _version("ridgeline"),
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "pytorch_lightning": _version("pytorch-lightning"),
        "hydra": _version("hydra-core"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "cuda": str(torch.version.cuda) if cuda else None,
        "threads": torch.get_num_threads(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
    }
