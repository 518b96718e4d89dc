"""The geometry component's loss plane takes one pass over the data: the grid and the three
points θ_s, θ_A, θ_B (``point_loss``, ``point_error``) are evaluated by one Evaluator call."""

import pytest
import torch
from torch import nn

from ridgeline.landscape import Evaluator, layer_groups, state_of
from ridgeline.landscape.params import affine
from ridgeline.probes import GeometryProbe
from ridgeline.probes.component import ProbeContext, param_keys

RES = 4


def _net() -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 4)).eval()


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_plane_points_come_from_the_grid_call_with_the_values_of_their_own():
    torch.manual_seed(0)
    nets = [_net() for _ in range(3)]
    s, a, b = (state_of(n) for n in nets)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(90, 12, generator=g), torch.randint(0, 4, (90,), generator=g)
    ev = Evaluator(nets[0], x, y, chunk_size=40, use_vmap=False)
    calls: list[list[int]] = []
    run = ev.run

    def counting(groups, **kw):
        calls.append([len(grp.param_sets) for grp in groups])
        return run(groups, **kw)

    ev.run = counting  # type: ignore[method-assign]
    ctx = ProbeContext(
        nets[0], [a, b], s, {"test": ev}, layer_groups(nets[0]), [0.0, 0.5, 1.0], [0.0, 1.0],
        None, extra={"final": True},
    )  # fmt: skip
    probe = GeometryProbe(plane_trajectory=False, plane_resolution=RES)
    plane = probe._plane(ctx, 0, 1, param_keys(nets[0]))
    assert calls == [[RES * RES, 3]]  # one pass: the grid and the three points
    assert plane is not None and plane["split"] == "test" and plane["seconds"] > 0
    corners = [affine(s, a, b, c1, c2) for c1, c2 in ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0))]
    alone = Evaluator(nets[0], x, y, chunk_size=40, use_vmap=False).evaluate(corners)
    # loop path: each set's sums do not depend on the other sets in the call, so exactly equal
    assert plane["point_loss"] == [m.loss for m in alone]
    assert plane["point_error"] == [m.error for m in alone]
    assert len(set(plane["point_loss"])) == 3
    assert len(plane["loss"]) == RES and plane["record"] == "SliceRecord"
