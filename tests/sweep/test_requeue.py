"""Where submitit owns the preemption signal (``hydra/launcher=slurm``, rehearsed here with the
local executor), its requeue keeps working: on USR2 submitit checkpoints the job, requeues it and
exits 144; its controller starts the job again, which resumes in its own run dir and ends with
the records and children of an uninterrupted run."""

import os
import signal
from pathlib import Path

import pytest
import torch

from helpers.ddp import TRAIN, base_env, mlp_job, numbers, run, start
from helpers.processes import descendants, wait_for_record
from ridgeline.store.layout import RunLayout

pytestmark = pytest.mark.slow  # starts processes (make test-fast leaves it out)

PHASE = "spawn_k=0000001"
JOB = mlp_job(50)
SIGNAL_AT = 10  # the periodic probe after which USR2 comes: 40 steps and four probes remain


def submitit_tasks(pid: int) -> list[int]:
    """The processes running the job's task (``python -m submitit.core._submit``)."""
    found = []
    for child in descendants(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"submitit.core._submit" in cmdline:
            found.append(child)
    return found


def children_at_t(run_dir: Path) -> dict:
    path = RunLayout(run_dir).phase(PHASE).last_checkpoint
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


def test_usr2_requeues_through_submitit_and_the_job_resumes(tmp_path):
    whole = tmp_path / "whole"
    whole.mkdir()
    run(
        [TRAIN, f"hydra.run.dir={whole / 'run'}", f"paths.root_dir={whole}", *JOB],
        whole,
        base_env(whole),
    )

    root = tmp_path / "swept"
    root.mkdir()
    sweep = root / "sweep"
    args = [
        TRAIN,
        "-m",
        "hydra/launcher=local",
        f"hydra.sweep.dir={sweep}",
        f"paths.root_dir={root}",
        *JOB,
    ]
    proc = start(args, root, base_env(root))
    records = RunLayout(sweep / "0").records
    wait_for_record(proc, records, PHASE, SIGNAL_AT)
    tasks = submitit_tasks(proc.pid)
    assert len(tasks) == 1 and proc.poll() is None, "the job ended before it could be signalled"
    os.kill(tasks[0], signal.SIGUSR2)  # submitit's preemption/timeout signal
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-4000:]

    logs = "\n".join(p.read_text() for p in (sweep / ".submitit").rglob("*_log.*"))
    assert "Requeued job" in logs, logs[-3000:]
    assert "resumes from" in (sweep / "0" / "train.log").read_text()
    assert numbers(sweep / "0") == numbers(whole / "run")
    resumed, reference = children_at_t(sweep / "0"), children_at_t(whole / "run")
    assert all(torch.equal(resumed[k], reference[k]) for k in reference)
