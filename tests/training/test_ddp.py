"""Two CPU processes (DDP, gloo) against one: the same children and the same probe numbers."""

import json

import pytest
import torch

from helpers.cli import run_train

OVERRIDES = [
    "trainer.max_steps=20",
    "spawn.at=[0]",
    "spawn.independent=false",
    "probe.every_n_steps=10",
    "~probe.layerwise",
    "probe.curvature.layerwise=false",
    "data.eval_train_size=200",
    "data.eval_test_size=200",
    "logger=none",
    "summary=false",
]


def run(tmp_path, name, *extra):
    cwd = tmp_path / name
    cwd.mkdir()
    result = run_train(cwd, *OVERRIDES, f"paths.root_dir={cwd}", *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    records = {}
    for line in (cwd / "run" / "landscape" / "records.jsonl").open():
        r = json.loads(line)
        records[(r["phase"], r["step"])] = r
    weights = torch.load(
        cwd / "run" / "spawn_k=0000000" / "checkpoints" / "last.ckpt", weights_only=False
    )["state_dict"]
    return records, weights


def scalars(value, prefix=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from scalars(v, f"{prefix}{k}.")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from scalars(v, f"{prefix}{i}.")
    elif isinstance(value, float):
        yield prefix, value


def test_ddp_spawn_run_matches_single_process(tmp_path):
    single, w_single = run(tmp_path, "single")
    ddp, w_ddp = run(tmp_path, "ddp", "trainer=ddp_sim")
    assert single.keys() == ddp.keys()
    assert {r["world_size"] for r in ddp.values()} == {2}
    for key in single:
        a = dict(scalars({k: v for k, v in single[key].items() if k != "probe_seconds"}))
        b = dict(scalars({k: v for k, v in ddp[key].items() if k != "probe_seconds"}))
        assert a.keys() == b.keys()
        for name in a:
            assert b[name] == pytest.approx(a[name], rel=1e-4, abs=1e-5), (key, name)
    for name in w_single:
        torch.testing.assert_close(w_ddp[name], w_single[name], rtol=1e-4, atol=1e-5)
