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

from helpers.ddp import TRAIN, base_env, numbers, run
from ridgeline.run_layout import RunLayout
from ridgeline.training.preemption import EXIT_PREEMPTED

PHASE = "spawn_k=0000001"
JOB = [
    "model=mlp",
    "trainer.max_steps=25",
    "spawn.at=[1]",
    "spawn.independent=false",
    "checkpoint_every_n_steps=5",
    "probe=barrier_only",
    "probe.every_n_steps=10",
    "probe.splits=[test]",
    "data.eval_test_size=200",
    "logger=none",
    "summary=false",
    "print_config=false",
]
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


@pytest.mark.parametrize(
    "point",
    [
        "probe:parent:end",
        f"probe:{PHASE}:every_n_steps:20",
        f"probe:{PHASE}:end",
        f"final:{PHASE}",
    ],
)
def test_killed_at_a_probe_boundary_resumes_to_the_whole_run(tmp_path, whole, point):
    stopped = interrupted(tmp_path, "SIGKILL", point)
    assert stopped.returncode == -9, stopped.stderr[-3000:]
    run([TRAIN, *args(tmp_path)], tmp_path, base_env(tmp_path))
    assert numbers(tmp_path / "run") == numbers(whole / "run")
    step, state = children_at_t(tmp_path)
    assert step == 25 - 1  # the children's own steps: T − k
    reference = children_at_t(whole)[1]
    assert all(torch.equal(state[k], reference[k]) for k in reference)


@pytest.mark.parametrize(
    ("point", "phase", "saved_step"),
    [
        # during training: Lightning stops at the end of step 10, after its probe
        (f"probe:{PHASE}:every_n_steps:10", PHASE, 10),
        # during the parent's end probe: it finishes, the next phase does not start
        ("probe:parent:end", PHASE, None),
    ],
)
def test_sigterm_saves_says_so_exits_nonzero_and_resumes(tmp_path, whole, point, phase, saved_step):
    stopped = interrupted(tmp_path, "SIGTERM", point)
    assert stopped.returncode == EXIT_PREEMPTED, stopped.stderr[-3000:]
    message = stopped.stderr.strip().splitlines()[-1]
    assert message.startswith(f"ridgeline: stopped by SIGTERM in phase {phase}"), message
    assert message.endswith("run the same command to resume the run"), message
    layout = RunLayout(tmp_path / "run").phase(phase)
    assert not layout.done.exists()
    if saved_step is not None:
        assert f"at step {saved_step}; its state is saved in {layout.last_checkpoint}" in message
        saved = torch.load(layout.last_checkpoint, map_location="cpu", weights_only=False)
        assert saved["global_step"] == saved_step - 1  # the children's own steps
    else:
        assert not layout.last_checkpoint.exists()

    run([TRAIN, *args(tmp_path)], tmp_path, base_env(tmp_path))
    assert numbers(tmp_path / "run") == numbers(whole / "run")
    reference = children_at_t(whole)[1]
    state = children_at_t(tmp_path)[1]
    assert all(torch.equal(state[k], reference[k]) for k in reference)
