"""ridgeline.load_run: a real run read back; a recorded barrier recomputed from the loaded
children with the landscape core gives the recorded number exactly."""

import pytest
from omegaconf import DictConfig

from ridgeline.errors import RidgelineError
from ridgeline.landscape import BarrierRecord, Evaluator, GeometryRecord, barrier_curve, distance

# Parent to T = 20 with a spawn point at k = 10, two children, barrier and geometry probes.
OVERRIDES = [
    "debug=fast",
    "logger=none",
    "summary=false",
    "~probe.layerwise",
    "~probe.curvature",
    "spawn.at=[10]",
    "spawn.independent=false",
    "probe.geometry.plane=off",  # the distances are read back; the plane is not
    "threads=1",
]


@pytest.fixture(scope="module")
def run(tiny_run_factory):
    from ridgeline import load_run

    return load_run(tiny_run_factory("load_run", *OVERRIDES).run_dir)


@pytest.mark.slow  # uses a ridgeline-train run (a process)
def test_config_records_and_phases(run):
    assert isinstance(run.config, DictConfig) and run.config.trainer.max_steps == 20
    assert run.config.environment.threads == 1
    assert list(run.phases) == ["parent", "spawn_k=0000010"]
    pairs = [r for r in run.records if r.probe == "pair"]
    assert [r.step for r in pairs] == [10, 20]  # spawn point, end
    for record in pairs:
        assert record.pair == (0, 1) and record.spawn_step == 10
        assert set(record.barrier) == {"train", "test"}
        assert all(isinstance(b, BarrierRecord) for b in record.barrier.values())
        assert isinstance(record.geometry, GeometryRecord)
        assert record.raw["environment"]["threads"] == 1
    parents = [r for r in run.records if r.probe == "parent"]
    assert [r.step for r in parents] == [0, 10, 20] and parents[0].parent_profiles["test"].alphas


@pytest.mark.slow  # uses a ridgeline-train run (a process)
def test_a_recorded_barrier_is_recomputed_exactly_from_the_loaded_children(run):
    phase = run.phases["spawn_k=0000010"]
    (record,) = run.final_records(phase.name)
    assert record.step == phase.step() == 20  # last.ckpt holds the children at T
    a, b = phase.children()
    x, y = run.datamodule().eval_tensors("test")
    evaluator = Evaluator(
        run.model(),
        x,
        y,
        chunk_size=run.config.probe.chunk_size,
        bn_policy=record.raw["bn_policy"],
    )
    curve = barrier_curve(evaluator, a, b, alphas=record.barrier["test"].alphas)
    assert curve.loss == record.barrier["test"].loss
    assert curve.error_barrier == record.barrier["test"].error_barrier
    assert curve.loss_barrier == record.barrier["test"].loss_barrier
    assert curve.error_barrier.endpoint_mean > 0  # a barrier, not two equal networks


@pytest.mark.slow  # uses a ridgeline-train run (a process)
def test_the_spawn_point_is_the_parent_at_k(run):
    phase = run.phases["spawn_k=0000010"]
    spawn = phase.spawn_point()
    a, b = phase.children()
    (record,) = run.final_records(phase.name)
    names = [n for n, _ in run.model().named_parameters()]
    assert distance(spawn, a, names) == record.geometry.dist_as
    assert distance(spawn, b, names) == record.geometry.dist_bs
    parent = run.phases["parent"]
    assert parent.spawn_point() is None and parent.step() == 20
    assert len(parent.models()) == 1 and len(phase.models()) == 2


@pytest.mark.slow  # uses a ridgeline-train run (a process)
def test_missing_phase_records_and_spawn_point_are_named(run, tmp_path):
    with pytest.raises(RidgelineError, match="no probe records of phase nope"):
        run.final_records("nope")
    from dataclasses import replace

    moved = replace(run.phases["spawn_k=0000010"], spawn_checkpoint=tmp_path / "gone.ckpt")
    with pytest.raises(RidgelineError, match="parent store .* was moved or deleted"):
        moved.spawn_point()


def test_load_run_on_records_without_a_phase_is_one_line(tmp_path):
    from ridgeline import load_run

    (tmp_path / "config.yaml").write_text("seed: 0\n")
    (tmp_path / "landscape").mkdir()
    (tmp_path / "landscape" / "records.jsonl").write_text('{"probe": "pair", "step": 3}\n')
    with pytest.raises(RidgelineError, match=r"records.jsonl line 1 has no 'phase'") as info:
        load_run(tmp_path)
    assert "\n" not in str(info.value)
