import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ridgeline.landscape import (
    BNPolicy,
    Evaluator,
    barrier_curve,
    layerwise_barriers,
    lerp,
    recompute_bn_stats,
    state_of,
)
from ridgeline.landscape.eval_path import VMAP_MARGIN, VMAP_ROUNDS, use_vmap_of
from ridgeline.landscape.sums import sums_to_metrics

from .conftest import live, mlp, untouched


class FakeClock:
    """A clock for the path tuner that moves only when a run says it took time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def plain_metrics(model: nn.Module, x, y) -> tuple[float, float]:
    m = copy.deepcopy(model).eval()
    with torch.no_grad():
        out = m(x)
    loss = F.cross_entropy(out.double(), y).item()
    err = (out.argmax(1) != y).double().mean().item()
    return loss, err


@pytest.mark.parametrize("use_vmap", [True, False])
def test_endpoints_match_plain_forward_and_uneven_chunks(pair, data, use_vmap):
    x, y = data
    a, b = pair
    ev = Evaluator(a, x, y, chunk_size=10, use_vmap=use_vmap)  # 103 = 10*10 + 3
    rec = barrier_curve(ev, state_of(a), state_of(b), alphas=[0, 0.3, 0.5, 1])
    for m, i in ((a, 0), (b, -1)):
        loss, err = plain_metrics(m, x, y)
        assert rec.loss[i] == pytest.approx(loss, abs=1e-6)
        assert rec.error[i] == pytest.approx(err, abs=1e-12)
    one_shot = Evaluator(a, x, y, chunk_size=1000, use_vmap=use_vmap)
    rec1 = barrier_curve(one_shot, state_of(a), state_of(b), alphas=[0, 0.3, 0.5, 1])
    assert rec.loss == pytest.approx(rec1.loss, abs=1e-6)
    assert rec.error == rec1.error


def test_vmap_and_loop_agree(pair, data):
    x, y = data
    ta, tb = (state_of(m) for m in pair)
    sets = [lerp(ta, tb, a) for a in (0.0, 0.2, 0.5, 0.9, 1.0)]
    s_v = Evaluator(pair[0], x, y, chunk_size=16, use_vmap=True).sums(sets)
    ev_l = Evaluator(pair[0], x, y, chunk_size=16, use_vmap=False)
    s_l = ev_l.sums(sets)
    assert torch.allclose(s_v, s_l, atol=1e-4, rtol=1e-6)
    assert torch.equal(s_v[:, 1:], s_l[:, 1:])


def test_prefix_reuse_and_plain_agree(pair, data):
    x, y = data
    ta, tb = (state_of(m) for m in pair)
    kw = dict(alphas=[0, 0.25, 0.5, 1], cumulative=True)
    r1 = layerwise_barriers(Evaluator(pair[0], x, y, chunk_size=20), ta, tb, **kw)
    ev = Evaluator(pair[0], x, y, chunk_size=20, prefix_reuse=False, use_vmap=False)
    r2 = layerwise_barriers(ev, ta, tb, **kw)
    assert len(r1.entries) == len(r2.entries) > 0
    for e1, e2 in zip(r1.entries, r2.entries, strict=True):
        assert (e1.name, e1.direction) == (e2.name, e2.direction)
        assert e1.loss == pytest.approx(e2.loss, abs=1e-5)
        assert e1.error == pytest.approx(e2.error, abs=1e-12)


def test_reduce_hook_shards_like_one_process(pair, data):
    x, y = data
    ta, tb = (state_of(m) for m in pair)
    sets = [lerp(ta, tb, a) for a in (0.0, 0.5, 1.0)]
    full = Evaluator(pair[0], x, y, chunk_size=7).evaluate(sets)
    e1 = Evaluator(pair[0], x[:60], y[:60], chunk_size=7)
    e2 = Evaluator(pair[0], x[60:], y[60:], chunk_size=7)
    other = e2.sums(sets)
    sharded = e1.evaluate(sets, reduce=lambda s: s + other)
    for f, s in zip(full, sharded, strict=True):
        assert s.loss == pytest.approx(f.loss, abs=1e-6)
        assert s.error == pytest.approx(f.error, abs=1e-12)


def test_non_finite_loss_is_kept(pair, data):
    x, y = data
    ta = state_of(pair[0])
    ta["6.weight"] = torch.full_like(ta["6.weight"], float("nan"))
    m = Evaluator(pair[0], x, y).evaluate([ta])[0]
    assert m.loss != m.loss  # nan


def _hand_reset_stats(model: nn.Sequential, batches) -> nn.Sequential:
    """Reference BN reset for mlp(): running stats = mean over batches of batch mean/var."""
    m = copy.deepcopy(model).eval()
    with torch.no_grad():
        hs = [m[1](m[0](xb)) for xb in batches]
        m[2].running_mean.copy_(torch.stack([h.mean(0) for h in hs]).mean(0))
        m[2].running_var.copy_(torch.stack([h.var(0, unbiased=True) for h in hs]).mean(0))
    return m


def test_bn_reset_restores_endpoint_accuracy(pair, data):
    x, y = data
    g = torch.Generator().manual_seed(7)
    batches = [torch.randn(25, 12, generator=g) * 1.5 + 0.3 for _ in range(4)]
    a, b = pair
    ref_a, ref_b = _hand_reset_stats(a, batches), _hand_reset_stats(b, batches)
    # the live models carry unrelated (warm-up) stats: reset must replace them
    ev = Evaluator(live(a), x, y, chunk_size=30, bn_policy="reset", bn_batches=batches)
    with untouched(a):
        rec = barrier_curve(ev, state_of(a), state_of(b), alphas=[0, 0.5, 1])
    for ref, i in ((ref_a, 0), (ref_b, -1)):
        loss, err = plain_metrics(ref, x, y)
        assert rec.loss[i] == pytest.approx(loss, abs=1e-5)
        assert rec.error[i] == pytest.approx(err, abs=1e-12)
    # sensitivity: without reset the endpoint loss differs from the reset reference
    rec_i = barrier_curve(Evaluator(a, x, y), state_of(a), state_of(b), alphas=[0, 0.5, 1])
    assert abs(rec_i.loss[0] - plain_metrics(ref_a, x, y)[0]) > 1e-3
    # and recompute_bn_stats matches the hand computation directly
    new = recompute_bn_stats(a, [state_of(a)], batches)[0]
    assert torch.allclose(new["2.running_mean"], ref_a[2].running_mean, atol=1e-6)
    assert torch.allclose(new["2.running_var"], ref_a[2].running_var, atol=1e-5)


def test_bn_batch_policy_uses_chunk_statistics(pair, data):
    x, y = data
    a, _ = pair
    ev = Evaluator(a, x, y, chunk_size=1000, bn_policy=BNPolicy.BATCH)
    with untouched(a):
        m = ev.evaluate([state_of(a)])[0]
    ref = copy.deepcopy(a).train()
    with torch.no_grad():
        loss = F.cross_entropy(ref(x), y).item()
    assert m.loss == pytest.approx(loss, abs=1e-6)


def test_live_model_untouched_everywhere(pair, data):
    x, y = data
    a, b = pair
    live(a)
    ta, tb = state_of(a), state_of(b)
    with untouched(a):
        ev = Evaluator(a, x, y, chunk_size=16)
        barrier_curve(ev, ta, tb, alphas=[0, 0.5, 1])
        layerwise_barriers(ev, ta, tb, cumulative=True)
        Evaluator(a, x, y, use_vmap=False, prefix_reuse=False).evaluate([ta])


def test_reset_requires_batches(pair, data):
    with pytest.raises(ValueError, match="bn_batches"):
        Evaluator(pair[0], *data, bn_policy="reset")
    assert Evaluator(mlp(bn=False), *data, bn_policy="reset").n == 103


def test_identical_sets_are_evaluated_once_with_exact_results(pair, data):
    x, y = data
    ta, tb = (state_of(m) for m in pair)
    copy_a = {k: v.clone() for k, v in ta.items()}  # equal values, other tensors
    sets = [ta, tb, copy_a, ta, lerp(ta, tb, 0.5)]
    ev = Evaluator(
        pair[0],
        x,
        y,
        chunk_size=40,
        use_vmap=False,
        bn_policy="reset",
        bn_batches=[x[:40], x[40:80]],
    )
    first = next(m for m in ev.template.modules() if isinstance(m, nn.Linear))
    calls = []
    hook = first.register_forward_hook(lambda *_: calls.append(1))
    try:
        sums = ev.sums(sets)
    finally:
        hook.remove()
    chunks = -(-len(y) // 40)
    assert len(calls) == 3 * chunks  # ta, tb and the midpoint; the two copies of ta reuse it
    alone = torch.cat([ev.sums([s]) for s in sets])
    assert torch.equal(sums, alone)
    assert torch.equal(sums[0], sums[2]) and torch.equal(sums[0], sums[3])
    # a curve between identical children: every α is θ_A, the barrier is exactly 0
    rec = barrier_curve(ev, ta, copy_a, alphas=[0, 0.25, 0.5, 1])
    assert rec.loss_barrier.midpoint == 0.0 and len(set(rec.loss)) == 1


def test_duplicate_bases_keep_their_jobs_prefix(pair, data):
    from ridgeline.landscape.groups import ParamSetGroup

    x, y = data
    ta, tb = (state_of(m) for m in pair)
    copy_a = {k: v.clone() for k, v in ta.items()}
    ev = Evaluator(pair[0], x, y, chunk_size=40, bn_policy="interpolate")
    last = max(ev.stage_of(k) for k in ta)
    mixed = {k: tb[k] if ev.stage_of(k) == last else v for k, v in ta.items()}
    jobs, bases = ev.run_sums(
        [ParamSetGroup([mixed, copy_a], start=last, base=2)], [tb, ta, copy_a]
    )
    assert torch.allclose(jobs[0], ev.sums([mixed, ta]), rtol=1e-12, atol=0)
    assert torch.equal(bases, ev.sums([tb, ta, ta]))


def test_measured_path_gives_that_paths_exact_sums_and_is_recorded(pair, data):
    x, y = data
    ta, tb = (state_of(m) for m in pair)
    sets = [lerp(ta, tb, a) for a in (0.0, 0.25, 0.5, 0.75, 1.0)]
    by_path = {
        "vmap": Evaluator(pair[0], x, y, chunk_size=40, use_vmap=True).sums(sets),
        "loop": Evaluator(pair[0], x, y, chunk_size=40, use_vmap=False).sums(sets),
    }
    # the two paths differ only by float32 rounding of the per-example losses
    assert torch.allclose(by_path["vmap"], by_path["loop"], rtol=1e-6, atol=1e-4)
    assert torch.equal(by_path["vmap"][:, 1:], by_path["loop"][:, 1:])
    cache: dict = {}
    ev = Evaluator(pair[0], x, y, chunk_size=40, path_cache=cache)
    measured = ev.sums(sets)
    assert list(cache.values()) == [ev.last_path] and ev.last_path in by_path
    # the first chunk was timed both ways, the rest ran on the faster path: that path's numbers
    assert torch.equal(measured, by_path[ev.last_path])
    rec = barrier_curve(ev, ta, tb, alphas=[0.0, 0.25, 0.5, 0.75, 1.0])
    assert rec.eval_path == ev.last_path and len(cache) == 1  # remembered, not measured again
    assert rec.loss == [m.loss for m in sums_to_metrics(by_path[ev.last_path])]


@pytest.mark.parametrize("name,path", [("vmap", "vmap"), ("loop", "loop")])
def test_a_pinned_eval_path_is_taken_without_measuring(pair, data, name, path):
    cache: dict = {}
    ev = Evaluator(pair[0], *data, chunk_size=40, use_vmap=use_vmap_of(name), path_cache=cache)
    ta, tb = (state_of(m) for m in pair)
    rec = barrier_curve(ev, ta, tb, alphas=[0.0, 0.5, 1.0])
    assert rec.eval_path == path and cache == {}
    assert use_vmap_of("auto") is None
    with pytest.raises(ValueError, match="eval_path must be one of"):
        use_vmap_of("fast")


def test_chooser_keeps_the_faster_path_and_agrees_across_processes(pair, data):
    time = FakeClock()
    ev = Evaluator(pair[0], *data, path_cache={}, clock=time)

    def slow(path: str):
        def run(use_vmap: bool) -> str:
            time.sleep(0.2 if (path == "vmap") == use_vmap else 0.0)
            return "vmap" if use_vmap else "loop"

        return run

    assert ev.choose_path("w1", slow("vmap")) == ("loop", "loop")
    assert ev.choose_path("w2", slow("loop")) == ("vmap", "vmap")
    # remembered per workload: the same workload is not run again
    assert ev.choose_path("w1", lambda use_vmap: 1 / 0) == ("loop", None)

    def no_vmap_rule(use_vmap: bool) -> str:
        if use_vmap:
            raise RuntimeError("vmap: no batching rule")
        return "loop"

    assert ev.choose_path("w3", no_vmap_rule) == ("loop", "loop")
    # under DDP the times are summed: another process where vmap was 10 s slower decides
    other = torch.tensor([0.0, 10.0], dtype=torch.float64)
    assert ev.choose_path("w4", slow("loop"), reduce=lambda t: t + other)[0] == "loop"
    # a process without data still takes part in every reduction (the trials' at 64 and 256
    # examples, which others' zeros leave undecided, and the first chunk's VMAP_ROUNDS rounds
    # that confirm vmap) and follows them
    seen = []
    path = ev.choose_path("w5", None, reduce=lambda t: seen.append(t.tolist()) or t + other.flip(0))
    assert path == ("vmap", None) and seen == [[0.0, 0.0]] * (2 + VMAP_ROUNDS)
    # where the loop's best reading is not VMAP_MARGIN times vmap's, the rounds stop at once
    seen.clear()
    close = torch.tensor([1.0, 1.0 / VMAP_MARGIN], dtype=torch.float64)
    path = ev.choose_path("w6", None, reduce=lambda t: seen.append(t.tolist()) or t + close)
    assert path == ("loop", None) and len(seen) == 3
    pinned = Evaluator(pair[0], *data, use_vmap=False, path_cache={})
    assert pinned.choose_path("w1", lambda use_vmap: 1 / 0) == ("loop", None)


def test_a_clear_trial_decides_without_the_first_chunk_and_a_close_one_does_not(pair, data):
    time = FakeClock()
    ev = Evaluator(pair[0], *data, path_cache={}, clock=time)
    ran: list[bool] = []

    def first(use_vmap: bool) -> str:
        ran.append(use_vmap)
        return "vmap" if use_vmap else "loop"

    sizes: list[int] = []

    def trial(slow_vmap: float):
        return lambda use_vmap, n: sizes.append(n) or time.sleep(slow_vmap if use_vmap else 0.02)

    # vmap 10x slower on the trial: the loop is taken, the first chunk never runs
    assert ev.choose_path("clear", first, trial=trial(0.2)) == ("loop", None) and ran == []
    assert sizes == [64, 64]  # one round each way: decided
    # within CLEAR_WIN at 64 and 256 examples (two rounds each): the whole first chunk decides,
    # and its result comes back
    sizes.clear()
    path, result = ev.choose_path("close", first, trial=trial(0.02))
    assert path == result and sorted(set(ran)) == [False, True]
    assert sizes == [64] * 4 + [256] * 4
    # a trial favours vmap (per-call overheads weigh more on a slice): a vmap win on one is not
    # taken, the whole first chunk decides
    ran.clear()
    faster_vmap = lambda use_vmap, n: time.sleep(0.0 if use_vmap else 0.2)  # noqa: E731
    path, result = ev.choose_path("vmap ahead", first, trial=faster_vmap)
    assert path == result and sorted(set(ran)) == [False, True]
    # under reduce a clear trial elsewhere decides here too (one reduction, no first chunk)
    seen = []
    elsewhere = torch.tensor([0.02, 5.0], dtype=torch.float64)
    ran.clear()
    path = ev.choose_path(
        "ddp", first, reduce=lambda t: seen.append(t) or t + elsewhere, trial=trial(0.02)
    )
    assert path == ("loop", None) and len(seen) == 1 and ran == []


def test_a_trial_decision_gives_the_chosen_paths_exact_sums(monkeypatch):
    """When the trial decides, the first chunk runs afterwards on the chosen path: every chunk
    of the evaluation is that path's (equal to the pinned path's sums bit for bit)."""
    import ridgeline.landscape.eval_path as eval_path_module

    monkeypatch.setattr(eval_path_module, "CLEAR_WIN", 0.0)  # every trial decides
    torch.manual_seed(0)
    conv = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 10)
    )
    x = torch.randn(300, 1, 8, 8)
    y = torch.randint(0, 10, (300,))
    theta = {k: v.detach().clone() for k, v in conv.state_dict().items()}
    sets = [{k: v * (1 + 0.01 * i) for k, v in theta.items()} for i in range(12)]
    pinned = {
        path: Evaluator(conv, x, y, chunk_size=128, use_vmap=path == "vmap").sums(sets)
        for path in ("loop", "vmap")
    }
    cache: dict = {}
    ran: list[bool] = []
    ev = Evaluator(conv, x, y, chunk_size=128, path_cache=cache)
    choose = ev.choose_path

    def spy(workload, first_chunk, reduce=None, trial=None):
        def first(use_vmap: bool):
            ran.append(use_vmap)
            return first_chunk(use_vmap)

        return choose(workload, first, reduce, trial)

    monkeypatch.setattr(ev, "choose_path", spy)
    measured = ev.sums(sets)
    assert len(cache) == 1 and ran == []  # decided by the trial alone
    assert torch.equal(measured, pinned[ev.last_path])
