"""Training throughput: ridgeline's training path vs a hand-written PyTorch loop (issue 7, item 1).

Same model (same initial weights), same data tensors (mnist_mini, tensor-resident), batch size and
optimiser (SGD, lr 0.1, momentum 0.9, weight decay 1e-4). ridgeline = ReplicaClassifier with one
replica through a Lightning Trainer on the tensor data module's StreamLoader; floor = a plain loop
(index the tensors, forward, cross-entropy, backward, step). Ratio = ridgeline examples/s / loop
examples/s, median over repeats of per-repeat ratios (both run back to back in each repeat).
Usage: python scripts/bench_training.py --models mlp,cnn --steps 300,30 --repeats 3
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
    timed_bare_lightning,
    timed_fit,
    timed_loop,
)
from ridgeline.config.builds import data_module
from ridgeline.models import build_model


def main() -> None:
    """Run the benchmark and print the ratio table; the last line is the headline ratio."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--steps", default="300,30", help="measured steps per model")
    add_training_args(ap)
    args = ap.parse_args()
    start(per_thread_count(args.threads))
    dm = data_module("mnist_mini", batch_size=args.batch_size)
    dm.setup()
    x, y = dm.train_x, dm.train_y
    opt = functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9, weight_decay=1e-4)
    rows, heads = [], []
    steps = [int(s) for s in args.steps.split(",")]
    for name, n_steps in zip(args.models.split(","), steps, strict=True):
        torch.manual_seed(0)
        model = build_model(name, (1, 28, 28), 10)
        runs = {
            "ridgeline": lambda m=model, k=n_steps: timed_fit(
                [copy.deepcopy(m)], dm, opt, k, args.warmup
            ),
            "bare LightningModule": lambda m=model, k=n_steps: timed_bare_lightning(
                copy.deepcopy(m), x, y, args.batch_size, opt, k, args.warmup
            ),
            "loop": lambda m=model, k=n_steps: timed_loop(
                [copy.deepcopy(m)], x, y, args.batch_size, opt, k, args.warmup
            ),
        }
        times: dict[str, list[float]] = {k: [] for k in runs}
        for r in range(args.repeats):
            for k in list(runs)[r % 3 :] + list(runs)[: r % 3]:  # rotate the order
                times[k].append(runs[k]())
        ex = n_steps * args.batch_size
        for a, b in (
            ("bare LightningModule", "loop"),
            ("ridgeline", "bare LightningModule"),
            ("ridgeline", "loop"),
        ):
            rows.append(throughput_row(f"{name}: examples/s, {a} vs {b}", times, a, b, ex))
        heads.append(f"{name} {rows[-1][3]:.3f}")
    table(rows, "headline: training throughput ridgeline / plain loop = " + ", ".join(heads))


if __name__ == "__main__":
    main()
