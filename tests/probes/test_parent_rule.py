"""The parent component is found by its class's registry entry, whatever its config key: a user's
``probe.my_parent: {_target_: ridgeline.probes.ParentProbe}`` writes parent records."""

import math
from types import SimpleNamespace

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from ridgeline.config.schema import ProbeConfig
from ridgeline.job.plan import Phase
from ridgeline.landscape import Evaluator, state_of
from ridgeline.probes import BarrierProbe, LandscapeProbe, ParentProbe, build_probe_callbacks
from ridgeline.probes.component import ProbeContext
from ridgeline.records.probe_record import ProbeRecord
from ridgeline.store.layout import RunLayout

COMPONENTS = {
    "my_parent": OmegaConf.create({"_target_": "ridgeline.probes.ParentProbe"}),
    "walls": OmegaConf.create({"_target_": "ridgeline.probes.BarrierProbe"}),
}


def _callbacks(tmp_path, kind: str) -> list[LandscapeProbe]:
    plan = SimpleNamespace(probe=ProbeConfig(), settings=SimpleNamespace(components=COMPONENTS))
    phase = Phase(name=kind, kind=kind, total_steps=10, spawn_step=None if kind == "parent" else 0)
    return build_probe_callbacks(plan, RunLayout(tmp_path), phase)


def test_components_are_split_by_type_not_by_key(tmp_path):
    (on_parent,) = _callbacks(tmp_path, "parent")
    assert list(on_parent.components) == ["my_parent"]
    assert isinstance(on_parent.components["my_parent"], ParentProbe)
    (on_children,) = _callbacks(tmp_path, "spawn")
    assert list(on_children.components) == ["walls"]
    assert isinstance(on_children.components["walls"], BarrierProbe)


def test_a_parent_component_under_another_key_writes_the_parent_record(tmp_path):
    (probe,) = _callbacks(tmp_path, "parent")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2))
    theta0 = state_of(model)
    with torch.no_grad():
        model[0].weight.add_(0.5)  # θ_t = θ_0 + 0.5 on the weight only
    x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
    ctx = ProbeContext(
        template=model,
        states=[state_of(model)],
        spawn_state=None,
        evaluators={"test": Evaluator(model, x, y)},
        groups=[],
        alphas=[0.0, 1.0],
        profile_alphas=[0.0, 0.5, 1.0],
        reduce=None,
        extra={"theta0": theta0},
    )
    trainer = SimpleNamespace(global_step=0, current_epoch=0, world_size=1)
    (record,) = probe._records(trainer, SimpleNamespace(absolute_step=0), ctx, "start")
    assert record["probe"] == "parent" and "my_parent" not in record
    typed = ProbeRecord.from_dict(record)
    assert typed.parent_distance == pytest.approx(math.sqrt(6 * 0.5**2))  # ‖θ_t − θ_0‖, 6 weights
    assert typed.parent_profiles["test"].alphas == [0.0, 0.5, 1.0]
