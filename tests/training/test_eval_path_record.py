"""The evaluation path each probe component took is in the record it writes (and read back)."""

import json

import torch
from torch import nn

from ridgeline.job.run import ProbeRecord
from ridgeline.landscape import Evaluator, layer_groups, state_of
from ridgeline.landscape.eval_path import MEASURED_PATHS
from ridgeline.probes import (
    BarrierProbe,
    CurvatureProbe,
    GeometryProbe,
    LayerwiseProbe,
    ProbeContext,
)


def test_probe_records_name_the_measured_path_and_old_records_still_read():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    spawn = state_of(model)
    g = torch.Generator().manual_seed(1)
    a, b = (
        {k: v + 0.3 * torch.randn(v.shape, generator=g) for k, v in spawn.items()} for _ in range(2)
    )
    x, y = torch.randn(50, 6, generator=g), torch.randint(0, 3, (50,), generator=g)
    cache: dict = {}
    ctx = ProbeContext(
        template=model,
        states=[a, b],
        spawn_state=spawn,
        evaluators={"test": Evaluator(model, x, y, chunk_size=20, path_cache=cache)},
        groups=[gr for gr in layer_groups(model) if gr.param_names],
        alphas=[0.0, 0.25, 0.5, 0.75, 1.0],
        profile_alphas=[0.0, 0.5, 1.0],
        reduce=None,
    )
    components = [BarrierProbe(), LayerwiseProbe(), CurvatureProbe(), GeometryProbe()]
    line = {"phase": "spawn_k=0000000", "kind": "spawn", "probe": "pair", "step": 3, "pair": [0, 1]}
    line.update({c.key: c.compute(ctx, 0, 1) for c in components})
    rec = ProbeRecord.from_dict(json.loads(json.dumps(line)))
    # every workload with sets (or tangents) to batch was measured once and its choice recorded
    assert set(cache.values()) <= {"vmap", "loop"} and len(cache) >= 3
    measured = set(cache.values())
    paths = [
        rec.barrier["test"].eval_path,
        rec.layerwise["test"].eval_path,
        rec.curvature["test"].eval_path,
        rec.profiles["test"]["a"].eval_path,
        rec.profiles["test"]["b"].eval_path,
    ]
    assert set(paths) <= measured
    barrier_key = next(k for k in cache if k[-1] == (((0, 5),), 0))
    assert rec.barrier["test"].eval_path == cache[barrier_key]
    assert not any(k in MEASURED_PATHS for k in cache)  # the private cache, not the process's
    # a record written before the path was recorded reads back with eval_path None
    del line["barrier"]["test"]["eval_path"]
    assert ProbeRecord.from_dict(line).barrier["test"].eval_path is None
