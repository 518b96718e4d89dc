"""The tangent engine: (L, ⟨∇L, Δ⟩, ΔᵀHΔ) of many tangents at many points in one data pass.

A :class:`TangentTask` is one (prepared) point and its tangents. Stages before the task's
``start`` (top-level stages of an nn.Sequential) run once as a plain forward pass, shared by
tasks with the same prefix tensors; an affine head (Linear/Conv) of the start stage runs as two
plain passes; the nested jvp is batched over tangents with ``vmap`` or looped, whichever the
Evaluator measures to be faster. Reaches the Evaluator only through its public methods.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, vmap

from ridgeline.landscape.derivatives import jvp_pair
from ridgeline.landscape.eval_path import Chunk, EvalPath, run_chunks
from ridgeline.landscape.evaluate import Evaluator
from ridgeline.landscape.params import ParamSet
from ridgeline.landscape.sums import Reduce, exact_means

Means = tuple[float, float, float]


@dataclass
class TangentTask:
    """Directional derivatives at one (prepared) point for several tangents.

    Every tangent is zero on the stages before ``start`` (top-level stages of an nn.Sequential),
    so those stages run once as a plain forward pass, shared with any other task whose point has
    the very same prefix tensors; the nested jvp starts at ``start`` and is batched over the
    tangents with ``vmap`` (one primal pass for all of them).
    """

    theta: ParamSet
    tangents: list[ParamSet]
    start: int = 0


def _prefix_key(evaluator: Evaluator, theta: ParamSet, stage: int) -> Hashable:
    return (stage, *((k, id(v)) for k, v in theta.items() if evaluator.stage_of(k) < stage))


def _prefix_input(
    evaluator: Evaluator, theta: ParamSet, stage: int, xc: Tensor, cache: dict[Hashable, Tensor]
) -> Tensor:
    """Activations entering ``stage`` at point theta (cached by the identity of prefix tensors)."""
    if stage == 0:
        return xc
    key = _prefix_key(evaluator, theta, stage)
    if key not in cache:
        h = _prefix_input(evaluator, theta, stage - 1, xc, cache)
        ps = {k: v for k, v in theta.items() if evaluator.stage_of(k) == stage - 1}
        with torch.no_grad():
            cache[key] = functional_call(evaluator.stage_module(stage - 1), ps, (h,))
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
    mod = evaluator.stage_module(stage)[0]
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


def piecewise_linear(module: nn.Module | None) -> bool:
    """True when ``module`` (None: the identity) is a tree of nn.Sequentials whose leaves are
    piecewise-linear in their input in eval mode (BatchNorm with running statistics counts)."""
    if module is None:
        return True
    if isinstance(module, nn.Sequential):  # (a slice of one is a new, train-mode container)
        return all(piecewise_linear(m) for m in module)
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return not module.training and module.running_mean is not None
    if isinstance(module, nn.modules.dropout._DropoutNd):
        return not module.training
    return isinstance(module, _PIECEWISE_LINEAR)


def loss_sum(evaluator: Evaluator, out: Tensor, yc: Tensor) -> Tensor:
    """Sum of per-example losses in float64: sums independent of chunking and sharding."""
    if evaluator.per_example_loss is not None:
        return evaluator.per_example_loss(out, yc).double().sum()
    return F.cross_entropy(out, yc, reduction="none").double().sum()


def _task_sums(
    evaluator: Evaluator,
    task: TangentTask,
    h: Tensor,
    yc: Tensor,
    use_vmap: bool,
    still: bool = False,
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
        else evaluator.keys_from(task.theta, start)
    )
    if still:
        with torch.no_grad():
            value = loss_sum(
                evaluator, functional_call(evaluator.module_from(start), suffix, (h,)), yc
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
        else evaluator.module_from(start)
    )
    fixed = {k: v for k, v in suffix.items() if k not in keys}
    primal = {k: suffix[k] for k in keys}
    linear_rest = piecewise_linear(rest) and piecewise_linear(later)

    def forward(ps: ParamSet, inp: Tensor) -> Tensor:
        if rest is not None:  # the rest of the stage whose affine head ran already
            n = len(rest_prefix)
            own = {k[n:]: v for k, v in ps.items() if k.startswith(rest_prefix)}
            inp = functional_call(rest, own, (inp,))
            ps = {k: v for k, v in ps.items() if not k.startswith(rest_prefix)}
        return inp if later is None else functional_call(later, ps, (inp,))

    def f(p: ParamSet, inp: Tensor) -> Tensor:
        return loss_sum(evaluator, forward({**fixed, **p}, inp), yc)

    def one(t: ParamSet, t_in: Tensor | None) -> Tensor:
        if t_in is None and not primal:  # an empty direction: no derivative to take
            value = f({}, h)
            return torch.stack([value, torch.zeros_like(value), torch.zeros_like(value)])
        if t_in is None:
            return _along_params(f, primal, h, t)
        if not primal and linear_rest:
            # only the input moves and the rest is piecewise linear in it: the logits move
            # along o + s·ȯ exactly, so one first-order jvp gives ȯ and the nested jvp runs on
            # the loss of the logits alone
            out, out_dot = jvp_pair(lambda i: forward(fixed, i), (h,), (t_in,))
            return _along_logits(lambda o: loss_sum(evaluator, o, yc), out, out_dot)
        if not primal:  # only the input moves (a tangent in the affine head alone)
            return _along_input(f, h, t_in)
        return _along_both(f, primal, h, t, t_in)

    if use_vmap and len(full) > 1:
        stacked = {k: torch.stack([t[k] for t in full]) for k in keys}
        if h_dot[0] is None:
            return vmap(lambda t: one(t, None))(stacked).detach()
        return vmap(one)(stacked, torch.stack([hd for hd in h_dot if hd is not None])).detach()
    return torch.stack([one(t, hd) for t, hd in zip(full, h_dot, strict=True)]).detach()


PointLoss = Callable[[ParamSet, Tensor], Tensor]


def _along_params(f: PointLoss, primal: ParamSet, h: Tensor, t: ParamSet) -> Tensor:
    """[L, d1, d2] along tangent t of the parameters (the input h fixed): nested jvp."""

    def first(p: ParamSet) -> tuple[Tensor, Tensor]:
        return jvp_pair(lambda q: f(q, h), (p,), (t,))

    (value, d1), (_, d2) = jvp_pair(first, (primal,), (t,))
    return torch.stack([value, d1, d2])


def _along_logits(loss: Callable[[Tensor], Tensor], out: Tensor, out_dot: Tensor) -> Tensor:
    """[L, d1, d2] of the loss of logits moving along out + s·out_dot (exactly a line)."""

    def first(o: Tensor) -> tuple[Tensor, Tensor]:
        return jvp_pair(loss, (o,), (out_dot,))

    (value, d1), (_, d2) = jvp_pair(first, (out,), (out_dot,))
    return torch.stack([value, d1, d2])


def _along_input(f: PointLoss, h: Tensor, t_in: Tensor) -> Tensor:
    """[L, d1, d2] along tangent t_in of the input alone (no parameter moves)."""

    def first(i: Tensor) -> tuple[Tensor, Tensor]:
        return jvp_pair(lambda j: f({}, j), (i,), (t_in,))

    (value, d1), (_, d2) = jvp_pair(first, (h,), (t_in,))
    return torch.stack([value, d1, d2])


def _along_both(f: PointLoss, primal: ParamSet, h: Tensor, t: ParamSet, t_in: Tensor) -> Tensor:
    """[L, d1, d2] along tangent (t, t_in) of parameters and input together."""

    def first(p: ParamSet, i: Tensor) -> tuple[Tensor, Tensor]:
        return jvp_pair(f, (p, i), (t, t_in))

    (value, d1), (_, d2) = jvp_pair(first, (primal, h), (t, t_in))
    return torch.stack([value, d1, d2])


def run_tangent_tasks(
    evaluator: Evaluator, tasks: Sequence[TangentTask], reduce: Reduce | None = None
) -> tuple[list[list[Means]], EvalPath]:
    """Exact means (L, ⟨∇L, Δ⟩, ΔᵀHΔ) of every task's tangents, one pass over the data.

    Each chunk is loaded once for all tasks; the sums go through one ``reduce`` call. Tangents at
    one point run batched (vmap) or one by one, whichever the evaluator measures to be faster
    (:meth:`Evaluator.choose_path`); the path is returned with the means.
    """
    if evaluator.stage_names is None and any(t.start > 0 for t in tasks):
        raise ValueError("a task with start > 0 needs an nn.Sequential model")
    sizes = [len(t.tangents) for t in tasks]
    still = [not any(bool(v.any()) for t in task.tangents for v in t.values()) for task in tasks]

    def rows_of(chunk: Chunk, use_vmap: bool, run: Sequence[TangentTask]) -> Tensor:
        xc, yc = chunk
        cache: dict[Hashable, Tensor] = {}
        rows = []
        for task, task_still in zip(run, still, strict=True):
            h = _prefix_input(evaluator, task.theta, task.start, xc, cache)
            rows.append(_task_sums(evaluator, task, h, yc, use_vmap and not task_still, task_still))
        return torch.cat(rows, 0).double()

    def chunk_rows(chunk: Chunk, use_vmap: bool) -> Tensor:
        return rows_of(chunk, use_vmap, tasks)

    def trial_rows(chunk: Chunk, use_vmap: bool) -> Tensor:
        few = [TangentTask(t.theta, t.tangents[: evaluator.vmap_max_sets], t.start) for t in tasks]
        return rows_of(chunk, use_vmap, few)

    shape = tuple((t.start, len(t.tangents), s) for t, s in zip(tasks, still, strict=True))
    measured = any(size > 1 and not s for _, size, s in shape)
    workload = ("tangents", shape) if measured else None
    total = run_chunks(evaluator, workload, chunk_rows, trial_rows, reduce, loop_on_vmap_error=True)
    acc = total.sums if total.sums is not None else torch.zeros(sum(sizes), 3, dtype=torch.float64)
    means = exact_means(acc.reshape(-1, 3), total.n, reduce).tolist()
    out, i = [], 0
    for s in sizes:
        out.append([(r[0], r[1], r[2]) for r in means[i : i + s]])
        i += s
    return out, total.path
