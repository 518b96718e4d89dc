"""The fast paths of the layer-wise Taylor terms against the plain per-term nested jvp.

A layer's tangent alone starts at its stage; when the stage opens with a Linear or Conv (alone or
as a block's first child) only the input of the rest moves, and when the rest is piecewise
linear (ReLU, max-pool, eval BatchNorm, ...) one first-order jvp gives the logits' tangent.
Every term must equal the reference of test_curvature.py in float64.
"""

import copy

import pytest
import torch
from torch import nn

from ridgeline.landscape import Evaluator, state_of, taylor_prediction
from ridgeline.landscape.tangents import piecewise_linear

from .test_curvature import _reference_taylor


def _cnn(act: type[nn.Module], bn: bool) -> nn.Sequential:
    def block(c_in: int, c_out: int) -> nn.Sequential:
        mods = [nn.Conv2d(c_in, c_out, 3, padding=1)]
        if bn:
            mods.append(nn.BatchNorm2d(c_out))
        return nn.Sequential(*mods, act(), nn.MaxPool2d(2))

    return nn.Sequential(
        block(1, 4), block(4, 6), nn.Flatten(), nn.Linear(6 * 2 * 2, 5), act(), nn.Linear(5, 3)
    )


def _warm(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Random BN affine parameters (so they move) and running statistics from one pass."""
    model.train()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)
        model(x)
    return model.eval()


@pytest.mark.parametrize(
    ("act", "bn", "linear"),
    [(nn.ReLU, False, True), (nn.ReLU, True, True), (nn.Tanh, False, False)],
)
def test_conv_blocks_match_per_term_reference(act, bn, linear):
    g = torch.Generator().manual_seed(5)
    x = torch.randn(37, 1, 8, 8, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (37,), generator=g)
    torch.manual_seed(6)
    a, b = (_warm(_cnn(act, bn).double(), x) for _ in range(2))
    assert piecewise_linear(a[1:]) is linear
    ev = Evaluator(a, x, y, chunk_size=16)
    ta, tb = state_of(a), state_of(b)
    ref = _reference_taylor(ev, ta, tb, None)
    approx = lambda v: pytest.approx(v, rel=1e-9, abs=1e-12)  # noqa: E731
    for use_vmap in (False, True):
        ev.pinned_path = "vmap" if use_vmap else "loop"
        rec = taylor_prediction(ev, ta, tb)
        assert (rec.loss_mid, rec.grad_dot_delta_mid, rec.dHd_mid) == approx(ref["mid"])
        assert (rec.grad_dot_delta_a, rec.dHd_a) == approx(ref["a"][1:])
        names = ["0.0", "0.1", "1.0", "1.1", "3", "5"] if bn else ["0.0", "1.0", "3", "5"]
        assert [lc.name for lc in rec.layers] == names
        for lc in rec.layers:
            assert (lc.dHd_single_mid, lc.dHd_full_mid) == approx(ref[lc.name])
            assert lc.dHd_full_mid != 0.0


def test_piecewise_linear_modules():
    assert piecewise_linear(None)
    assert piecewise_linear(nn.Sequential(nn.ReLU(), nn.Sequential(nn.MaxPool2d(2)), nn.Flatten()))
    assert not piecewise_linear(nn.Sequential(nn.ReLU(), nn.GELU()))
    assert not piecewise_linear(nn.BatchNorm1d(3).train())
    assert piecewise_linear(nn.BatchNorm1d(3).eval())
    assert not piecewise_linear(nn.Dropout(0.5).train())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_taylor_on_cuda_matches_cpu():
    # the GPU check (scripts/gpu_check.sh) runs this file: every term on CUDA, float64, against
    # the same terms on the CPU, for both evaluation paths
    g = torch.Generator().manual_seed(5)
    x = torch.randn(37, 1, 8, 8, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (37,), generator=g)
    torch.manual_seed(6)
    a, b = (_warm(_cnn(nn.ReLU, True).double(), x) for _ in range(2))
    ref = taylor_prediction(Evaluator(a, x, y, chunk_size=16), state_of(a), state_of(b))
    cuda = (
        {k: v.cuda() for k, v in state_of(a).items()},
        {k: v.cuda() for k, v in state_of(b).items()},
    )
    for use_vmap in (False, True):
        on_cuda = copy.deepcopy(a).cuda()
        ev = Evaluator(on_cuda, x.cuda(), y.cuda(), chunk_size=16, use_vmap=use_vmap)
        rec = taylor_prediction(ev, *cuda)
        approx = lambda v: pytest.approx(v, rel=1e-9, abs=1e-12)  # noqa: E731
        assert (rec.loss_mid, rec.dHd_mid, rec.dHd_a, rec.dHd_b) == approx(
            (ref.loss_mid, ref.dHd_mid, ref.dHd_a, ref.dHd_b)
        )
        for lc, lr in zip(rec.layers, ref.layers, strict=True):
            assert (lc.dHd_single_mid, lc.dHd_full_mid) == approx(
                (lr.dHd_single_mid, lr.dHd_full_mid)
            )
