"""One tiny ridgeline-train run under probe.bn_policy=repair with weight matching, shared by
the ridgeline-connect and the REPAIR tests (one training process for both)."""

import fcntl
import os
import shutil
from pathlib import Path

import pytest

from helpers.cli import train_ok

# 30 steps, children spawned at init and two independent ones, 100 test examples; the probes at
# the start and the end only, on the test split, with a 5-point α-grid (REPAIR corrects every
# evaluated set, so the grid sets the probe's cost).
TINY = [
    "logger=none",
    "summary=false",
    "threads=1",
    "trainer.max_steps=30",
    "spawn.at=[0]",
    "spawn.children=2",
    "data.eval_test_size=100",
    "probe.every_n_steps=null",
    "probe.splits=[test]",
    "probe.alphas=[0,0.25,0.5,0.75,1]",
    "probe.profile_alphas=[0,0.5,1]",
    "probe.bn_batches=2",
    "~probe.curvature",
    "probe.bn_policy=repair",
    "probe.align=weight",
    # the loop, not a measured path: timing loop against vmap on 100 examples costs more than
    # the probes it would speed up (the path choice has its own tests)
    "probe.eval_path=loop",
]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The run dir, and a pristine copy of it made before anything else touches it.

    The four test files here may run on both xdist workers (``--dist loadfile``): the run is
    trained once per test session, in a directory the workers share (the first to need it
    trains it under a lock, the other waits or finds it done), and never touched there; each
    worker gets its own copy of the whole project dir (run dir and parent store), whose run dir
    its tests may write to."""
    run_uid = os.environ.get("PYTEST_XDIST_TESTRUNUID")  # set in xdist's workers only
    if run_uid is None:  # one process: nothing to share
        source = tmp_path_factory.mktemp("connect_trained")
        train_ok(source, *TINY)
    else:
        source = tmp_path_factory.getbasetemp().parent / f"connect_trained-{run_uid}"
        trained = Path(f"{source}.trained")
        with open(f"{source}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
            if not trained.exists():
                shutil.rmtree(source, ignore_errors=True)  # left by a worker that died midway
                source.mkdir()
                train_ok(source, *TINY)
                trained.touch()
    cwd = Path(shutil.copytree(source, tmp_path_factory.mktemp("connect") / "project"))
    pristine = cwd / "pristine"
    shutil.copytree(cwd / "run", pristine)
    return cwd / "run", pristine
