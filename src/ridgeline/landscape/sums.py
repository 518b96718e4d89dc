"""Exact means from float64 sums: one reduction over processes, one division.

Every evaluation and curvature routine adds per-chunk float64 sums and counts its examples;
:func:`exact_means` sums both over processes in one ``reduce`` call and divides once, and
:func:`sums_to_metrics` does the same for rows that carry their own count n.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor

PerExampleLoss = Callable[[Tensor, Tensor], Tensor]
# a sum over processes (e.g. an all-reduce); it may move the tensor to the group's device
Reduce = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class Metrics:
    """Mean loss L and error rate E = 1 − accuracy of one parameter set (non-finite kept)."""

    loss: float
    error: float


def sums_to_metrics(sums: Tensor) -> list[Metrics]:
    """[K, 3] float64 (loss_sum, error_count, n) → exact means L = Σℓ/n, E = Σerr/n."""
    out = []
    for loss_sum, err, n in sums.tolist():
        if n <= 0:
            out.append(Metrics(math.nan, math.nan))
        else:
            out.append(Metrics(loss_sum / n, err / n))
    return out


def exact_means(sums: Tensor, n: int, reduce: Reduce | None = None) -> Tensor:
    """``sums`` / N for float64 ``sums`` of any shape over n local examples, N = Σ n.

    ``sums`` and n travel in one flat float64 tensor through ``reduce`` (one call); the result
    has the shape of ``sums`` (nan everywhere when no process had an example).
    """
    flat = torch.cat(
        [sums.reshape(-1).to("cpu", torch.float64), torch.tensor([float(n)], dtype=torch.float64)]
    )
    if reduce is not None:
        flat = reduce(flat)
    total = float(flat[-1])
    if total <= 0:
        return torch.full(tuple(sums.shape), math.nan, dtype=torch.float64)
    return (flat[:-1] / total).view(sums.shape)


def output_sums(out: Tensor, y: Tensor, per_example_loss: PerExampleLoss | None = None) -> Tensor:
    """Per-set float64 sums [K, 3] = (loss_sum, error_count, n) of outputs [K, B, ...].

    Cross-entropy unless ``per_example_loss``; the error count is nan for float targets.
    """
    k, b = out.shape[0], out.shape[1]
    flat = out.reshape(k * b, *out.shape[2:])
    yy = y if k == 1 else y.repeat(k, *([1] * (y.dim() - 1)))
    if per_example_loss is None:
        logits = flat if flat.dtype in (torch.float32, torch.float64) else flat.float()
        losses = F.cross_entropy(logits, yy, reduction="none")
    else:
        losses = per_example_loss(flat, yy)
    loss_sum = losses.reshape(k, -1).double().sum(1)
    if not torch.is_floating_point(y) and flat.dim() >= 2:
        err = (flat.argmax(1) != yy).reshape(k, -1).double().sum(1)
    else:
        err = torch.full((k,), math.nan, dtype=torch.float64, device=out.device)
    n = torch.full((k,), float(b), dtype=torch.float64, device=out.device)
    return torch.stack([loss_sum, err, n], dim=1)


K = TypeVar("K", bound=Hashable)


def reduce_sum_lists(
    sums: dict[K, list[Tensor]], n: int, reduce: Reduce | None = None
) -> tuple[dict[K, list[Tensor]], int]:
    """Every process's float64 sums, added over processes in one ``reduce`` of one flat tensor
    (the tensors of each key in order, then this process's example count ``n``), split back to
    their shapes; and the total example count."""
    keys = list(sums)
    flat = torch.cat(
        [t.reshape(-1).cpu() for k in keys for t in sums[k]]
        + [torch.tensor([float(n)], dtype=torch.float64)]
    )
    if reduce is not None:
        flat = reduce(flat).to(torch.float64)
    out: dict[K, list[Tensor]] = {}
    i = 0
    for k in keys:
        out[k] = []
        for t in sums[k]:
            out[k].append(flat[i : i + t.numel()].view(t.shape))
            i += t.numel()
    return out, int(flat[-1])
