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
import statistics

import torch

from bench_common import start, table, timed_fit, timed_loop
from ridgeline.data import MnistMiniDataModule
from ridgeline.models import build_model


def main() -> None:
    """Run the benchmark and print the ratio table; the last line is the headline ratio."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--steps", default="300,30", help="measured steps per model")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: default)")
    args = ap.parse_args()
    start(args.threads)
    dm = MnistMiniDataModule(batch_size=args.batch_size)
    dm.setup()
    x, y = dm.train_x, dm.train_y
    opt = functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9, weight_decay=1e-4)
    rows, heads = [], []
    steps = [int(s) for s in args.steps.split(",")]
    for name, n_steps in zip(args.models.split(","), steps, strict=True):
        torch.manual_seed(0)
        model = build_model(name, (1, 28, 28), 10)
        ts, fs, ratios = [], [], []
        for r in range(args.repeats):
            ours = lambda m=model, k=n_steps: timed_fit(  # noqa: E731
                [copy.deepcopy(m)], dm, opt, k, args.warmup
            )
            plain = lambda m=model, k=n_steps: timed_loop(  # noqa: E731
                [copy.deepcopy(m)], x, y, args.batch_size, opt, k, args.warmup
            )
            if r % 2 == 0:
                t, f = ours(), plain()
            else:
                f, t = plain(), ours()
            ts.append(t)
            fs.append(f)
            ratios.append(f / t)  # throughput ratio = loop time / ridgeline time
        ex = n_steps * args.batch_size
        t, f, ratio = statistics.median(ts), statistics.median(fs), statistics.median(ratios)
        rows.append(
            (f"{name}: examples/s, ridgeline vs loop ({n_steps} steps)", ex / t, ex / f, ratio)
        )
        heads.append(f"{name} {ratio:.3f}")
    table(rows, "headline: training throughput ridgeline / plain loop = " + ", ".join(heads))


if __name__ == "__main__":
    main()
