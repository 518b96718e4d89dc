"""The probe's evaluation on 2 CPU processes (sharded, all-reduced) vs 1 (issue 7, item 5).

Each rank of a gloo process group holds its contiguous shard of the evaluation tensors (as
LandscapeProbe shards them) and runs the default probe set at one probe point; the raw float64
sums go through ``reduce`` = all_reduce(sum), so every rank gets the numbers of one process.
Ratio = time with 1 process / time with ``--world`` processes (speed-up, ideal = world size);
the numbers of both runs are compared (largest relative difference over every float).
Usage: python scripts/bench_ddp_probe.py --world 2 --n-train 1000 --n-test 1000 --repeats 3
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from bench_common import load, table
from bench_probe import probe_point, spawn_pair
from ridgeline.config.builds import data_module


def _shard(x: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    n = x.shape[0]
    return x[rank * n // world : (rank + 1) * n // world]


def _reduce(t: torch.Tensor) -> torch.Tensor:
    t = t.clone()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def _worker(rank: int, world: int, args: argparse.Namespace, init: str, out: dict) -> None:
    torch.set_num_threads(args.threads)
    if world > 1:
        dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    dm = data_module("mnist_mini", eval_train_size=args.n_train, eval_test_size=args.n_test)
    dm.setup()
    splits = {}
    for k in ("train", "test"):
        x, y = dm.eval_tensors(k)
        splits[k] = (_shard(x, rank, world), _shard(y, rank, world))
    bn = dm.bn_batches(8, dm.batch_size, seed=0)
    model, s, a, b = spawn_pair(args.model)
    reduce = _reduce if world > 1 else None
    probe_point(model, [a, b], s, splits, bn, args.chunk_size, reduce)  # warm-up
    times, rec = [], None
    for _ in range(1):
        if world > 1:
            dist.barrier()
        t0 = time.perf_counter()
        rec = probe_point(model, [a, b], s, splits, bn, args.chunk_size, reduce)
        if world > 1:
            dist.barrier()
        times.append(time.perf_counter() - t0)
    if rank == 0:
        out["times"] = times
        out["record"] = rec
    if world > 1:
        dist.destroy_process_group()


def run(world: int, args: argparse.Namespace) -> dict:
    """Times and record of rank 0 with ``world`` processes."""
    with mp.Manager() as manager:
        out = manager.dict()
        fd, path = tempfile.mkstemp(prefix="ridgeline_gloo_")
        os.close(fd)
        os.unlink(path)
        mp.spawn(_worker, args=(world, args, f"file://{path}", out), nprocs=world, join=True)
        return dict(out)


def _floats(obj, prefix=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _floats(v, f"{prefix}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _floats(v, f"{prefix}[{i}]")
    elif isinstance(obj, float):
        yield prefix, obj


def max_rel_diff(r1: dict, r2: dict) -> tuple[float, str]:
    """Largest |a − b| / max(|a|, |b|, 1e-12) over every float of two records (nan = nan)."""
    f1, f2 = dict(_floats(r1)), dict(_floats(r2))
    if f1.keys() != f2.keys():
        return math.inf, "different keys"
    worst, where = 0.0, ""
    for k, a in f1.items():
        b = f2[k]
        if math.isnan(a) and math.isnan(b):
            continue
        d = abs(a - b) / max(abs(a), abs(b), 1e-12)
        if d > worst:
            worst, where = d, k
    return worst, where


def main() -> None:
    """Run the benchmark and print the ratio table; the last line is the headline ratio."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--world", type=int, default=2)
    ap.add_argument("--model", default="mlp")
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--chunk-size", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=1, help="pairs of runs (each spawns)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {args.threads} thread(s) per process, {load()}")
    t1s, tns, ratios = [], [], []
    diff, where = 0.0, ""
    for r in range(args.repeats):  # alternate 1 and world processes, one timed probe each
        if r % 2 == 0:
            one, many = run(1, args), run(args.world, args)
        else:
            many, one = run(args.world, args), run(1, args)
        t1s.append(one["times"][0])
        tns.append(many["times"][0])
        ratios.append(t1s[-1] / tns[-1])
        d, w = max_rel_diff(one["record"], many["record"])
        if d >= diff:
            diff, where = d, w
    t1, tn, ratio = statistics.median(t1s), statistics.median(tns), statistics.median(ratios)
    rows = [(f"probe point, 1 process vs {args.world} (s; speed-up)", t1, tn, ratio)]
    table(
        rows,
        f"headline: {args.world}-process probe speed-up = {ratio:.3f}; numbers equal up to "
        f"relative {diff:.1e} (largest at {where or '-'})",
    )


if __name__ == "__main__":
    main()
