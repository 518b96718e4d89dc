"""N children in lockstep vs N separate single-model loops (issue 7, item 2).

ridgeline trains the N children of a spawn in one ReplicaClassifier (one Lightning step moves all
N, one stream each). Floor = N separate hand-written single-model loops run one after the other
(same models, tensors, batch size, optimiser). Ratio = (time of the N separate loops) / (time of
ridgeline's lockstep run): ≥ 1 means lockstep is at least as fast. Also shown: N separate
ridgeline runs, and a hand-written lockstep loop (what sharing one step across children buys
without Lightning). Medians of per-repeat ratios.
Usage: python scripts/bench_lockstep.py --children 2 --model mlp --steps 200 --repeats 3
"""

from __future__ import annotations

import argparse
import copy
import functools

import torch

from bench_common import (
    add_training_args,
    per_thread_count,
    start,
    table,
    throughput_row,
    timed_fit,
    timed_loop,
)
from ridgeline.config.builds import data_module
from ridgeline.data import StreamSeeds
from ridgeline.models import build_model


def main() -> None:
    """Run the benchmark and print the ratio table; the last line is the headline ratio."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--children", type=int, default=2)
    ap.add_argument("--model", default="mlp")
    ap.add_argument("--steps", type=int, default=200)
    add_training_args(ap)
    args = ap.parse_args()
    start(per_thread_count(args.threads))
    n = args.children
    dm = data_module("mnist_mini", batch_size=args.batch_size)
    dm.setup()
    dm.set_streams([StreamSeeds(i, i) for i in range(n)])
    single = data_module("mnist_mini", batch_size=args.batch_size)
    single.setup()
    x, y = dm.train_x, dm.train_y
    opt = functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9, weight_decay=1e-4)
    torch.manual_seed(0)
    parent = build_model(args.model, (1, 28, 28), 10)
    s, w, b = args.steps, args.warmup, args.batch_size

    def kids() -> list:
        return [copy.deepcopy(parent) for _ in range(n)]

    runs = {
        "ridgeline lockstep": lambda: timed_fit(kids(), dm, opt, s, w),
        "ridgeline N separate runs": lambda: sum(timed_fit([m], single, opt, s, w) for m in kids()),
        "plain lockstep loop": lambda: timed_loop(kids(), x, y, b, opt, s, w),
        "plain N separate loops (floor)": lambda: sum(
            timed_loop([m], x, y, b, opt, s, w) for m in kids()
        ),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    for r in range(args.repeats):
        order = list(runs) if r % 2 == 0 else list(reversed(runs))
        for k in order:
            times[k].append(runs[k]())
    floor = "plain N separate loops (floor)"
    ex = n * s * b
    rows = [
        throughput_row(f"{k}: examples/s (N={n}, {args.model})", times, k, floor, ex) for k in times
    ]
    head = rows[0][3]
    table(rows, f"headline: N={n} children lockstep (ridgeline) / N separate loops = {head:.3f}")


if __name__ == "__main__":
    main()
