"""A run killed (SIGKILL) or stopped (SIGTERM) at every probe boundary and inside atomic writes,
each time started again with the same command, ends with exactly the records and final children
of an uninterrupted run.

T = 25 is a multiple of ``checkpoint_every_n_steps`` (5) but not of ``probe.every_n_steps``
(10): the end probe at 25 is its own probe, after the last periodic checkpoint step.

One run goes through every interruption, in the order a run reaches them (each process resumes
from what the one before it left), and one final start finishes it: a process per interruption,
one resume for all of them. Each interruption is checked as it happens (exit status, message,
temporary files, the saved step, no ``done.json``).
"""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers.ddp import TRAIN, base_env, mlp_job, numbers, run
from ridgeline.store.layout import RunLayout
from ridgeline.training.preemption import EXIT_PREEMPTED

pytestmark = pytest.mark.slow  # starts processes (make test-fast leaves it out)

PHASE = "spawn_k=0000001"
JOB = mlp_job(25)
INTERRUPT = str(Path(__file__).parents[1] / "helpers" / "interrupt.py")

# (signal, tests/helpers/interrupt.py point, what the interruption leaves), in the order the run
# reaches them. What it leaves: "killed", a SIGKILL outside any write; ("write", <kind>), a SIGKILL
# inside an atomic write of that kind, its temporary file half written; ("stopped", <step>), a
# SIGTERM whose saved step is <step> (None: nothing of the children saved yet).
INTERRUPTIONS = [
    # inside writes: the parent's checkpoint at 10 (its 2nd last.ckpt), then, resumed from its
    # step 5, its records at the step-20 probe (the 2nd records write: probes 10, 20)
    ("SIGKILL", "write:last.ckpt:2", ("write", "last")),
    ("SIGKILL", "write:records.jsonl:2", ("write", "records")),
    # the parent's end probe (resumed from its step 15), killed, then (from 20) stopped:
    # the probe finishes, the children's phase does not start
    ("SIGKILL", "probe:parent:end", "killed"),
    ("SIGTERM", "probe:parent:end", ("stopped", None)),
    # inside the children's first checkpoint (step 6: the only last.ckpt this process writes
    # before it)
    ("SIGKILL", "write:last.ckpt:1", ("write", "last")),
    # the children from k again: stopped during the step-10 probe, Lightning stops at the end
    # of step 10 and saves it
    ("SIGTERM", f"probe:{PHASE}:every_n_steps:10", ("stopped", 10)),
    # from 10: a periodic probe; from 16: the end probe (after the last periodic checkpoint);
    # from 21: after the checkpoint at T, before the phase is marked done
    ("SIGKILL", f"probe:{PHASE}:every_n_steps:20", "killed"),
    ("SIGKILL", f"probe:{PHASE}:end", "killed"),
    ("SIGKILL", f"final:{PHASE}", "killed"),
]


def args(root: Path) -> list[str]:
    return [f"hydra.run.dir={root / 'run'}", f"paths.root_dir={root}", *JOB]


def children_at_t(root: Path) -> tuple[int, dict]:
    checkpoint = torch.load(
        RunLayout(root / "run").phase(PHASE).last_checkpoint, map_location="cpu", weights_only=False
    )
    return checkpoint["global_step"], checkpoint["state_dict"]


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    root = tmp_path_factory.mktemp("whole")
    run([TRAIN, *args(root)], root, base_env(root))
    return root


def interrupted(root: Path, signame: str, point: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, INTERRUPT, signame, point, *args(root)],
        cwd=root,
        env=base_env(root),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def same_as_whole(root: Path, whole: Path) -> None:
    assert numbers(root / "run") == numbers(whole / "run")
    step, state = children_at_t(root)
    assert step == 25 - 1  # the children's own steps: T − k
    reference = children_at_t(whole)[1]
    assert all(torch.equal(state[k], reference[k]) for k in reference)


def check_stopped(stopped: subprocess.CompletedProcess, root: Path, saved_step: int | None):
    """SIGTERM: one line, exit 143, and the children's state saved at the step it stopped."""
    layout = RunLayout(root / "run").phase(PHASE)
    assert stopped.returncode == EXIT_PREEMPTED, stopped.stderr[-3000:]
    message = stopped.stderr.strip().splitlines()[-1]
    assert message.startswith(f"ridgeline: stopped by SIGTERM in phase {PHASE}"), message
    assert message.endswith("run the same command to resume the run"), message
    if saved_step is None:
        assert not layout.last_checkpoint.exists()
    else:
        assert f"at step {saved_step}; its state is saved in {layout.last_checkpoint}" in message
        saved = torch.load(layout.last_checkpoint, map_location="cpu", weights_only=False)
        assert saved["global_step"] == saved_step - 1  # the children's own steps


def test_interrupted_everywhere_resumes_to_the_whole_run(tmp_path, whole):
    """SIGKILL at every probe boundary (the parent's end probe, a periodic probe, the children's
    end probe after the last periodic checkpoint, after the checkpoint at T before the phase is
    marked done) and inside atomic writes (tests/helpers/interrupt.py ``write:``: a checkpoint,
    the records, a later checkpoint), and SIGTERM during the parent's end probe and during
    training. After a kill inside a write only that write's temporary file is left (a start
    removes those of earlier kills); after the final start none is, and the records and final
    children equal an uninterrupted run's."""
    for signame, point, left_by in INTERRUPTIONS:
        stopped = interrupted(tmp_path, signame, point)
        left = list(tmp_path.rglob(".*.tmp"))  # run dir and parent store
        if left_by[0] == "stopped":
            check_stopped(stopped, tmp_path, left_by[1])
        else:
            assert stopped.returncode == -9, (point, stopped.stderr[-3000:])
        if left_by[0] == "write":  # the kill came inside a write
            assert [p.name.split(".")[1] for p in left] == [left_by[1]], (point, left)
        else:
            assert left == [], (point, left)
        assert not RunLayout(tmp_path / "run").phase(PHASE).done.exists(), point
    run([TRAIN, *args(tmp_path)], tmp_path, base_env(tmp_path))
    assert list(tmp_path.rglob(".*.tmp")) == []  # run dir and parent store
    same_as_whole(tmp_path, whole)
