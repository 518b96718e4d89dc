"""REPAIR (Jordan et al. 2023) against hand computations with plain torch, float64."""

import pytest
import torch
from torch import nn
from torch.func import functional_call

from ridgeline.landscape import (
    BNPolicy,
    Endpoints,
    Evaluator,
    barrier_curve,
    lerp,
    repair,
    state_of,
)
from ridgeline.landscape.groups import ParamSetGroup
from ridgeline.landscape.normalization import channel_stats, repair_layers

from .conftest import live, mlp, untouched

D = torch.float64


def net(seed: int, widths=(5, 7, 3), scale: float = 1.0) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(a, b))
    m = nn.Sequential(*layers).to(D)
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(scale)
            if p.dim() == 1:
                p.add_(0.3 * seed)  # endpoints with distinct means
    return m


def batches(seed: int, sizes=(7, 13, 20), d: int = 5) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, d, generator=g, dtype=D) * 1.3 + 0.4 for n in sizes]


def stats(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return z.mean(0), z.std(0, unbiased=False)


def test_layer_choice_skips_the_classifier_output():
    assert repair_layers(net(0, widths=(5, 7, 6, 3))) == ["0", "2"]
    assert repair_layers(mlp(bn=False)) == ["1", "3"]


def test_channel_stats_are_exact_means_over_uneven_batches():
    m = net(1)
    xs = batches(2)
    st = channel_stats(m, state_of(m), xs, ["0", "2"])
    x = torch.cat(xs)
    z1 = m[0](x)
    mu, sd = stats(z1)
    torch.testing.assert_close(st["0"].mean, mu, rtol=0, atol=1e-13)
    torch.testing.assert_close(st["0"].std, sd, rtol=0, atol=1e-13)
    mu2, sd2 = stats(m(x))
    torch.testing.assert_close(st["2"].mean, mu2, rtol=0, atol=1e-13)
    torch.testing.assert_close(st["2"].std, sd2, rtol=0, atol=1e-13)
    assert st["0"].count == x.shape[0]


def test_two_layer_repair_matches_the_hand_fold():
    a, b = net(1), net(2, scale=1.7)
    ta, tb = state_of(a), state_of(b)
    xs = batches(3)
    x = torch.cat(xs)
    alpha = 0.3
    ps = lerp(ta, tb, alpha)
    # by hand: pre-activation statistics of A, B and the interpolated net on all training inputs
    mu_a, sd_a = stats(x @ ta["0.weight"].T + ta["0.bias"])
    mu_b, sd_b = stats(x @ tb["0.weight"].T + tb["0.bias"])
    w, bias = ps["0.weight"], ps["0.bias"]
    mu, sd = stats(x @ w.T + bias)
    mu_t, sd_t = (1 - alpha) * mu_a + alpha * mu_b, (1 - alpha) * sd_a + alpha * sd_b
    s = sd_t / sd
    w_hand, b_hand = s[:, None] * w, s * (bias - mu) + mu_t
    # layer 1's mean is affine in θ, so it is on target already; its std is not (something to fix)
    torch.testing.assert_close(mu, mu_t, rtol=0, atol=1e-12)
    assert (sd / sd_t - 1).abs().max() > 0.05

    (fixed,) = repair(a, Endpoints(ta, tb, [alpha]), [ps], xs)
    torch.testing.assert_close(fixed["0.weight"], w_hand, rtol=0, atol=1e-13)
    torch.testing.assert_close(fixed["0.bias"], b_hand, rtol=0, atol=1e-13)
    # the classifier is not touched
    assert torch.equal(fixed["2.weight"], ps["2.weight"])
    assert torch.equal(fixed["2.bias"], ps["2.bias"])
    # outputs: the folded net equals "normalise z to the target, then the rest of the net"
    x_test = torch.randn(11, 5, generator=torch.Generator().manual_seed(9), dtype=D)
    z = x_test @ w.T + bias
    h = torch.relu((z - mu) / sd * sd_t + mu_t)
    out_hand = h @ ps["2.weight"].T + ps["2.bias"]
    out = functional_call(a, fixed, (x_test,))
    torch.testing.assert_close(out, out_hand, rtol=0, atol=1e-12)
    # after REPAIR the layer-1 pre-activations have exactly the target statistics
    mu_r, sd_r = stats(x @ fixed["0.weight"].T + fixed["0.bias"])
    torch.testing.assert_close(mu_r, mu_t, rtol=0, atol=1e-12)
    torch.testing.assert_close(sd_r, sd_t, rtol=0, atol=1e-12)


def test_layers_are_corrected_in_forward_order():
    widths = (5, 7, 6, 3)
    a, b = net(1, widths), net(2, widths, scale=1.5)
    ta, tb = state_of(a), state_of(b)
    xs = batches(4)
    x = torch.cat(xs)
    alpha = 0.5
    ps = lerp(ta, tb, alpha)
    (fixed,) = repair(a, Endpoints(ta, tb, [alpha]), [ps], xs)

    def pre2(p):  # layer-2 pre-activations
        return torch.relu(x @ p["0.weight"].T + p["0.bias"]) @ p["2.weight"].T + p["2.bias"]

    mu_a, sd_a = stats(pre2(ta))
    mu_b, sd_b = stats(pre2(tb))
    mu_t, sd_t = 0.5 * (mu_a + mu_b), 0.5 * (sd_a + sd_b)
    mu_r, sd_r = stats(pre2(fixed))
    torch.testing.assert_close(mu_r, mu_t, rtol=0, atol=1e-12)
    torch.testing.assert_close(sd_r, sd_t, rtol=0, atol=1e-12)
    # folding layer 2 with the statistics of the uncorrected layer 1 would miss the target
    half = dict(ps)
    half["0.weight"], half["0.bias"] = fixed["0.weight"], fixed["0.bias"]
    mu0, sd0 = stats(pre2(ps))
    s = sd_t / sd0
    wrong = dict(half)
    wrong["2.weight"] = s[:, None] * ps["2.weight"]
    wrong["2.bias"] = s * (ps["2.bias"] - mu0) + mu_t
    assert (stats(pre2(wrong))[1] - sd_t).abs().max() > 1e-3


def test_conv_channels_reach_their_target():
    torch.manual_seed(0)

    def cnn() -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 25, 3)
        ).to(D)

    a, b = cnn(), cnn()
    ta, tb = state_of(a), state_of(b)
    g = torch.Generator().manual_seed(5)
    xs = [torch.randn(n, 2, 5, 5, generator=g, dtype=D) for n in (6, 9)]
    x = torch.cat(xs)
    alpha = 0.25
    (fixed,) = repair(a, Endpoints(ta, tb, [alpha]), [lerp(ta, tb, alpha)], xs)

    def cstats(p):
        z = nn.functional.conv2d(x, p["0.weight"], p["0.bias"], padding=1)
        z = z.transpose(0, 1).reshape(4, -1)
        return z.mean(1), z.std(1, unbiased=False)

    (mu_a, sd_a), (mu_b, sd_b) = cstats(ta), cstats(tb)
    mu_r, sd_r = cstats(fixed)
    torch.testing.assert_close(mu_r, (1 - alpha) * mu_a + alpha * mu_b, rtol=0, atol=1e-12)
    torch.testing.assert_close(sd_r, (1 - alpha) * sd_a + alpha * sd_b, rtol=0, atol=1e-12)


def test_evaluator_repair_policy(data):
    x, y = data
    torch.manual_seed(3)
    a, b = mlp(bn=False), mlp(bn=False)
    ta, tb = state_of(a), state_of(b)
    g = torch.Generator().manual_seed(8)
    train = [torch.randn(25, 12, generator=g) for _ in range(3)]
    alphas = [0.0, 0.25, 0.5, 0.75, 1.0]
    sets = [lerp(ta, tb, al) for al in alphas]
    ends = Endpoints(ta, tb, alphas)
    plain = Evaluator(a, x, y, chunk_size=40)
    with untouched(live(a)):
        ev = Evaluator(a, x, y, chunk_size=40, bn_policy="repair", bn_batches=train)
        rng = torch.get_rng_state()
        got = ev.evaluate(sets, endpoints=ends)
        assert torch.equal(torch.get_rng_state(), rng)
        rec = barrier_curve(ev, ta, tb, alphas)
    a.eval()
    ref = plain.evaluate(repair(a, ends, sets, train))
    assert [m.loss for m in got] == pytest.approx([m.loss for m in ref], abs=1e-6)
    assert rec.loss == pytest.approx([m.loss for m in ref], abs=1e-6)
    assert rec.bn_policy == "repair"
    # the endpoints' targets are their own statistics: they are unchanged up to float rounding
    unrepaired = plain.evaluate(sets)
    for i in (0, -1):
        assert got[i].loss == pytest.approx(unrepaired[i].loss, abs=1e-6)
        assert got[i].error == unrepaired[i].error
    fixed = repair(a, Endpoints(ta, tb, [0.0, 1.0]), [sets[0], sets[-1]], train)
    for s, f in zip((ta, tb), fixed, strict=True):
        for k in s:
            torch.testing.assert_close(f[k], s[k], rtol=1e-6, atol=1e-6)
    # the interior is changed (the policy is not a no-op)
    assert abs(got[2].loss - unrepaired[2].loss) > 1e-3


def test_repair_refusals(pair, data):
    x, y = data
    with pytest.raises(ValueError, match="BN-free"):
        Evaluator(pair[0], x, y, bn_policy="repair", bn_batches=[x[:10]])
    free = mlp(bn=False)
    with pytest.raises(ValueError, match="bn_batches"):
        Evaluator(free, x, y, bn_policy=BNPolicy.REPAIR)
    ev = Evaluator(free, x, y, bn_policy="repair", bn_batches=[x[:10]])
    ps = state_of(free)
    with pytest.raises(ValueError, match="endpoints"):
        ev.evaluate([ps])
    with pytest.raises(ValueError, match="alphas"):
        ev.evaluate([ps, ps], endpoints=Endpoints(ps, ps, [0.0]))
    with pytest.raises(ValueError, match="prefix"):
        ev.run([ParamSetGroup([ps], start=2, base=0, endpoints=Endpoints(ps, ps, [0.0]))], [ps])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ev.evaluate([ps], endpoints=Endpoints(ps, ps, [1.5]))
    no_bias = nn.Sequential(nn.Linear(12, 4, bias=False), nn.ReLU(), nn.Linear(4, 4))
    nb = state_of(no_bias)
    with pytest.raises(ValueError, match="bias"):
        repair(no_bias, Endpoints(nb, nb, [0.5]), [nb], [x[:10]])


class _Reversed(nn.Module):
    """Registers its layers in the opposite order of the forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(6, 3)
        self.second = nn.Linear(7, 6)
        self.first = nn.Linear(5, 7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.second(torch.relu(self.first(x)))))


def test_layers_are_corrected_in_call_order_not_registration_order():
    torch.manual_seed(0)
    a, b = _Reversed().to(D), _Reversed().to(D)
    ta, tb = state_of(a), state_of(b)
    xs = batches(6)
    x = torch.cat(xs)
    (fixed,) = repair(a, Endpoints(ta, tb, [0.5]), [lerp(ta, tb, 0.5)], xs, ["second", "first"])

    def pre2(p):
        h = torch.relu(x @ p["first.weight"].T + p["first.bias"])
        return h @ p["second.weight"].T + p["second.bias"]

    (mu_a, sd_a), (mu_b, sd_b), (mu_r, sd_r) = stats(pre2(ta)), stats(pre2(tb)), stats(pre2(fixed))
    torch.testing.assert_close(mu_r, 0.5 * (mu_a + mu_b), rtol=0, atol=1e-12)
    torch.testing.assert_close(sd_r, 0.5 * (sd_a + sd_b), rtol=0, atol=1e-12)


def test_nested_stages_reach_their_targets():
    def nested(seed: int) -> nn.Sequential:
        torch.manual_seed(seed)
        block = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 6))
        return nn.Sequential(block, nn.ReLU(), nn.Linear(6, 3)).to(D)

    a, b = nested(0), nested(1)
    assert repair_layers(a) == ["0.0", "0.2"]
    ta, tb = state_of(a), state_of(b)
    xs = batches(7)
    x = torch.cat(xs)
    (fixed,) = repair(a, Endpoints(ta, tb, [0.7]), [lerp(ta, tb, 0.7)], xs)

    def pre2(p):
        h = torch.relu(x @ p["0.0.weight"].T + p["0.0.bias"])
        return h @ p["0.2.weight"].T + p["0.2.bias"]

    (mu_a, sd_a), (mu_b, sd_b), (mu_r, sd_r) = stats(pre2(ta)), stats(pre2(tb)), stats(pre2(fixed))
    torch.testing.assert_close(mu_r, 0.3 * mu_a + 0.7 * mu_b, rtol=0, atol=1e-12)
    torch.testing.assert_close(sd_r, 0.3 * sd_a + 0.7 * sd_b, rtol=0, atol=1e-12)
