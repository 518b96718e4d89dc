"""The probe registry: one name per component (config key = record key); a user's own component,
registered in its module and named by its ``_target_``, is found and run by that name; a name
taken twice is refused."""

from types import SimpleNamespace
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from ridgeline.config.schema import ProbeConfig
from ridgeline.job.plan import Phase
from ridgeline.landscape import Evaluator, state_of
from ridgeline.probes import (
    BarrierProbe,
    CurvatureProbe,
    GeometryProbe,
    LayerwiseProbe,
    PairComponent,
    ParentProbe,
    build_probe_callbacks,
    list_probes,
    register_probe,
)
from ridgeline.probes.component import ProbeContext
from ridgeline.probes.registry import probe_entry, runs_on_parent
from ridgeline.store.layout import RunLayout

BUILT_IN = {
    "barrier": BarrierProbe,
    "curvature": CurvatureProbe,
    "geometry": GeometryProbe,
    "layerwise": LayerwiseProbe,
    "parent": ParentProbe,
}


@register_probe("user_echo")
class EchoProbe(PairComponent):
    """A user's own pair component: the pair it was asked for and how many children it saw."""

    def compute(self, ctx: ProbeContext, i: int, j: int) -> dict[str, Any]:
        return {"pair": [i, j], "children": len(ctx.states)}


def test_the_built_in_components_are_registered_under_their_keys():
    names = list_probes()
    assert names == sorted(names)
    assert set(BUILT_IN) <= set(names) and "user_echo" in names
    for name, cls in BUILT_IN.items():
        assert cls.key == name
        entry = probe_entry(cls())
        assert entry is not None and entry.cls is cls
    assert [n for n in BUILT_IN if runs_on_parent(BUILT_IN[n]())] == ["parent"]


def _context() -> ProbeContext:
    torch.manual_seed(0)
    a, b = nn.Sequential(nn.Linear(3, 2)), nn.Sequential(nn.Linear(3, 2))
    x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
    return ProbeContext(
        template=a,
        states=[state_of(a), state_of(b)],
        spawn_state=None,
        evaluators={"test": Evaluator(a, x, y)},
        groups=[],
        alphas=[0.0, 0.5, 1.0],
        profile_alphas=[0.0, 1.0],
        reduce=None,
    )


def test_a_user_component_is_found_and_run_by_its_name(tmp_path):
    components = {
        "barrier": OmegaConf.create({"_target_": "ridgeline.probes.BarrierProbe", "ridge": False}),
        "user_echo": OmegaConf.create({"_target_": f"{__name__}.EchoProbe"}),
    }
    plan = SimpleNamespace(probe=ProbeConfig(), settings=SimpleNamespace(components=components))
    spawn = Phase(name="spawn", kind="spawn", total_steps=10, spawn_step=0)
    (probe,) = build_probe_callbacks(plan, RunLayout(tmp_path), spawn)
    assert isinstance(probe.components["user_echo"], EchoProbe)
    parent = Phase(name="parent", kind="parent", total_steps=10, spawn_step=None)
    assert build_probe_callbacks(plan, RunLayout(tmp_path), parent) == []  # pair components only
    trainer = SimpleNamespace(global_step=0, current_epoch=0, world_size=1)
    (record,) = probe._records(trainer, SimpleNamespace(absolute_step=0), _context(), "start")
    assert record["user_echo"] == {"pair": [0, 1], "children": 2}
    keys = list(record)
    assert keys.index("barrier") < keys.index("user_echo")  # run in the config's order


def test_a_name_registered_twice_is_refused():
    with pytest.raises(ValueError, match="'barrier' is already registered by .*BarrierProbe"):

        @register_probe("barrier")
        class MyBarrier(PairComponent):
            pass

    assert probe_entry(BarrierProbe()).cls is BarrierProbe and BarrierProbe.key == "barrier"
