"""A run killed (SIGKILL) or stopped (SIGTERM) at every probe boundary, then started again with
the same command, ends with exactly the records and final children of an uninterrupted run.

T = 25 is a multiple of ``checkpoint_every_n_steps`` (5) but not of ``probe.every_n_steps``
(10): the end probe at 25 is its own probe, after the last periodic checkpoint step.
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


def test_killed_at_every_probe_boundary_resumes_to_the_whole_run(tmp_path, whole):
    """One run killed four times, each time started again with the same command: at the
    parent's end probe, at a periodic probe, at the children's end probe (after the last
    periodic checkpoint), and after the checkpoint at T before the phase is marked done."""
    points = [
        "probe:parent:end",
        f"probe:{PHASE}:every_n_steps:20",
        f"probe:{PHASE}:end",
        f"final:{PHASE}",
    ]
    for point in points:
        stopped = interrupted(tmp_path, "SIGKILL", point)
        assert stopped.returncode == -9, (point, stopped.stderr[-3000:])
    assert not RunLayout(tmp_path / "run").phase(PHASE).done.exists()
    run([TRAIN, *args(tmp_path)], tmp_path, base_env(tmp_path))
    same_as_whole(tmp_path, whole)


def test_sigterm_saves_says_so_exits_nonzero_and_resumes(tmp_path, whole):
    """SIGTERM during the parent's end probe: the probe finishes, the next phase does not start.
    SIGTERM during training: Lightning stops at the end of step 10, after its probe, and its
    state is saved. Each time: one line, exit 143; the same command then finishes the run."""
    layout = RunLayout(tmp_path / "run").phase(PHASE)
    for point, saved_step in (("probe:parent:end", None), (f"probe:{PHASE}:every_n_steps:10", 10)):
        stopped = interrupted(tmp_path, "SIGTERM", point)
        assert stopped.returncode == EXIT_PREEMPTED, stopped.stderr[-3000:]
        message = stopped.stderr.strip().splitlines()[-1]
        assert message.startswith(f"ridgeline: stopped by SIGTERM in phase {PHASE}"), message
        assert message.endswith("run the same command to resume the run"), message
        assert not layout.done.exists()
        if saved_step is None:
            assert not layout.last_checkpoint.exists()
        else:
            assert (
                f"at step {saved_step}; its state is saved in {layout.last_checkpoint}" in message
            )
            saved = torch.load(layout.last_checkpoint, map_location="cpu", weights_only=False)
            assert saved["global_step"] == saved_step - 1  # the children's own steps
    run([TRAIN, *args(tmp_path)], tmp_path, base_env(tmp_path))
    same_as_whole(tmp_path, whole)


def test_killed_inside_writes_resumes_without_temp_files_to_the_whole_run(tmp_path, whole):
    """SIGKILL inside an atomic write, its temporary file half written (tests/helpers/
    interrupt.py ``write:``): a checkpoint, then the records, then a later checkpoint, each
    time started again with the same command. The killed writes' temporary files are gone
    after the resume, and the records and final children equal an uninterrupted run's."""
    for point in ("write:last.ckpt:2", "write:records.jsonl:2", "write:last.ckpt:3"):
        stopped = interrupted(tmp_path, "SIGKILL", point)
        assert stopped.returncode == -9, (point, stopped.stderr[-3000:])
        left = list(tmp_path.rglob(".*.tmp"))  # the kill came inside a write
        assert [p.name.split(".")[1] for p in left] == [point.split(":")[1].split(".")[0]], left
    run([TRAIN, *args(tmp_path)], tmp_path, base_env(tmp_path))
    assert list(tmp_path.rglob(".*.tmp")) == []  # run dir and parent store
    same_as_whole(tmp_path, whole)
