"""The SLURM multi-GPU sweep rehearsed locally: submitit's local executor starts each job as two
tasks (``tasks_per_node=2``), as ``hydra/launcher=slurm`` does with one task per device."""

import subprocess

import pytest

from helpers.ddp import DDP, JOB, TRAIN, base_env, records

pytestmark = pytest.mark.slow  # starts processes (make test-fast leaves it out)

SWEEP = [o for o in JOB if not o.startswith("spawn.at")]


def test_local_launcher_runs_two_ddp_jobs_that_share_a_parent(tmp_path):
    sweep = tmp_path / "sweep"
    args = [
        TRAIN,
        "-m",
        "hydra/launcher=local",
        "hydra.launcher.tasks_per_node=2",
        *DDP,
        *SWEEP,
        "spawn.at=1,10",
        "spawn.parent_checkpoints=[1,10]",
        f"hydra.sweep.dir={sweep}",
        f"paths.root_dir={tmp_path}",
    ]
    done = subprocess.run(
        args,
        cwd=tmp_path,
        env=base_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    jobs = sorted(p for p in sweep.iterdir() if p.name.isdigit())
    assert [j.name for j in jobs] == ["0", "1"]
    logs = "\n".join((j / "train.log").read_text() for j in jobs)
    assert logs.count("training parent") == 1, logs
    assert logs.count("found in the store") == 1, logs
    for job, k in zip(jobs, (1, 10), strict=True):
        found = records(job)
        assert {r["world_size"] for r in found.values()} == {2}
        steps = sorted(r["step"] for r in found.values() if r["phase"] == f"spawn_k={k:07d}")
        assert steps == sorted({k, 10, 20}), steps
