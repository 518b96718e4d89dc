"""Normalization policies of evaluated parameter sets: BN ``reset`` and REPAIR.

``reset`` recomputes BatchNorm running statistics of each set on training batches
(:func:`recompute_bn_stats`); ``repair`` (Jordan et al. 2023, BN-free models) rescales each
Linear/Conv channel towards the statistics interpolated between two endpoints (:func:`repair`).
Neither touches a live model.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ridgeline.landscape.params import BNPolicy, ParamSet


@dataclass(frozen=True)
class Endpoints:
    """The endpoints θ_A, θ_B of a list of sets and each set's α: set i ≈ (1−αᵢ)θ_A + αᵢθ_B.

    The ``repair`` policy takes its targets (1−αᵢ)·stat(θ_A) + αᵢ·stat(θ_B) from them.
    """

    theta_a: ParamSet
    theta_b: ParamSet
    alphas: Sequence[float]


def bn_modules(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """The BatchNorm layers of ``model`` in module order."""
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def batch_statistics(model: nn.Module) -> None:
    """Switch ``model``'s BatchNorm layers to batch statistics (the ``batch`` policy), in place."""
    for bn in bn_modules(model):
        bn.train()
        bn.track_running_stats = False


def first_tensor(batch: object) -> Tensor:
    """The input tensor of a batch: the batch itself or the first of an (x, y) tuple."""
    if isinstance(batch, Tensor):
        return batch
    if isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], Tensor):
        return batch[0]
    raise TypeError(f"BN reset batches must be tensors or (x, y) tuples, got {type(batch)}")


def recompute_bn_stats(
    model: nn.Module, param_sets: Sequence[ParamSet], batches: Iterable[object]
) -> list[ParamSet]:
    """BN ``reset`` policy: running stats of each set recomputed on ``batches``.

    Cumulative average over batches (``momentum=None``), on a private copy of the model with
    only BatchNorm modules in train mode (dropout stays off, so no randomness is drawn).
    """
    inputs = [first_tensor(b) for b in batches]
    if not inputs:
        raise ValueError("BN reset policy needs at least one training batch")
    work = copy.deepcopy(model).eval().requires_grad_(False)
    bns = bn_modules(work)
    tensors: dict[str, Tensor] = dict(work.named_parameters())
    tensors.update(dict(work.named_buffers()))
    bn_buffer_names = [
        f"{path}.{n}" if path else n
        for path, m in work.named_modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        for n, b in m.named_buffers(recurse=False)
        if b is not None and torch.is_floating_point(b)
    ]
    device = next(iter(tensors.values())).device if tensors else torch.device("cpu")
    out: list[ParamSet] = []
    with torch.no_grad():
        for ps in param_sets:
            for k, t in ps.items():
                tensors[k].copy_(t)
            for bn in bns:
                if bn.track_running_stats:
                    bn.reset_running_stats()
                    bn.momentum = None
                    bn.train()
            for xb in inputs:
                work(xb.to(device))
            for bn in bns:
                bn.eval()
            new = dict(ps)
            for k in bn_buffer_names:
                new[k] = tensors[k].detach().clone()
            out.append(new)
    return out


REPAIR_MODULES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


class _Stop(Exception):
    """Raised by a statistics hook to end a forward pass once the wanted layer has run."""


def repair_layers(model: nn.Module) -> list[str]:
    """Module paths REPAIR corrects: every Linear/Conv layer in module order but the last one.

    The last is the classifier's output layer (its logits feed no nonlinearity).
    """
    return [p for p, m in model.named_modules() if isinstance(m, REPAIR_MODULES)][:-1]


def _tensor_name(layer: str, name: str) -> str:
    return f"{layer}.{name}" if layer else name


@dataclass
class ChannelStats:
    """Exact per-channel mean and population std (ddof 0) of a layer's output, in float64."""

    mean: Tensor
    std: Tensor
    count: int


def channel_stats(
    model: nn.Module,
    param_set: ParamSet,
    batches: Iterable[object],
    layers: Sequence[str],
    stop: bool = False,
) -> dict[str, ChannelStats]:
    """Mean and std of each output channel of ``layers`` over all examples (and positions).

    μ_c = (1/N)Σ z_c, σ_c = ((1/N)Σ (z_c − μ_c)²)^½ over all N = examples × positions of the
    batches, merged exactly in float64 (Chan et al.'s pairwise update). The model runs under
    ``functional_call`` with ``param_set`` (no copy of the live model is changed). ``stop``
    ends each forward pass after the last of ``layers`` (a single layer: only its prefix runs).
    """
    modules = dict(model.named_modules())
    acc: dict[str, list] = {name: [0, None, None] for name in layers}
    seen: set[str] = set()
    last = layers[-1] if layers else None

    def hook(name: str, channel_dim: int):
        def fn(_module: nn.Module, _inp: object, out: Tensor) -> None:
            if name in seen:
                raise RuntimeError(f"REPAIR: layer {name!r} runs twice in one forward pass")
            seen.add(name)
            z = out.detach().double().movedim(channel_dim, 0)
            z = z.reshape(z.shape[0], -1)
            nb = z.shape[1]
            mb = z.mean(1)
            m2b = ((z - mb[:, None]) ** 2).sum(1)
            n, mean, m2 = acc[name]
            if mean is None:
                acc[name] = [nb, mb, m2b]
            else:
                d = mb - mean
                tot = n + nb
                acc[name] = [tot, mean + d * (nb / tot), m2 + m2b + d * d * (n * nb / tot)]
            if stop and name == last:
                raise _Stop

        return fn

    handles = []
    for name in layers:
        m = modules[name]
        if not isinstance(m, REPAIR_MODULES):
            raise TypeError(f"REPAIR corrects Linear/Conv layers; {name!r} is {type(m).__name__}")
        handles.append(m.register_forward_hook(hook(name, -1 if isinstance(m, nn.Linear) else 1)))
    params = list(model.parameters())
    device = params[0].device if params else torch.device("cpu")
    try:
        with torch.no_grad():
            for b in batches:
                seen.clear()
                with contextlib.suppress(_Stop):
                    functional_call(model, param_set, (first_tensor(b).to(device),))
    finally:
        for h in handles:
            h.remove()
    out: dict[str, ChannelStats] = {}
    for name, (n, mean, m2) in acc.items():
        if mean is None:
            raise ValueError(f"REPAIR: layer {name!r} never ran on the batches")
        out[name] = ChannelStats(mean, (m2 / n).clamp_min(0.0).sqrt(), int(n))
    return out


def _call_order(model: nn.Module, ps: ParamSet, x: Tensor, layers: Sequence[str]) -> list[str]:
    """``layers`` sorted by when they first run in a forward pass (the order REPAIR corrects)."""
    modules = dict(model.named_modules())
    order: list[str] = []
    handles = [
        modules[name].register_forward_hook(
            lambda _m, _i, _o, name=name: order.append(name) if name not in order else None
        )
        for name in layers
    ]
    params = list(model.parameters())
    device = params[0].device if params else torch.device("cpu")
    try:
        with torch.no_grad():
            functional_call(model, ps, (x[:1].to(device),))
    finally:
        for h in handles:
            h.remove()
    missing = [name for name in layers if name not in order]
    if missing:
        raise ValueError(f"REPAIR: layer(s) {missing} never run in a forward pass")
    return order


def repair(
    model: nn.Module,
    endpoints: Endpoints,
    param_sets: Sequence[ParamSet],
    batches: Iterable[object],
    layers: Sequence[str] | None = None,
) -> list[ParamSet]:
    """REPAIR (Jordan et al. 2023): per-channel statistics of each set set to the endpoints' lerp.

    For each layer in forward (call) order, with μ, σ the set's channel statistics on
    ``batches`` (its earlier layers already corrected) and the target μ_t = (1−α)μ_A + αμ_B,
    σ_t = (1−α)σ_A + ασ_B: w' = s·w, b' = s·(b − μ) + μ_t, s = σ_t/σ (s = 1 for a constant
    channel, σ = 0). Returns plain parameter sets; θ_A, θ_B and the live model are not changed.
    """
    alphas = [float(a) for a in endpoints.alphas]
    if len(alphas) != len(param_sets):
        raise ValueError(f"{len(alphas)} alphas for {len(param_sets)} parameter sets")
    if not all(0.0 <= a <= 1.0 for a in alphas):
        raise ValueError(f"REPAIR interpolates endpoint statistics: α must lie in [0, 1], {alphas}")
    inputs = [first_tensor(b) for b in batches]
    if not inputs:
        raise ValueError("the repair policy needs at least one training batch")
    work = copy.deepcopy(model).eval().requires_grad_(False)
    names = repair_layers(work) if layers is None else list(layers)
    for name in names:
        if _tensor_name(name, "bias") not in dict(work.named_parameters()):
            raise ValueError(f"REPAIR folds the mean shift into a bias; layer {name!r} has none")
    names = _call_order(work, dict(endpoints.theta_a), inputs[0], names)
    stats_a = channel_stats(work, dict(endpoints.theta_a), inputs, names)
    stats_b = channel_stats(work, dict(endpoints.theta_b), inputs, names)
    # an nn.Sequential runs stage by stage: each stage's inputs over all batches are kept, so a
    # layer's statistics cost a pass through its own stage only (not through all before it)
    stages: list[tuple[str, nn.Module]] = (
        list(work._modules.items()) if isinstance(work, nn.Sequential) else [("", work)]
    )
    params = list(work.parameters())
    device = params[0].device if params else torch.device("cpu")
    out: list[ParamSet] = []
    for ps, alpha in zip(param_sets, alphas, strict=True):
        new = dict(ps)
        acts = [x.to(device) for x in inputs]
        todo = list(names)
        for prefix, stage in stages:
            if not todo:
                break
            in_stage = [n for n in todo if not prefix or n == prefix or n.startswith(prefix + ".")]
            for name in in_stage:
                local = name if not prefix else ("" if name == prefix else name[len(prefix) + 1 :])
                st = channel_stats(stage, _sub_set(new, prefix), acts, [local], stop=True)[local]
                _fold(new, name, st, stats_a[name], stats_b[name], alpha)
                todo.remove(name)
            if todo and prefix:
                sub = _sub_set(new, prefix)
                with torch.no_grad():
                    acts = [functional_call(stage, sub, (h,)) for h in acts]
        out.append(new)
    return out


def _sub_set(ps: ParamSet, prefix: str) -> ParamSet:
    """The tensors of stage ``prefix`` named relative to it (all of ``ps`` for prefix '')."""
    if not prefix:
        return ps
    cut = len(prefix) + 1
    return {k[cut:]: v for k, v in ps.items() if k.startswith(prefix + ".")}


def _fold(
    ps: ParamSet, name: str, st: ChannelStats, a: ChannelStats, b: ChannelStats, alpha: float
) -> None:
    """w' = s·w, b' = s·(b − μ) + μ_t with s = σ_t/σ, the targets lerped from A's and B's stats."""
    mu_t = (1 - alpha) * a.mean + alpha * b.mean
    sd_t = (1 - alpha) * a.std + alpha * b.std
    s = torch.where(st.std > 0, sd_t / st.std.where(st.std > 0, 1.0), 1.0)
    wk, bk = _tensor_name(name, "weight"), _tensor_name(name, "bias")
    w, bias = ps[wk], ps[bk]
    s_dev = s.to(w.device)
    ps[wk] = (w.double() * s_dev.view((-1,) + (1,) * (w.dim() - 1))).to(w.dtype)
    ps[bk] = (s_dev * (bias.double() - st.mean.to(w.device)) + mu_t.to(w.device)).to(bias.dtype)


def check_policy(policy: BNPolicy, model: nn.Module, bn_batches: Sequence[object] | None) -> None:
    """Raise when ``policy`` cannot apply to ``model`` with these training batches."""
    if policy is BNPolicy.RESET and bn_modules(model) and not bn_batches:
        raise ValueError("bn_policy='reset' needs bn_batches (training input batches)")
    if policy is BNPolicy.REPAIR:
        if bn_modules(model):
            raise ValueError("bn_policy='repair' is for BN-free models; use 'reset' with BN")
        if not bn_batches:
            raise ValueError("bn_policy='repair' needs bn_batches (training input batches)")


def prepare_sets(
    policy: BNPolicy,
    model: nn.Module,
    param_sets: Sequence[ParamSet],
    bn_batches: Sequence[object] | None,
    endpoints: Endpoints | None = None,
    layers: Sequence[str] | None = None,
) -> list[ParamSet]:
    """Parameter sets under a BN policy: ``reset`` recomputes running statistics, ``repair``
    corrects each set towards the statistics of ``endpoints`` (required then, see
    :func:`repair`); the others return the sets as they are."""
    if policy is BNPolicy.RESET and bn_modules(model):
        assert bn_batches is not None
        return recompute_bn_stats(model, param_sets, bn_batches)
    if policy is BNPolicy.REPAIR and param_sets:
        if endpoints is None:
            raise ValueError(
                "bn_policy='repair' needs the endpoints and α of every evaluated set "
                "(ParamSetGroup.endpoints or Evaluator.evaluate(..., endpoints=...))"
            )
        assert bn_batches is not None
        return repair(model, endpoints, param_sets, bn_batches, layers)
    return list(param_sets)
