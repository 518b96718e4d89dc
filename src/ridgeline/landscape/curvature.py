"""Second-order barrier prediction (docs/design.md §4): ΔᵀHΔ by nested jvp, never forming H.

B(α) ≈ −½α(1−α)ΔᵀH(θ_α)Δ, so B_mid ≈ −⅛ΔᵀH(θ_½)Δ (exact for a quadratic loss). Model-level
functions accumulate exact means over the evaluation chunks of an :class:`Evaluator`, in eval
mode (BN running statistics are buffers, never differentiated).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad, jvp, vmap

from ridgeline.landscape.evaluate import (
    EvalPath,
    Evaluator,
    Reduce,
)
from ridgeline.landscape.params import (
    LayerGroup,
    ParamSet,
    delta,
    dot,
    layer_groups,
    lerp,
    lerp_groups,
    norm,
    param_names,
)
from ridgeline.landscape.records import EigenRecord, LayerCurvature, TaylorRecord

LossFn = Callable[[ParamSet], Tensor]


def _split(theta: Mapping[str, Tensor], direction: Mapping[str, Tensor]):
    keys = list(direction)
    fixed = {k: v for k, v in theta.items() if k not in direction}
    primal = {k: theta[k] for k in keys}
    return keys, fixed, primal


def directional_derivatives(
    loss_fn: LossFn, theta: Mapping[str, Tensor], direction: Mapping[str, Tensor]
) -> tuple[Tensor, Tensor, Tensor]:
    """(L(θ), ⟨∇L(θ), Δ⟩, ΔᵀH(θ)Δ) by forward-over-forward jvp; keys absent from Δ stay fixed."""
    _, fixed, primal = _split(theta, direction)
    tangent = {k: direction[k].to(primal[k].dtype) for k in primal}

    def f(p: ParamSet) -> Tensor:
        return loss_fn({**fixed, **p})

    def f1(p: ParamSet) -> tuple[Tensor, Tensor]:
        return jvp(f, (p,), (tangent,))

    (value, d1), (_, d2) = jvp(f1, (primal,), (tangent,))
    return value.detach(), d1.detach(), d2.detach()


def directional_second_derivative(
    loss_fn: LossFn, theta: Mapping[str, Tensor], direction: Mapping[str, Tensor]
) -> Tensor:
    """ΔᵀH(θ)Δ = d²/dt² L(θ + tΔ) at t=0 (docs/design.md §4), without forming H."""
    return directional_derivatives(loss_fn, theta, direction)[2]


def hvp(loss_fn: LossFn, theta: Mapping[str, Tensor], v: Mapping[str, Tensor]) -> ParamSet:
    """Hessian-vector product H(θ)v by forward-over-reverse (jvp of grad) over the keys of v."""
    _, fixed, primal = _split(theta, v)
    tangent = {k: v[k].to(primal[k].dtype) for k in primal}

    def f(p: ParamSet) -> Tensor:
        return loss_fn({**fixed, **p})

    return {k: t.detach() for k, t in jvp(grad(f), (primal,), (tangent,))[1].items()}


def power_iteration(
    hvp_fn: Callable[[ParamSet], ParamSet],
    like: Mapping[str, Tensor],
    iters: int = 100,
    tol: float = 1e-4,
    generator: torch.Generator | None = None,
    seed: int = 0,
) -> EigenRecord:
    """Largest-magnitude eigenvalue of H by power iteration v ← Hv/‖Hv‖ (private generator).

    λ is the Rayleigh quotient vᵀHv of the unit iterate v and ``residual`` its relative residual
    ‖Hv − λv‖/|λ|. For a symmetric H some eigenvalue lies within ‖Hv − λv‖ of λ, so the
    residual bounds the eigenvalue's relative error; the iteration stops, ``converged``, once
    it is ≤ ``tol`` (the change of λ between iterations bounds nothing: it can be far below
    tol while λ is still off by more, when the two largest eigenvalues are close).
    """
    g = generator if generator is not None else torch.Generator().manual_seed(seed)
    v = {
        k: torch.randn(t.shape, generator=g, dtype=torch.float64).to(t.device, t.dtype)
        for k, t in like.items()
    }
    nv = norm(v)
    v = {k: t / nv for k, t in v.items()}
    lam, residual, converged, it = math.nan, math.nan, False, 0
    for _ in range(iters):
        it += 1
        w = hvp_fn(v)
        lam = dot(v, w)
        nw = norm(w)
        if not math.isfinite(nw) or nw == 0.0:
            break
        r = {k: w[k].double() - lam * v[k].double() for k in w}  # direct: no cancellation
        residual = norm(r) / max(abs(lam), 1e-30)
        if residual <= tol:
            converged = True
            break
        v = {k: t / nw for k, t in w.items()}
    return EigenRecord(eigenvalue=lam, iterations=it, converged=converged, residual=residual)


def top_eigenvalue(
    loss_fn: LossFn,
    theta: Mapping[str, Tensor],
    names: Sequence[str] | None = None,
    iters: int = 100,
    tol: float = 1e-4,
    generator: torch.Generator | None = None,
) -> EigenRecord:
    """Largest-magnitude Hessian eigenvalue of a generic loss over ``names`` (default: all keys)."""
    keys = list(theta) if names is None else list(names)
    like = {k: theta[k] for k in keys}
    return power_iteration(lambda v: hvp(loss_fn, theta, v), like, iters, tol, generator)


# ---------------------------------------------------------------------------------------------
# Model + data wrappers (exact means over the evaluator's chunks)


def _chunk_loss(evaluator: Evaluator, xc: Tensor, yc: Tensor) -> LossFn:
    def fn(ps: ParamSet) -> Tensor:
        out = functional_call(evaluator.template, ps, (xc,))
        if evaluator.per_example_loss is not None:
            return evaluator.per_example_loss(out, yc).sum()
        return F.cross_entropy(out, yc, reduction="sum")

    return fn


def _params_only(evaluator: Evaluator, direction: Mapping[str, Tensor]) -> ParamSet:
    names = set(param_names(evaluator.template))
    return {k: v for k, v in direction.items() if k in names}


def model_directional_derivatives(
    evaluator: Evaluator,
    theta: Mapping[str, Tensor],
    direction: Mapping[str, Tensor],
    reduce: Reduce | None = None,
    prepared: bool = False,
) -> tuple[float, float, float]:
    """Exact means (L, ⟨∇L, Δ⟩, ΔᵀHΔ) at θ over the evaluator's data (Δ over parameters only)."""
    th = dict(theta) if prepared else evaluator.prepare([dict(theta)])[0]
    d = _params_only(evaluator, direction)
    sums = torch.zeros(4, dtype=torch.float64)
    for xc, yc in evaluator.chunks():
        l, d1, d2 = directional_derivatives(_chunk_loss(evaluator, xc, yc), th, d)
        sums += torch.stack(
            [l.double(), d1.double(), d2.double(), l.new_tensor(len(yc)).double()]
        ).cpu()
    if reduce is not None:
        sums = reduce(sums)
    n = float(sums[3])
    return float(sums[0]) / n, float(sums[1]) / n, float(sums[2]) / n


def model_hvp(
    evaluator: Evaluator,
    theta: Mapping[str, Tensor],
    v: Mapping[str, Tensor],
    reduce: Reduce | None = None,
) -> ParamSet:
    """Exact-mean Hessian-vector product H(θ)v over the evaluator's data (θ already prepared)."""
    keys = list(v)
    acc = {k: torch.zeros_like(v[k], dtype=torch.float64) for k in keys}
    n = 0
    for xc, yc in evaluator.chunks():
        hv = hvp(_chunk_loss(evaluator, xc, yc), theta, v)
        for k in keys:
            acc[k] += hv[k].double()
        n += len(yc)
    flat = torch.cat([acc[k].reshape(-1).cpu() for k in keys] + [torch.tensor([float(n)]).double()])
    if reduce is not None:
        flat = reduce(flat)
    total, out, i = float(flat[-1]), {}, 0
    for k in keys:
        m = v[k].numel()
        out[k] = (flat[i : i + m] / total).view_as(v[k]).to(v[k].device, v[k].dtype)
        i += m
    return out


def model_top_eigenvalue(
    evaluator: Evaluator,
    theta: Mapping[str, Tensor],
    names: Sequence[str] | None = None,
    iters: int = 100,
    tol: float = 1e-4,
    seed: int = 0,
    reduce: Reduce | None = None,
) -> EigenRecord:
    """Top (largest-magnitude) eigenvalue of the mean-loss Hessian over parameters ``names``."""
    th = evaluator.prepare([dict(theta)])[0]
    keys = param_names(evaluator.template) if names is None else list(names)
    like = {k: th[k] for k in keys}
    gen = torch.Generator().manual_seed(seed)
    return power_iteration(lambda v: model_hvp(evaluator, th, v, reduce), like, iters, tol, gen)


def predicted_barrier_curve(
    evaluator: Evaluator,
    theta_a: Mapping[str, Tensor],
    theta_b: Mapping[str, Tensor],
    alphas: Sequence[float],
    reduce: Reduce | None = None,
) -> list[float]:
    """Second-order prediction B(α) ≈ −½α(1−α)ΔᵀH(θ_α)Δ at each α of the grid."""
    d = _params_only(evaluator, delta(theta_a, theta_b))
    out = []
    for a in alphas:
        _, _, d2 = model_directional_derivatives(evaluator, lerp(theta_a, theta_b, a), d, reduce)
        out.append(-0.5 * a * (1 - a) * d2)
    return out


@dataclass
class _Task:
    """Directional derivatives at one (prepared) point for several tangents.

    Every tangent is zero on the stages before ``start`` (top-level stages of an nn.Sequential),
    so those stages run once as a plain forward pass, shared with any other task whose point has
    the very same prefix tensors; the nested jvp starts at ``start`` and is batched over the
    tangents with ``vmap`` (one primal pass for all of them).
    """

    theta: ParamSet
    tangents: list[ParamSet]
    start: int = 0


def _prefix_key(evaluator: Evaluator, theta: ParamSet, stage: int) -> tuple:
    return (stage, *((k, id(v)) for k, v in theta.items() if evaluator.stage_of(k) < stage))


def _prefix_input(
    evaluator: Evaluator, theta: ParamSet, stage: int, xc: Tensor, cache: dict
) -> Tensor:
    """Activations entering ``stage`` at point theta (cached by the identity of prefix tensors)."""
    if stage == 0:
        return xc
    key = _prefix_key(evaluator, theta, stage)
    if key not in cache:
        h = _prefix_input(evaluator, theta, stage - 1, xc, cache)
        ps = {k: v for k, v in theta.items() if evaluator.stage_of(k) == stage - 1}
        with torch.no_grad():
            cache[key] = functional_call(evaluator._single[stage - 1], ps, (h,))
    return cache[key]


_AFFINE = (nn.Linear, nn.modules.conv._ConvNd)


@dataclass
class _AffineHead:
    """The affine module that opens a top-level stage (a Linear/Conv, or a Sequential's first).

    ``names``: its tensor names in the model; ``local``: the same names inside ``module``.
    ``rest``: the remainder of the stage after it (None when the stage is the module itself),
    run with the stage's other tensors (``rest_prefix`` strips the stage name off theirs).
    """

    module: nn.Module
    names: list[str]
    local: list[str]
    rest: nn.Module | None
    rest_prefix: str


def _affine_head(evaluator: Evaluator, stage: int) -> _AffineHead | None:
    """The affine opening of top-level stage ``stage``: its output is affine in (W, b) jointly.

    A stage that is a Linear or Conv, or an nn.Sequential whose first child is one (a conv
    block: conv, activation, pooling), so the output of that module along θ + sΔ with a fixed
    input is exactly z + s·ż.
    """
    if evaluator.stage_names is None:
        return None
    mod = evaluator._single[stage][0]
    name = evaluator.stage_names[stage]
    if isinstance(mod, _AFFINE):
        local = [k for k, _ in mod.named_parameters()]
        return _AffineHead(mod, [f"{name}.{k}" for k in local], local, None, "")
    if isinstance(mod, nn.Sequential) and len(mod) > 1 and isinstance(mod[0], _AFFINE):
        child = next(iter(mod._modules))
        local = [k for k, _ in mod[0].named_parameters()]
        return _AffineHead(
            mod[0], [f"{name}.{child}.{k}" for k in local], local, mod[1:], f"{name}."
        )
    return None


# Modules whose output is piecewise linear in their input (their parameters held fixed), in
# eval mode: a chain of them moves its output along a straight line when its input does.
_PIECEWISE_LINEAR = (
    nn.Linear,
    nn.modules.conv._ConvNd,
    nn.ReLU,
    nn.LeakyReLU,
    nn.ReLU6,
    nn.Hardtanh,
    nn.modules.pooling._MaxPoolNd,
    nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._AdaptiveAvgPoolNd,
    nn.modules.pooling._AdaptiveMaxPoolNd,
    nn.Flatten,
    nn.Identity,
)


def _piecewise_linear(module: nn.Module | None) -> bool:
    """True when ``module`` (None: the identity) is a tree of nn.Sequentials whose leaves are
    piecewise-linear in their input in eval mode (BatchNorm with running statistics counts)."""
    if module is None:
        return True
    if isinstance(module, nn.Sequential):  # (a slice of one is a new, train-mode container)
        return all(_piecewise_linear(m) for m in module)
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return not module.training and module.running_mean is not None
    if isinstance(module, nn.modules.dropout._DropoutNd):
        return not module.training
    return isinstance(module, _PIECEWISE_LINEAR)


def _loss_sum(evaluator: Evaluator, out: Tensor, yc: Tensor) -> Tensor:
    """Sum of per-example losses in float64: sums independent of chunking and sharding."""
    if evaluator.per_example_loss is not None:
        return evaluator.per_example_loss(out, yc).double().sum()
    return F.cross_entropy(out, yc, reduction="none").double().sum()


def _task_sums(
    evaluator: Evaluator, task: _Task, h: Tensor, yc: Tensor, use_vmap: bool, still: bool = False
) -> Tensor:
    """[T, 3] sums (L, ⟨∇L, Δ_t⟩, Δ_tᵀHΔ_t) over one chunk, one row per tangent.

    ``still``: every tangent is exactly zero (children at their spawn point), so both
    derivatives are exactly 0 and one plain forward pass gives L.

    When the stage at ``start`` is affine in its parameters (Linear, Conv) and its input does not
    move, its output along θ + sΔ is exactly z + s·ż with ż = f(h; Δ_W, Δ_b): two plain passes
    instead of a nested jvp through that (usually the largest) layer; the nested jvp then runs
    from the next stage with ż as the tangent of its input.
    """
    start = task.start
    suffix = (
        task.theta
        if evaluator.stage_names is None or start == 0
        else {k: v for k, v in task.theta.items() if evaluator.stage_of(k) >= start}
    )
    if still:
        with torch.no_grad():
            value = _loss_sum(
                evaluator, functional_call(evaluator._module_from(start), suffix, (h,)), yc
            )
        zero = torch.zeros_like(value)
        return torch.stack([value, zero, zero]).expand(len(task.tangents), 3)
    order = list(suffix)
    keys = sorted({k for t in task.tangents for k in t}, key=order.index)
    full = [
        {k: t[k].to(suffix[k].dtype) if k in t else torch.zeros_like(suffix[k]) for k in keys}
        for t in task.tangents
    ]
    h_dot: list[Tensor | None] = [None] * len(full)
    rest: nn.Module | None = None
    rest_prefix = ""
    head = _affine_head(evaluator, start)
    if head is not None and head.names and all(k in keys for k in head.names):
        local = dict(zip(head.names, head.local, strict=True))
        with torch.no_grad():
            h_dot = [
                functional_call(head.module, {local[k]: t[k] for k in head.names}, (h,))
                for t in full
            ]
            h = functional_call(head.module, {local[k]: suffix[k] for k in head.names}, (h,))
        rest, rest_prefix = head.rest, head.rest_prefix
        start += 1
        keys = [k for k in keys if k not in local]
        full = [{k: t[k] for k in keys} for t in full]
        suffix = {k: v for k, v in suffix.items() if k not in local}
    later = (
        None
        if evaluator.stage_names is not None and start >= len(evaluator.stage_names)
        else evaluator._module_from(start)
    )
    fixed = {k: v for k, v in suffix.items() if k not in keys}
    primal = {k: suffix[k] for k in keys}
    linear_rest = _piecewise_linear(rest) and _piecewise_linear(later)

    def forward(ps: ParamSet, inp: Tensor) -> Tensor:
        if rest is not None:  # the rest of the stage whose affine head ran already
            n = len(rest_prefix)
            own = {k[n:]: v for k, v in ps.items() if k.startswith(rest_prefix)}
            inp = functional_call(rest, own, (inp,))
            ps = {k: v for k, v in ps.items() if not k.startswith(rest_prefix)}
        return inp if later is None else functional_call(later, ps, (inp,))

    def f(p: ParamSet, inp: Tensor) -> Tensor:
        return _loss_sum(evaluator, forward({**fixed, **p}, inp), yc)

    def one(t: ParamSet, t_in: Tensor | None) -> Tensor:
        if t_in is None and not primal:  # an empty direction: no derivative to take
            value = f({}, h)
            return torch.stack([value, torch.zeros_like(value), torch.zeros_like(value)])
        if t_in is None:
            g = lambda p: jvp(lambda q: f(q, h), (p,), (t,))  # noqa: E731
            (value, d1), (_, d2) = jvp(g, (primal,), (t,))
        elif not primal and linear_rest:
            # only the input moves and the rest is piecewise linear in it: the logits move
            # along o + s·ȯ exactly, so one first-order jvp gives ȯ and the nested jvp runs on
            # the loss of the logits alone
            out, out_dot = jvp(lambda i: forward(fixed, i), (h,), (t_in,))
            loss = lambda o: _loss_sum(evaluator, o, yc)  # noqa: E731
            g0 = lambda o: jvp(loss, (o,), (out_dot,))  # noqa: E731
            (value, d1), (_, d2) = jvp(g0, (out,), (out_dot,))
        elif not primal:  # only the input moves (a tangent in the affine head alone)
            g1 = lambda i: jvp(lambda j: f({}, j), (i,), (t_in,))  # noqa: E731
            (value, d1), (_, d2) = jvp(g1, (h,), (t_in,))
        else:
            g2 = lambda p, i: jvp(f, (p, i), (t, t_in))  # noqa: E731
            (value, d1), (_, d2) = jvp(g2, (primal, h), (t, t_in))
        return torch.stack([value, d1, d2])

    if use_vmap and len(full) > 1:
        stacked = {k: torch.stack([t[k] for t in full]) for k in keys}
        if h_dot[0] is None:
            return vmap(lambda t: one(t, None))(stacked).detach()
        return vmap(one)(stacked, torch.stack(h_dot)).detach()  # type: ignore[arg-type]
    return torch.stack([one(t, hd) for t, hd in zip(full, h_dot, strict=True)]).detach()


def _run_tasks(
    evaluator: Evaluator, tasks: Sequence[_Task], reduce: Reduce | None = None
) -> tuple[list[list[tuple[float, float, float]]], EvalPath]:
    """Exact means (L, ⟨∇L, Δ⟩, ΔᵀHΔ) of every task's tangents, one pass over the data.

    Each chunk is loaded once for all tasks; the sums go through one ``reduce`` call. Tangents at
    one point run batched (vmap) or one by one, whichever the evaluator measures to be faster
    (:meth:`Evaluator.choose_path`); the path is returned with the means.
    """
    if evaluator.stage_names is None and any(t.start > 0 for t in tasks):
        raise ValueError("a task with start > 0 needs an nn.Sequential model")
    sizes = [len(t.tangents) for t in tasks]
    still = [not any(bool(v.any()) for t in task.tangents for v in t.values()) for task in tasks]

    def chunk_rows(
        chunk: tuple[Tensor, Tensor], use_vmap: bool, run: Sequence[_Task] = tasks
    ) -> Tensor:
        xc, yc = chunk
        cache: dict = {}
        rows = []
        for task, task_still in zip(run, still, strict=True):
            h = _prefix_input(evaluator, task.theta, task.start, xc, cache)
            rows.append(_task_sums(evaluator, task, h, yc, use_vmap and not task_still, task_still))
        return torch.cat(rows, 0).double()

    def trial_rows(use_vmap: bool, n: int) -> Tensor:
        few = [_Task(t.theta, t.tangents[: evaluator.vmap_max_sets], t.start) for t in tasks]
        xc, yc = first  # type: ignore[misc]
        return chunk_rows((xc[:n], yc[:n]), use_vmap, few)

    chunks = iter(evaluator.chunks())
    first = next(chunks, None)
    path: EvalPath = "loop"
    acc = None
    shape = tuple((t.start, len(t.tangents), s) for t, s in zip(tasks, still, strict=True))
    if any(size > 1 and not s for _, size, s in shape):
        workload = ("tangents", shape)
        run_first = None if first is None else lambda use: chunk_rows(first, use)
        trial = None if first is None else trial_rows
        path, acc = evaluator.choose_path(workload, run_first, reduce, trial=trial)

    def run_chunk(chunk: tuple[Tensor, Tensor]) -> Tensor:
        nonlocal path
        if path == "vmap":
            try:
                return chunk_rows(chunk, True)
            except (RuntimeError, NotImplementedError):
                path = "loop"  # vmap pinned, but an op has no batching rule: loop over tangents
        return chunk_rows(chunk, False)

    n = 0
    if first is not None:
        if acc is None:
            acc = run_chunk(first)
        n += len(first[1])
    for chunk in chunks:
        acc = acc + run_chunk(chunk)
        n += len(chunk[1])
    if acc is None:
        acc = torch.zeros(sum(sizes), 3, dtype=torch.float64)
    flat = torch.cat([acc.reshape(-1).cpu(), torch.tensor([float(n)], dtype=torch.float64)])
    if reduce is not None:
        flat = reduce(flat)
    total = float(flat[-1])
    means = (flat[:-1].view(-1, 3) / total).tolist()
    out, i = [], 0
    for s in sizes:
        out.append([tuple(r) for r in means[i : i + s]])
        i += s
    return out, path


def taylor_prediction(
    evaluator: Evaluator,
    theta_a: Mapping[str, Tensor],
    theta_b: Mapping[str, Tensor],
    groups: Sequence[LayerGroup] | None = None,
    layerwise: bool = True,
    endpoints: bool = True,
    reduce: Reduce | None = None,
) -> TaylorRecord:
    """B_mid ≈ −⅛ΔᵀH(θ_½)Δ, curvature ΔᵀHΔ/‖Δ‖², endpoint expansion, layer-wise blocks.

    Endpoint expansion: ¼⟨∇L_A − ∇L_B, Δ⟩ + (1/16)Δᵀ(H_A + H_B)Δ. Layer ℓ: −⅛Δ_ℓᵀH_ℓℓ(θ^{ℓ,½})Δ_ℓ;
    cross-layer remainder ΔᵀH(θ_½)Δ − Σ_ℓ Δ_ℓᵀH_ℓℓ(θ_½)Δ_ℓ (docs/design.md §4).

    All terms come from one pass over the data: the tangents at one point share its primal pass
    (``vmap`` over tangents), and a layer block starts at its layer's stage, with the stages
    before it run once as a plain forward pass (an ``nn.Sequential`` model).
    """
    d = _params_only(evaluator, delta(theta_a, theta_b))
    dn = norm(d)
    ta, tb = dict(theta_a), dict(theta_b)
    prepared = evaluator.prepare([lerp(theta_a, theta_b, 0.5), ta, tb])
    mid, pa, pb = prepared
    first = min((evaluator.stage_of(k) for k in d), default=0)
    tasks = [_Task(mid, [d], first)]
    if endpoints:
        tasks += [_Task(pa, [d], first), _Task(pb, [d], first)]
    layer_rows: list[tuple[LayerGroup, ParamSet, _Task, int, _Task]] = []
    if layerwise:
        if groups is None:
            groups = [g for g in layer_groups(evaluator.template) if g.param_names]
        layers = [(g, {k: d[k] for k in g.param_names if k in d}) for g in groups]
        layers = [(g, dl) for g, dl in layers if dl]
        singles = evaluator.prepare(
            [lerp_groups(theta_a, theta_b, 0.5, [g.name], groups, rest="a") for g, _ in layers]
        )
        for (g, dl), single in zip(layers, singles, strict=True):
            # Δ_ℓ alone, at θ_½ and at θ^{ℓ,½}: both start at ℓ's stage (the prefix runs once
            # per point), and with ℓ an affine head only the input of the rest moves
            start = min(evaluator.stage_of(k) for k in dl)
            mid_task, single_task = _Task(mid, [dl], start), _Task(single, [dl], start)
            tasks += [mid_task, single_task]
            layer_rows.append((g, dl, mid_task, 0, single_task))
    res, path = _run_tasks(evaluator, tasks, reduce)
    by_id = {id(t): r for t, r in zip(tasks, res, strict=True)}
    l_mid, g_mid, h_mid = res[0][0]
    rec = TaylorRecord(
        loss_mid=l_mid,
        grad_dot_delta_mid=g_mid,
        dHd_mid=h_mid,
        predicted_barrier=-h_mid / 8.0,
        delta_norm=dn,
        curvature_mid=h_mid / dn**2 if dn > 0 else math.nan,
        n_examples=evaluator.n,
        eval_path=path,
    )
    if endpoints:
        (_, ga, ha), (_, gb, hb) = res[1][0], res[2][0]
        rec.grad_dot_delta_a, rec.grad_dot_delta_b, rec.dHd_a, rec.dHd_b = ga, gb, ha, hb
        rec.endpoint_expansion = 0.25 * (ga - gb) + (ha + hb) / 16.0
    if layerwise:
        total = 0.0
        for g, dl, mid_task, row, single_task in layer_rows:
            h_full = by_id[id(mid_task)][row][2]
            h_single = by_id[id(single_task)][0][2]
            total += h_full
            rec.layers.append(
                LayerCurvature(
                    name=g.name,
                    dHd_single_mid=h_single,
                    predicted_barrier=-h_single / 8.0,
                    dHd_full_mid=h_full,
                    delta_norm=norm(dl),
                )
            )
        rec.cross_layer_remainder = h_mid - total
    return rec
