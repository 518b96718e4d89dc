"""The ridge and the Taylor terms of one fixed pair, on one process or sharded over a gloo group.

``python ddp_ridge.py RANK WORLD PORT OUT``: process RANK of WORLD evaluates its contiguous
shard of the data (as the probe callback shards it) and all-reduces the sums; rank 0 writes
the records as JSON to OUT. :func:`numbers` with ``world=1`` is the one-process reference.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ridgeline.landscape import Evaluator, barrier_curve, state_of, taylor_prediction
from ridgeline.landscape.ridge import ridge_of_curve

N_EXAMPLES = 203  # odd: the shards (101, 102) and their chunks differ from one process's
CHUNK = 64
ALPHAS = [0.0, 0.25, 0.5, 0.75, 1.0]


def _pair() -> tuple[nn.Module, nn.Module]:
    """A confident MLP θ_A and θ_B = θ_A with its hidden units permuted: the same function, so
    the same endpoint loss, and a ridge between them (averaging unrelated units)."""
    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 5))
    with torch.no_grad():
        for p in a.parameters():
            p.mul_(3.0)
    b = copy.deepcopy(a)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for i in (0, 2):  # hidden layers: permute rows here, columns of the next layer
            perm = torch.randperm(b[i].out_features, generator=g)
            b[i].weight.copy_(b[i].weight[perm])
            b[i].bias.copy_(b[i].bias[perm])
            b[i + 2].weight.copy_(b[i + 2].weight[:, perm])
    return a, b


def numbers(
    rank: int, world: int, reduce: Callable[[Tensor], Tensor] | None, chunk: int = CHUNK
) -> dict:
    """Ridge (α*, ΔᵀH(θ_α*)Δ, ⟨∇L, Δ⟩) and Taylor record of two independent inits, on this
    process's shard x[rank·n/world : (rank+1)·n/world] of the data, sums through ``reduce``."""
    a, b = _pair()
    x = torch.randn(N_EXAMPLES, 12, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        y = a(x).argmax(1)  # the endpoints' own predictions: low loss at both ends
    lo, hi = rank * N_EXAMPLES // world, (rank + 1) * N_EXAMPLES // world
    ev = Evaluator(a, x[lo:hi], y[lo:hi], chunk_size=chunk, n_total=N_EXAMPLES, use_vmap=False)
    ta, tb = state_of(a), state_of(b)
    curve = barrier_curve(ev, ta, tb, ALPHAS, reduce=reduce)
    ridge = ridge_of_curve(ev, ta, tb, curve, reduce=reduce)
    taylor = taylor_prediction(ev, ta, tb, reduce=reduce)
    return {"curve": curve.loss, "ridge": ridge.to_dict(), "taylor": taylor.to_dict()}


def main(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )

    def reduce(t: Tensor) -> Tensor:
        t = t.clone()
        dist.all_reduce(t)
        return t

    try:
        result = numbers(rank, world, reduce)
        if rank == 0:
            with open(out, "w") as f:
                json.dump(result, f)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
