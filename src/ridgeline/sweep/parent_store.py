"""A store of parent runs shared by every job of a sweep that needs the same parent.

The key is a hash of exactly the config that determines the parent's weights at its
checkpoints: data (without evaluation settings), model, optimiser, schedule, T, precision, the
init/data/augmentation seeds and the checkpoint steps. Spawn and probe settings are left out,
so a grid over ``spawn.at`` × probes trains each parent once. The plan
(:func:`ridgeline.config.plan.make_plan`) computes the spec and key once per job; a file lock,
held by the training job's rank 0, makes concurrent jobs wait for the one that trains it.
"""

import contextlib
import fcntl
import hashlib
import json
from collections.abc import Iterator

from omegaconf import DictConfig, OmegaConf

from ridgeline.run_layout import ParentStoreLayout, atomic_write_text
from ridgeline.training.ranks import Ranks

# How often a job waiting for another job's parent checks the lock.
LOCK_POLL_SECONDS = 2.0

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


@contextlib.contextmanager
def parent_lock(store: ParentStoreLayout, key: str, ranks: Ranks) -> Iterator[None]:
    """Exclusive lock on one parent, held by this job's rank 0 while its ranks train it.

    Other *jobs* wait until it is released; this job's other ranks never touch the lock and wait
    for rank 0 to hold it (see :meth:`Ranks.poll_until`).
    """
    handle = None
    if ranks.is_zero:
        store.root.mkdir(parents=True, exist_ok=True)
        handle = store.lock(key).open("a")

    def acquire() -> bool:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    try:
        ranks.poll_until(
            acquire, LOCK_POLL_SECONDS, f"parent {key} is being trained by another job; waiting"
        )
        yield
    finally:
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()


def write_spec(store: ParentStoreLayout, key: str, spec: dict) -> None:
    """Record what the parent is, next to its checkpoints."""
    atomic_write_text(store.spec(key), json.dumps(spec, indent=2, sort_keys=True))
