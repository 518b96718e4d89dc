"""2-process jobs killed and restarted, and two 2-process jobs racing for one parent.

The racing jobs (a module fixture) are two uninterrupted runs of the shared 20-step job: the
killed job's resume is compared bit for bit with one of them.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers.ddp import (
    DDP,
    PHASE,
    TRAIN,
    base_env,
    numbers,
    records,
    run,
    start,
    train_args,
)
from helpers.processes import kill_tree
from helpers.stop_at import STOP_AT, wait_stopped
from ridgeline.store.layout import RunLayout

pytestmark = pytest.mark.slow  # starts processes (make test-fast leaves it out)

STOP = str(Path(__file__).parents[1] / "helpers" / "stop_at.py")
# Mid-training of the children: their last.ckpt holds step 6 (every 5 of their own steps from
# k = 1), so the resume repeats steps 7-10 and the step-10 probe.
KILL_AT = f"probe:{PHASE}:every_n_steps:10"


def final_state(run_dir):
    path = RunLayout(run_dir).phase(PHASE).last_checkpoint
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


@pytest.fixture(scope="module")
def racing(tmp_path_factory):
    """Two 2-process jobs started together under one root (run dirs a and b), both needing the
    same parent; each one's (returncode, stderr)."""
    root = tmp_path_factory.mktemp("racing")
    procs = []
    for name in ("a", "b"):
        args = [TRAIN, *train_args(root, *DDP, run_dir=root / name)]
        procs.append(start(args, root, base_env(root)))
    ends = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        ends.append((proc.returncode, err))
    return root, ends


def test_killed_ddp_job_resumes_to_the_uninterrupted_result(tmp_path, racing):
    racing_root, ends = racing
    assert ends[0][0] == 0, ends[0][1][-4000:]
    whole = racing_root / "a"  # an uninterrupted run of the same job

    root = tmp_path / "killed"
    root.mkdir()
    # Both ranks run tests/helpers/stop_at.py (Lightning's launcher re-runs this command line for
    # rank 1) and stop themselves at the start of the children's step-10 probe.
    log = root / "stopped.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, STOP, *train_args(root, *DDP)],
            cwd=root,
            env={**base_env(root), STOP_AT: KILL_AT},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_stopped(proc, ranks=2)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{log.read_text()[-4000:]}") from None
    finally:
        kill_tree(proc.pid)  # both ranks die at once, as in a preemption
        proc.wait(timeout=60)
    layout = RunLayout(root / "run")
    # killed mid-training: the children's step-1 probe recorded, the step-10 one not yet
    assert {step for phase, step, _ in records(root / "run") if phase == PHASE} == {1}
    saved = torch.load(layout.phase(PHASE).last_checkpoint, map_location="cpu", weights_only=False)
    assert saved["global_step"] == 5  # the children's own steps: step 6
    assert not layout.phase(PHASE).done.exists()

    command = [TRAIN, *train_args(root, *DDP)]
    run(command, root, base_env(root))
    assert "resumes from" in (root / "run" / "train.log").read_text()
    assert numbers(root / "run") == numbers(whole)
    a, b = final_state(root / "run"), final_state(whole)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_two_ddp_jobs_share_one_parent(racing):
    """Two 2-process jobs start together and need the same parent: one trains it, the other
    waits for the lock and reuses it; neither deadlocks."""
    root, ends = racing
    for returncode, err in ends:
        assert returncode == 0, err[-4000:]
    logs = [(root / name / "train.log").read_text() for name in ("a", "b")]
    assert sum(log.count("training parent") for log in logs) == 1, logs
    assert sum(log.count("found in the store") for log in logs) == 1, logs
    assert numbers(root / "a") == numbers(root / "b")
