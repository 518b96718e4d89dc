"""The parent key covers exactly what determines the parent; the lock serialises two jobs."""

import functools
import multiprocessing as mp
import time
from pathlib import Path

import pytest

from helpers.compose import compose_train
from ridgeline.job.parent_store import parent_lock
from ridgeline.job.plan import make_plan
from ridgeline.job.ranks import Ranks
from ridgeline.store.layout import ParentStoreLayout


@functools.cache
def key_of(*overrides: str) -> str:
    cfg = compose_train("paths.root_dir=/tmp", "paths.output_dir=/tmp/x", *overrides)
    return make_plan(cfg).parent_key


@pytest.mark.parametrize(
    "override",
    [
        "spawn.children=3",
        "probe.every_n_steps=7",
        "probe.bn_policy=interpolate",
        "data.eval_train_size=100",
        "logger=csv",
        "spawn.fresh_optimizer=true",
    ],
)
def test_spawn_probe_and_eval_settings_do_not_change_the_parent(override):
    base = ["spawn.parent_checkpoints=[0,10]"]
    assert key_of(*base, override) == key_of(*base)


def test_spawn_steps_share_a_parent_when_its_checkpoints_are_fixed():
    base = ["spawn.parent_checkpoints=[0,10,40]"]
    assert key_of(*base, "spawn.at=0") == key_of(*base, "spawn.at=40")


@pytest.mark.parametrize(
    "override",
    [
        "seed=1",
        "seeds.data=5",
        "optim.lr=0.05",
        "model.width=[8,16]",
        "trainer.max_steps=300",
        "data.batch_size=64",
        "spawn.parent_checkpoints=[0,20]",
    ],
)
def test_training_settings_change_the_parent(override):
    base = ["spawn.parent_checkpoints=[0,10]"]
    assert key_of(*base, override) != key_of(*base)


def _job(store: str, log: str, name: str, hold: float) -> None:
    layout = ParentStoreLayout(Path(store))
    with parent_lock(layout, "k", Ranks()):
        done = layout.phase("k").done
        with open(log, "a") as f:
            f.write(f"{name} {'reuses' if done.exists() else 'trains'} {time.time()}\n")
        if not done.exists():
            time.sleep(hold)
            done.parent.mkdir(parents=True, exist_ok=True)
            done.write_text("{}")


@pytest.mark.slow  # starts processes
def test_two_jobs_needing_the_same_parent_train_it_once(tmp_path):
    log = tmp_path / "log.txt"
    ctx = mp.get_context("spawn")
    jobs = [ctx.Process(target=_job, args=(str(tmp_path), str(log), n, 1.0)) for n in "ab"]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(60)
        assert job.exitcode == 0
    actions = sorted(line.split()[1] for line in log.read_text().splitlines())
    assert actions == ["reuses", "trains"]
