"""A store of parent runs shared by every job of a sweep that needs the same parent.

The key is a hash of exactly the config that determines the parent's weights at its
checkpoints: data (without evaluation settings), model, optimiser, schedule, T, precision, the
init/data/augmentation seeds and the checkpoint steps. Spawn and probe settings are left out,
so a grid over ``spawn.at`` × probes trains each parent once. A file lock makes concurrent jobs
wait for the one that trains it.
"""

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

# Data keys that change what the probes evaluate, never what the parent learns.
EVAL_ONLY_DATA_KEYS = (
    "eval_batch_size",
    "eval_train_size",
    "eval_test_size",
    "eval_seed",
    "device_resident",
    "root",
    "download",
)


def parent_spec(cfg: DictConfig, checkpoint_steps: list[int]) -> dict:
    """The resolved config that determines the parent, as plain data."""
    data = OmegaConf.to_container(cfg.data, resolve=True)
    for key in EVAL_ONLY_DATA_KEYS:
        data.pop(key, None)
    return {
        "data": data,
        "model": OmegaConf.to_container(cfg.model, resolve=True),
        "optim": OmegaConf.to_container(cfg.optim, resolve=True),
        "schedule": OmegaConf.to_container(cfg.schedule, resolve=True),
        "max_steps": int(cfg.trainer.max_steps),
        "precision": str(cfg.trainer.get("precision", "32-true")),
        "seeds": {k: int(v) for k, v in cfg.seeds.items()},
        "checkpoint_steps": sorted(int(s) for s in checkpoint_steps),
    }


def parent_key(spec: dict) -> str:
    """A short stable hash of the parent spec."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def is_global_zero_process() -> bool:
    """True unless this process is a non-zero rank started by a launcher (SLURM, torchrun)."""
    return all(os.environ.get(var, "0") == "0" for var in ("RANK", "SLURM_PROCID"))


@contextlib.contextmanager
def parent_lock(store_dir: Path, key: str) -> Iterator[None]:
    """Exclusive lock on one parent; other jobs block until it is released."""
    store_dir.mkdir(parents=True, exist_ok=True)
    if not is_global_zero_process():
        yield
        return
    path = store_dir / f"{key}.lock"
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("parent %s is being trained by another job; waiting for it", key)
            start = time.monotonic()
            fcntl.flock(handle, fcntl.LOCK_EX)
            log.info("parent %s released after %.0f s", key, time.monotonic() - start)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_spec(parent_dir: Path, spec: dict) -> None:
    """Record what the parent is, next to its checkpoints."""
    parent_dir.mkdir(parents=True, exist_ok=True)
    tmp = parent_dir / "spec.json.tmp"
    tmp.write_text(json.dumps(spec, indent=2, sort_keys=True))
    tmp.replace(parent_dir / "spec.json")
