"""A store of parent runs shared by every job of a sweep that needs the same parent.

The key (:mod:`ridgeline.config.parent_key`) is a hash of the config that determines the
parent's weights. The plan
(:func:`ridgeline.job.plan.make_plan`) computes the spec and key once per job; a file lock,
held by the training job's rank 0, makes concurrent jobs wait for the one that trains it.
"""

import contextlib
import fcntl
import json
from collections.abc import Iterator
from typing import TextIO

from ridgeline.errors import RidgelineError
from ridgeline.job.ranks import Ranks
from ridgeline.store.layout import ParentStoreLayout, atomic_write_text

# How often a job waiting for another job's parent checks the lock.
LOCK_POLL_SECONDS = 2.0


@contextlib.contextmanager
def parent_lock(store: ParentStoreLayout, key: str, ranks: Ranks) -> Iterator[None]:
    """Exclusive lock on one parent, held by this job's rank 0 while its ranks train it.

    Other *jobs* wait until it is released; this job's other ranks never touch the lock and wait
    for rank 0 to hold it (see :meth:`Ranks.poll_until`).
    """
    handle: TextIO | None = None  # the lock file, open on rank 0 only
    if ranks.is_zero:
        store.root.mkdir(parents=True, exist_ok=True)
        try:
            handle = store.lock(key).open("a")
        except IsADirectoryError:
            raise RidgelineError(
                f"the parent lock {store.lock(key)} is a directory; remove it (or choose "
                "another paths.parent_dir)"
            ) from None

    def acquire() -> bool:  # runs on rank 0 only (Ranks.decide)
        assert handle is not None
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
