"""One tiny ridgeline-train run under probe.bn_policy=repair with weight matching, shared by
the ridgeline-connect and the REPAIR tests (one training process for both)."""

import shutil

import pytest

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
]


@pytest.fixture(scope="session")
def tiny_run(tiny_run_factory):
    """The run dir, and a pristine copy of it made before anything else touches it."""
    job = tiny_run_factory("connect", *TINY)
    pristine = job.cwd / "pristine"
    shutil.copytree(job.run_dir, pristine)
    return job.run_dir, pristine
