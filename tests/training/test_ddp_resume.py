"""2-process jobs killed and restarted, and two 2-process jobs racing for one parent."""

import subprocess

import pytest
import torch

from helpers.ddp import (
    DDP,
    PHASE,
    TRAIN,
    base_env,
    numbers,
    run,
    train_args,
)
from helpers.processes import kill_tree, wait_for_record
from ridgeline.store.layout import RunLayout

pytestmark = pytest.mark.slow  # starts processes (make test-fast leaves it out)

# Long enough that the job is still running when the test sees the step-20 record and kills it.
LONGER = ["trainer.max_steps=100"]


def final_state(run_dir):
    path = RunLayout(run_dir).phase(PHASE).last_checkpoint
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


def test_killed_ddp_job_resumes_to_the_uninterrupted_result(tmp_path):
    whole = tmp_path / "whole"
    whole.mkdir()
    run([TRAIN, *train_args(whole, *DDP, *LONGER)], whole, base_env(whole))

    root = tmp_path / "killed"
    root.mkdir()
    command = [TRAIN, *train_args(root, *DDP, *LONGER)]
    proc = subprocess.Popen(
        command,
        cwd=root,
        env=base_env(root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    records = RunLayout(root / "run").records
    wait_for_record(proc, records, PHASE, 20)
    assert proc.poll() is None, "the job finished before it could be killed"
    kill_tree(proc.pid)  # both ranks die at once, as in a preemption
    proc.wait(timeout=60)
    assert not RunLayout(root / "run").phase(PHASE).done.exists()

    run(command, root, base_env(root))
    assert "resumes from" in (root / "run" / "train.log").read_text()
    assert numbers(root / "run") == numbers(whole / "run")
    a, b = final_state(root / "run"), final_state(whole / "run")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_two_ddp_jobs_share_one_parent(tmp_path):
    """Two 2-process jobs start together and need the same parent: one trains it, the other
    waits for the lock and reuses it; neither deadlocks."""
    procs = []
    for name in ("a", "b"):
        args = [TRAIN, *train_args(tmp_path, *DDP, run_dir=tmp_path / name)]
        procs.append(
            subprocess.Popen(
                args,
                cwd=tmp_path,
                env=base_env(tmp_path),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-4000:]
    logs = [(tmp_path / name / "train.log").read_text() for name in ("a", "b")]
    assert sum(log.count("training parent") for log in logs) == 1, logs
    assert sum(log.count("found in the store") for log in logs) == 1, logs
    assert numbers(tmp_path / "a") == numbers(tmp_path / "b")
