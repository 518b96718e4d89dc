"""Bent paths between two parameter sets: a quadratic Bezier curve or a one-bend polygonal chain.

Garipov et al. 2018 ("Loss Surfaces, Mode Connectivity, and Fast Ensembling of DNNs"):
φ(t) = (1−t)²θ_A + 2t(1−t)θ_bend + t²θ_B (``bezier``), or θ_A → θ_bend → θ_B with
φ(t) = lerp(θ_A, θ_bend, 2t) for t < ½ and lerp(θ_bend, θ_B, 2t − 1) for t ≥ ½
(``polychain``). Only θ_bend is trained, by SGD or Adam on E_{t~U[0,1]} L(φ(t)) over training
batches; it starts at the midpoint θ_½, where both curves are the straight line. Every draw
(t, batch order, an optional initial perturbation) comes from a private ``torch.Generator``;
live models are never touched. The loss and error along the fitted curve are then evaluated on
a t grid next to the straight path's, with the barrier variants of docs/design.md §2.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from ridgeline.landscape.barrier import DEFAULT_ALPHAS, curve_fields, with_midpoint
from ridgeline.landscape.evaluate import Evaluator
from ridgeline.landscape.groups import ParamSetGroup
from ridgeline.landscape.normalization import Endpoints
from ridgeline.landscape.params import ParamSet, lerp, norm
from ridgeline.landscape.results import BentPathFitRecord, BentPathRecord
from ridgeline.landscape.sums import Reduce

BENT_PATH_KINDS = ("bezier", "polychain")
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "cosine")
# loss_fn(φ(t), i): differentiable training loss of a parameter set on training batch i
BentPathLoss = Callable[[ParamSet, int], Tensor]


def _check_kind(kind: str) -> str:
    if kind not in BENT_PATH_KINDS:
        raise ValueError(f"curve kind must be one of {BENT_PATH_KINDS}, got {kind!r}")
    return kind


def bent_path_coefficients(t: float, kind: str) -> tuple[float, float, float]:
    """Weights (c_A, c_bend, c_B) of φ(t) = c_A θ_A + c_bend θ_bend + c_B θ_B (Garipov et al.)."""
    _check_kind(kind)
    t = float(t)
    if kind == "bezier":
        return (1 - t) ** 2, 2 * t * (1 - t), t**2
    if t < 0.5:
        return 1 - 2 * t, 2 * t, 0.0
    return 0.0, 2 - 2 * t, 2 * t - 1


def _combine(
    a: Mapping[str, Tensor], bend: Mapping[str, Tensor], b: Mapping[str, Tensor], t: float, kind
) -> ParamSet:
    c0, c1, c2 = bent_path_coefficients(t, kind)
    return {
        k: c0 * a[k] + c1 * bend[k] + c2 * b[k] if torch.is_floating_point(a[k]) else a[k]
        for k in a
    }


def bent_path_point(
    theta_a: Mapping[str, Tensor],
    bend: Mapping[str, Tensor],
    theta_b: Mapping[str, Tensor],
    t: float,
    kind: str = "bezier",
) -> ParamSet:
    """φ(t) of the curve through ``bend``; exactly θ_A at t = 0 and θ_B at t = 1."""
    if not 0.0 <= float(t) <= 1.0:
        raise ValueError(f"t must lie in [0, 1], got {t}")
    _check_kind(kind)
    if t == 0:
        return dict(theta_a)
    if t == 1:
        return dict(theta_b)
    return _combine(theta_a, bend, theta_b, t, kind)


def bent_path_points(
    theta_a: Mapping[str, Tensor],
    bend: Mapping[str, Tensor],
    theta_b: Mapping[str, Tensor],
    ts: Sequence[float],
    kind: str = "bezier",
) -> list[ParamSet]:
    """[φ(t) for t in ts] (see :func:`bent_path_point`)."""
    return [bent_path_point(theta_a, bend, theta_b, t, kind) for t in ts]


@dataclass
class BentPathFit:
    """A trained bend θ_bend (detached tensors, all keys of θ_A) and how it was trained."""

    kind: str
    bend: ParamSet
    record: BentPathFitRecord


def fit_bent_path(
    loss_fn: BentPathLoss,
    theta_a: Mapping[str, Tensor],
    theta_b: Mapping[str, Tensor],
    *,
    kind: str = "bezier",
    steps: int = 200,
    lr: float = 1e-2,
    optimizer: str = "adam",
    momentum: float = 0.9,
    t_per_step: int = 1,
    n_batches: int = 1,
    seed: int = 0,
    trainable: Sequence[str] | None = None,
    init_noise: float = 0.0,
    window: int | None = None,
    schedule: str = "constant",
) -> BentPathFit:
    """Train θ_bend on E_{t~U[0,1]} L(φ(t)) (Garipov et al. 2018), starting at θ_½.

    Each step draws ``t_per_step`` values t ~ U[0, 1) and takes one optimiser step on the mean
    of ``loss_fn(φ(t), i)``; the batch index i runs through a fresh random permutation of
    ``range(n_batches)`` each epoch. ``trainable`` (default: every float tensor) are the bend's
    trained tensors; the others stay at θ_½. ``init_noise`` > 0 starts the bend at
    θ_½ + init_noise·‖Δ‖/√n·ξ, ξ ~ N(0, I) (breaks an exact symmetry, e.g. a saddle at θ_½).
    ``schedule='cosine'`` decays the learning rate as lr·½(1 + cos(π·step/steps)).
    """
    _check_kind(kind)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if steps < 1 or t_per_step < 1 or n_batches < 1:
        raise ValueError("steps, t_per_step and n_batches must be >= 1")
    start = time.perf_counter()
    gen = torch.Generator().manual_seed(int(seed))
    a = {k: v.detach() for k, v in theta_a.items()}
    b = {k: v.detach() for k, v in theta_b.items()}
    names = (
        [k for k in a if torch.is_floating_point(a[k])] if trainable is None else list(trainable)
    )
    missing = [k for k in names if k not in a]
    if missing:
        raise ValueError(f"trainable names not in the parameter set: {missing}")
    bend = {k: v.clone() for k, v in lerp(a, b, 0.5).items()}
    delta_norm = norm({k: b[k] - a[k] for k in names})
    if init_noise > 0:
        n = sum(bend[k].numel() for k in names)
        scale = init_noise * delta_norm / math.sqrt(max(n, 1))
        for k in names:
            xi = torch.randn(bend[k].shape, generator=gen, dtype=torch.float64)
            bend[k] = bend[k] + (scale * xi).to(bend[k].device, bend[k].dtype)
    leaves = [bend[k].requires_grad_(True) for k in names]
    opt: torch.optim.Optimizer = (
        torch.optim.Adam(leaves, lr=lr)
        if optimizer == "adam"
        else torch.optim.SGD(leaves, lr=lr, momentum=momentum)
    )
    objective: list[float] = []
    order: list[int] = []
    for step in range(int(steps)):
        if schedule == "cosine":
            for group in opt.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        if not order:
            order = torch.randperm(n_batches, generator=gen).tolist()
        i = order.pop(0)
        ts = torch.rand(t_per_step, generator=gen, dtype=torch.float64).tolist()
        opt.zero_grad(set_to_none=True)
        loss = sum(loss_fn(_combine(a, bend, b, t, kind), i) for t in ts) / len(ts)
        loss.backward()  # type: ignore[union-attr]
        opt.step()
        objective.append(float(loss.detach()))  # type: ignore[union-attr]
    w = max(1, min(len(objective), steps // 10 if window is None else int(window)))
    out = {k: v.detach().clone() for k, v in bend.items()}
    mid = lerp(a, b, 0.5)
    record = BentPathFitRecord(
        kind=kind,
        steps=int(steps),
        optimizer=optimizer,
        lr=float(lr),
        schedule=schedule,
        t_per_step=int(t_per_step),
        n_batches=int(n_batches),
        seed=int(seed),
        init_noise=float(init_noise),
        window=w,
        initial_objective=sum(objective[:w]) / w,
        final_objective=sum(objective[-w:]) / w,
        bend_offset=norm({k: out[k] - mid[k] for k in names}),
        delta_norm=delta_norm,
        seconds=time.perf_counter() - start,
    )
    return BentPathFit(kind=kind, bend=out, record=record)


def bent_path_barrier(
    evaluator: Evaluator,
    theta_a: Mapping[str, Tensor],
    theta_b: Mapping[str, Tensor],
    fit: BentPathFit,
    ts: Sequence[float] = DEFAULT_ALPHAS,
    reduce: Reduce | None = None,
) -> BentPathRecord:
    """Loss/error along φ(t) and along θ_t = lerp(θ_A, θ_B, t) on ``ts`` (½ added), in one pass.

    Both paths go through ``evaluator`` (its BN policy; under ``repair`` the targets are
    (1−t)·stat_A + t·stat_B for the curve's point at t as for the line's).
    """
    tt = with_midpoint(ts)
    ends = Endpoints(dict(theta_a), dict(theta_b), tt)
    curve = bent_path_points(theta_a, fit.bend, theta_b, tt, fit.kind)
    line = [lerp(theta_a, theta_b, t) for t in tt]
    (mc, ml), _ = evaluator.run(
        [ParamSetGroup(curve, endpoints=ends), ParamSetGroup(line, endpoints=ends)], reduce=reduce
    )
    return BentPathRecord(
        kind=fit.kind,
        ts=tt,
        fit=fit.record,
        **curve_fields(tt, [m.loss for m in mc], [m.error for m in mc]),
        **curve_fields(tt, [m.loss for m in ml], [m.error for m in ml], prefix="line_"),
        bn_policy=evaluator.bn_policy.value,
        n_examples=evaluator.n,
        eval_path=evaluator.last_path,
    )


def bent_path_barrier_fn(
    loss_fn: Callable[[ParamSet], Tensor | float],
    theta_a: Mapping[str, Tensor],
    theta_b: Mapping[str, Tensor],
    fit: BentPathFit,
    ts: Sequence[float] = DEFAULT_ALPHAS,
) -> BentPathRecord:
    """:func:`bent_path_barrier` for a plain loss function of a parameter set (no error rate)."""
    tt = with_midpoint(ts)
    with torch.no_grad():
        loss = [
            float(loss_fn(p)) for p in bent_path_points(theta_a, fit.bend, theta_b, tt, fit.kind)
        ]
        line_loss = [float(loss_fn(lerp(theta_a, theta_b, t))) for t in tt]
    return BentPathRecord(
        kind=fit.kind,
        ts=tt,
        fit=fit.record,
        **curve_fields(tt, loss),
        **curve_fields(tt, line_loss, prefix="line_"),
    )


def network_bent_path_loss(
    model: nn.Module,
    batches: Sequence[tuple[Tensor, Tensor]],
    per_example_loss: Callable[[Tensor, Tensor], Tensor] | None = None,
) -> BentPathLoss:
    """loss_fn(ps, i) = mean loss of ``model`` with parameters ``ps`` on training batch i.

    Runs ``torch.func.functional_call`` on a private eval-mode copy (no dropout); its BatchNorm
    layers normalise with the batch's own statistics, as in Garipov et al.'s curve training
    (running statistics are neither used nor updated). Cross-entropy unless ``per_example_loss``.
    """
    if not batches:
        raise ValueError("the curve fit needs at least one training batch")
    work = copy.deepcopy(model).eval().requires_grad_(False)
    for m in work.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.train()
            m.track_running_stats = False
    params = list(work.parameters())
    device = params[0].device if params else torch.device("cpu")
    data = [(x.to(device), y.to(device)) for x, y in batches]

    def loss_fn(ps: ParamSet, i: int) -> Tensor:
        x, y = data[i]
        out = functional_call(work, ps, (x,))
        if per_example_loss is None:
            return F.cross_entropy(out.float() if out.dtype == torch.float16 else out, y)
        return per_example_loss(out, y).mean()

    return loss_fn


def connect(
    model: nn.Module,
    theta_a: Mapping[str, Tensor],
    theta_b: Mapping[str, Tensor],
    train_batches: Sequence[tuple[Tensor, Tensor]],
    evaluator: Evaluator,
    kind: str = "bezier",
    ts: Sequence[float] = DEFAULT_ALPHAS,
    reduce: Reduce | None = None,
    **fit_options: object,
) -> tuple[BentPathFit, BentPathRecord]:
    """Fit a bend between two networks on ``train_batches`` and evaluate curve and line.

    The bend trains the model's parameters (floating buffers stay at θ_½); ``fit_options`` go
    to :func:`fit_bent_path` (steps, lr, optimizer, t_per_step, seed, ...).
    """
    names = [n for n, _ in model.named_parameters()]
    fit = fit_bent_path(
        network_bent_path_loss(model, train_batches, evaluator.per_example_loss),
        theta_a,
        theta_b,
        kind=kind,
        n_batches=len(train_batches),
        trainable=names,
        **fit_options,  # type: ignore[arg-type]
    )
    return fit, bent_path_barrier(evaluator, theta_a, theta_b, fit, ts, reduce=reduce)
