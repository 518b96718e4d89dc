import pytest
import torch
from torch import nn

from ridgeline.landscape import Evaluator, barrier_curve, layerwise_barriers, state_of
from ridgeline.landscape.barrier import barrier_values, curve_fields, validate_alphas
from ridgeline.landscape.results import BarrierValues


@pytest.mark.parametrize(
    "alphas, msg",
    [
        ([0.5, 1.0], "endpoint 0"),
        ([0.0, 0.5], "endpoint 1"),
        ([0.0, 0.7, 0.3, 1.0], "sorted"),
        ([0.0, 0.5, 0.5, 1.0], "sorted"),
        ([-0.1, 0.0, 1.0], "within"),
        ([0.0, 1.0, 1.2], "within"),
        ([0.0, float("nan"), 1.0], "non-finite"),
        ([0.0], "at least"),
    ],
)
def test_alpha_grid_validation(alphas, msg):
    with pytest.raises(ValueError, match=msg):
        validate_alphas(alphas)


def test_barrier_values():
    bv = barrier_values([0, 0.25, 0.5, 1], [1.0, 3.0, 2.0, 2.0])
    assert bv.midpoint == pytest.approx(0.5)
    assert bv.chord == pytest.approx(3.0 - 1.25)
    assert bv.endpoint_mean == pytest.approx(1.5)


def test_curve_fields():
    al, loss, err = [0, 0.25, 0.5, 1], [1.0, 3.0, 2.0, 2.0], [0.0, 0.5, 0.25, 0.25]
    assert curve_fields(al, loss, err, prefix="line_") == {
        "line_loss": loss,
        "line_loss_barrier": BarrierValues(midpoint=0.5, chord=1.75, endpoint_mean=1.5),
        "line_error": err,
        "line_error_barrier": BarrierValues(midpoint=0.125, chord=0.4375, endpoint_mean=0.375),
    }
    assert set(curve_fields(al, loss)) == {"loss", "loss_barrier"}  # no error rate: no error


def test_midpoint_added_and_symmetry(pair, data):
    x, y = data
    ta, tb = (state_of(m) for m in pair)
    ev = Evaluator(pair[0], x, y, chunk_size=32)
    grid = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    ab = barrier_curve(ev, ta, tb, alphas=grid)
    ba = barrier_curve(ev, tb, ta, alphas=grid)
    assert 0.5 in ab.alphas and len(ab.alphas) == 7
    assert ab.loss_barrier == barrier_values(ab.alphas, ab.loss)
    assert ab.error_barrier == barrier_values(ab.alphas, ab.error)
    assert ab.loss == pytest.approx(ba.loss[::-1], abs=1e-6)
    for f in ("midpoint", "chord", "endpoint_mean"):
        assert getattr(ab.loss_barrier, f) == pytest.approx(getattr(ba.loss_barrier, f), abs=1e-6)
        assert getattr(ab.error_barrier, f) == pytest.approx(getattr(ba.error_barrier, f))


def test_one_layer_layerwise_equals_full(data):
    x, y = data
    torch.manual_seed(3)
    a = nn.Sequential(nn.Flatten(), nn.Linear(12, 4))
    b = nn.Sequential(nn.Flatten(), nn.Linear(12, 4))
    ta, tb = state_of(a), state_of(b)
    ev = Evaluator(a, x, y, chunk_size=40)
    grid = [0.0, 0.25, 0.5, 0.75, 1.0]
    full = barrier_curve(ev, ta, tb, alphas=grid)
    lw = layerwise_barriers(ev, ta, tb, alphas=grid)
    assert [e.name for e in lw.entries] == ["1", "1"]
    for e in lw.entries:
        assert e.loss == pytest.approx(full.loss, abs=1e-6)
        assert e.loss_mid_own == pytest.approx(full.loss_barrier.midpoint, abs=1e-6)
        assert e.loss_mid_orig == pytest.approx(full.loss_barrier.midpoint, abs=1e-6)
        assert e.loss_barrier.chord == pytest.approx(full.loss_barrier.chord, abs=1e-6)


def test_layerwise_structure_and_cumulative_ends(pair, data):
    x, y = data
    ta, tb = (state_of(m) for m in pair)
    ev = Evaluator(pair[0], x, y, chunk_size=50)
    full = barrier_curve(ev, ta, tb, alphas=[0, 0.5, 1])
    lw = layerwise_barriers(ev, ta, tb, cumulative=True)
    assert lw.loss_a == pytest.approx(full.loss[0], abs=1e-6)
    layers = [e for e in lw.entries if e.kind == "layer"]
    assert [e.name for e in layers if e.direction == "into_a"] == ["1", "2", "4", "6"]
    for e in layers:
        if e.direction == "into_a":
            assert e.loss[0] == pytest.approx(lw.loss_a, abs=1e-12)
        else:
            assert e.loss[-1] == pytest.approx(lw.loss_b, abs=1e-12)
        mean_own = 0.5 * (e.loss[0] + e.loss[-1])
        assert e.loss_mid_orig - e.loss_mid_own == pytest.approx(
            mean_own - 0.5 * (lw.loss_a + lw.loss_b), abs=1e-9
        )
    # interpolating every group cumulatively is the full path
    for kind in ("cumulative_shallow_to_deep", "cumulative_deep_to_shallow"):
        last = [e for e in lw.entries if e.kind == kind and len(e.groups) == 4]
        assert len(last) == 2
        for e in last:
            assert e.loss == pytest.approx(full.loss, abs=1e-5)
