"""The ViT instability experiment, shrunk to a few steps, through every probe (issue 32): the
records of ``ridgeline-train experiment=vit_mnist_mini_instability`` hold every probe's part,
on one process and on two CPU processes (``trainer=ddp``) with the same numbers."""

import math
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.ddp import DDP, base_env
from ridgeline.job.run import load_run
from ridgeline.records.probe_record import ProbeRecord

TRAIN = str(Path(sys.executable).with_name("ridgeline-train"))
T = 4
# The experiment with a 1-block ViT of width 16, 4 steps, tiny probe grids, one spawn step
# (k = 2: the parent has taken DDP steps) besides the children of different inits; every probe
# stays on. (Most of a run is the top eigenvalue's power iteration: up to 100 Hessian-vector
# products per pair record, each all-reduced under DDP; a spawn step costs two records.)
SMALL = [
    "experiment=vit_mnist_mini_instability",
    "model.dim=16",
    "model.depth=1",
    "model.heads=2",
    "model.mlp_dim=32",
    f"trainer.max_steps={T}",
    "schedule.warmup_steps=1",
    "spawn.at=[2]",
    "data.eval_train_size=40",
    "data.eval_test_size=40",
    "probe.alphas=[0,0.5,1]",
    "probe.profile_alphas=[0,0.5,1]",
    "probe.geometry.plane_resolution=3",
    "probe.eval_path=loop",  # the runs are compared number for number
    "logger=none",
    "summary=false",
    "print_config=false",
    "threads=1",
]
GROUPS = ["embed", "block1", "norm", "head"]  # probe.layer_groups=stage


def train(root: Path, *extra: str) -> Path:
    run_dir = root / "run"
    args = [TRAIN, f"hydra.run.dir={run_dir}", f"paths.root_dir={root}", *SMALL, *extra]
    done = subprocess.run(
        args, cwd=root, env=base_env(root), capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-4000:])
    return run_dir


def check_pair(r: ProbeRecord) -> None:
    """Every probe's part of one final pair record of the experiment."""
    assert set(r.barrier) == {"train", "test"} and set(r.ridge) == {"test"}
    entries = r.layerwise["test"].entries
    kinds = {e.kind for e in entries}
    assert kinds == {"layer", "cumulative_shallow_to_deep", "cumulative_deep_to_shallow"}
    assert {tuple(e.groups) for e in entries if e.kind == "layer"} == {(g,) for g in GROUPS}
    taylor = r.curvature["test"]
    assert [layer.name for layer in taylor.layers] == GROUPS
    assert taylor.cross_layer_remainder is not None and taylor.endpoint_expansion is None
    split = r.gauss_newton["test"]
    assert [s.name for s in split.layers] == GROUPS
    # ΔᵀHΔ = ΔᵀGΔ + ΔᵀRΔ, and the total is the curvature probe's own ΔᵀH(θ_½)Δ
    assert split.whole.total == pytest.approx(split.whole.gauss_newton + split.whole.residual)
    assert split.whole.total == pytest.approx(taylor.dHd_mid, rel=1e-3, abs=1e-6)
    assert split.whole.gauss_newton >= 0
    assert math.isfinite(r.top_eigenvalue["test"].eigenvalue)
    if r.kind == "spawn":  # angle and distances at the spawn point, per layer too
        assert r.geometry is not None and set(r.geometry.groups_dist_ab) == set(GROUPS)
    else:  # children of different inits: no spawn point, their distance only
        assert r.dist_ab is not None and r.dist_ab > 0
    assert r.plane is not None


def finals(run_dir: Path) -> dict[str, ProbeRecord]:
    run = load_run(run_dir)
    last: dict[str, ProbeRecord] = {}
    for r in run.records:
        if r.probe == "pair" and r.step == T:
            last[r.phase] = r
    return last


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> Path:
    return train(tmp_path_factory.mktemp("vit_single"))


@pytest.mark.slow
def test_every_probe_is_in_the_records(single):
    last = finals(single)
    assert sorted(last) == ["independent", "spawn_k=0000002"]
    for record in last.values():
        check_pair(record)
    parents = [r for r in load_run(single).records if r.probe == "parent"]
    assert parents and all(r.parent_distance is not None for r in parents)
    assert all(r.parent_profiles for r in parents if r.step > 0)


@pytest.mark.slow
def test_two_processes_give_the_records_of_one(single, tmp_path):
    """Under ``trainer=ddp`` (2 CPU processes) the spawn points are the same parent steps and
    the probes' evaluation is sharded and all-reduced: the records carry the same parts and
    numbers equal to float summation order (bounds chosen, not measured: 1e-4 relative for the
    loss, 1e-3 for ΔᵀHΔ, one example for an error rate; the DDP gradient all-reduce over 4 steps
    and the sharded sums move them by float rounding only)."""
    ddp = train(tmp_path, *DDP)
    one, two = finals(single), finals(ddp)
    assert sorted(one) == sorted(two)
    for phase, r in two.items():
        check_pair(r)
        a, b = one[phase], r
        assert b.barrier["test"].loss == pytest.approx(a.barrier["test"].loss, rel=1e-4)
        assert b.barrier["test"].error == pytest.approx(a.barrier["test"].error, abs=1 / 40 + 1e-9)
        assert b.curvature["test"].dHd_mid == pytest.approx(
            a.curvature["test"].dHd_mid, rel=1e-3, abs=1e-6
        )
