"""Kill a run mid-training (a real signal to a real process), restart it with the same command:
the records and final weights equal an uninterrupted run's."""

import json
import signal
import subprocess
import time

import pytest
import torch

from helpers.cli import TRAIN
from helpers.processes import kill_tree
from helpers.wandb_file import read_runs

pytestmark = pytest.mark.slow  # starts processes (make test-fast leaves it out)

OVERRIDES = [
    "trainer.max_steps=30",
    "spawn.at=[0]",
    "spawn.children=2",  # one pair: the probes' ridge (a nested jvp per pair) once per point
    "spawn.independent=false",
    "checkpoint_every_n_steps=5",
    "probe=barrier_only",
    "probe.every_n_steps=10",
    "probe.splits=[test]",
    "probe.alphas=[0,0.5,1]",
    "probe.profile_alphas=[0,0.5,1]",
    # Runs are compared bit for bit: a measured path (auto) may differ between processes.
    "probe.eval_path=loop",
    "data.eval_test_size=200",
    "print_config=false",
    "summary=false",
    "logger=wandb",
]


def command(tmp_path, name):
    return [TRAIN, f"hydra.run.dir={tmp_path / name}", f"paths.root_dir={tmp_path}", *OVERRIDES]


def records(run_dir):
    out = {}
    for line in (run_dir / "landscape" / "records.jsonl").open():
        r = json.loads(line)
        r.pop("probe_seconds", None)
        r.pop("environment", None)  # e.g. the git commit, when one lands between the runs
        out[(r["phase"], r["step"], str(r["pair"]))] = r
    return out


def final_weights(run_dir):
    return torch.load(
        run_dir / "spawn_k=0000000" / "checkpoints" / "last.ckpt", weights_only=False
    )["state_dict"]


@pytest.mark.parametrize("sig", [signal.SIGKILL])
def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path, sig, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    done = subprocess.run(
        command(tmp_path, "whole"), capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]

    run = tmp_path / "killed"
    proc = subprocess.Popen(
        command(tmp_path, "killed"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    path = run / "landscape" / "records.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        text = path.read_text() if path.exists() else ""
        # killed after the periodic probe at 10: 20 more steps, two probes and the end remain
        if '"phase": "spawn_k=0000000", "kind": "spawn", "step": 10' in text:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    # the whole process tree dies (W&B's service runs in a session of its own), as in a
    # preemption: SLURM kills every process of the job
    kill_tree(proc.pid, sig)
    proc.wait(timeout=60)
    assert not (run / "spawn_k=0000000" / "done.json").exists()

    again = subprocess.run(
        command(tmp_path, "killed"), capture_output=True, text=True, timeout=600, check=False
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resumes from" in (run / "train.log").read_text()

    assert records(run) == records(tmp_path / "whole")
    lines = (run / "landscape" / "records.jsonl").read_text().splitlines()
    assert len(lines) == len(set(lines)) == len(records(run))
    whole, resumed = final_weights(tmp_path / "whole"), final_weights(run)
    assert whole.keys() == resumed.keys()
    for key in whole:
        assert torch.equal(whole[key], resumed[key]), key
    ids = {r.run_id for r in read_runs(run) if r.job_type == "spawn"}
    assert len(ids) == 1
