"""A 2 × 2 local multirun (spawn steps × seeds) through the real submitit local launcher."""

import csv
import os
import subprocess

import pytest

from helpers.cli import TRAIN
from helpers.wandb_file import read_runs

pytestmark = pytest.mark.slow  # starts processes (make test-fast leaves it out)


def test_grid_shares_each_parent_and_collects_one_csv(tmp_path):
    sweep = tmp_path / "sweep"
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    args = [
        TRAIN,
        "-m",
        "hydra/launcher=local",
        "spawn.at=0,10",
        "seed=0,1",
        "spawn.parent_checkpoints=[0,10]",
        "spawn.independent=false",
        "debug=fast",
        "probe=barrier_only",
        "probe.splits=[test]",
        "probe.alphas=[0,0.5,1]",  # the midpoint the CSV is checked against, and both ends
        "probe.profile_alphas=[0,0.5,1]",
        "probe.eval_path=loop",  # no timing of loop against vmap (the path choice: own tests)
        "print_config=false",
        "summary=false",
        f"hydra.sweep.dir={sweep}",
        f"paths.root_dir={tmp_path}",
    ]
    result = subprocess.run(
        args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted(p for p in sweep.iterdir() if p.name.isdigit())
    assert [j.name for j in jobs] == ["0", "1", "2", "3"]

    logs = "\n".join((j / "train.log").read_text() for j in jobs)
    trained = logs.count("training parent")
    reused = logs.count("found in the store")
    assert (trained, reused) == (2, 2), logs
    store = tmp_path / "outputs" / "parents"
    parents = sorted(p for p in store.iterdir() if p.is_dir())
    assert len(parents) == 2 and all((p / "done.json").exists() for p in parents)

    runs = [r for j in jobs for r in read_runs(j)]
    assert len(runs) == 4 and len({r.run_id for r in runs}) == 4
    assert len({r.group for r in runs}) == 1

    collect = subprocess.run(
        [str(TRAIN).replace("ridgeline-train", "ridgeline-collect"), str(sweep)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert collect.returncode == 0, collect.stderr
    rows = list(csv.DictReader((sweep / "sweep.csv").open()))
    pair_rows = [r for r in rows if r["probe"] == "pair"]
    # spawn k=0: probes at 0, 10, 20; k=10: at 10, 20 → (3 + 2) × 2 seeds
    assert len(pair_rows) == 10
    assert {r["config.seed"] for r in rows} == {"0", "1"}
    assert {r["config.spawn.at"] for r in rows} == {"0", "10"}
    first = [r for r in pair_rows if r["job"] == "2" and r["step"] == "20"][0]
    records = [line for line in (sweep / "2" / "landscape" / "records.jsonl").open()]
    assert any(first["barrier/test/loss/midpoint"][:10] in line for line in records)
