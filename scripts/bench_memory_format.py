"""Conv models in channels-last vs the default (NCHW) memory format (``model.channels_last``).

Same model (same initial weights), same batch: time of a training step (forward, cross-entropy,
backward, SGD step) and of an evaluation forward pass, each in both formats, back to back.
Ratio = NCHW time / channels-last time (> 1: channels-last is faster). Medians over repeats.
Usage: python scripts/bench_memory_format.py --models cnn_small,resnet20 --repeats 5
"""

from __future__ import annotations

import argparse
import copy
import functools
import statistics

import torch
import torch.nn.functional as F

from bench_common import once, start, table
from ridgeline.models import build_model

MODELS = {
    "cnn_small": ("cnn", (1, 28, 28), {"depth": 2, "width": [16, 32]}),
    "cnn": ("cnn", (1, 28, 28), {}),
    "resnet20": ("resnet20", (3, 32, 32), {}),
    "vgg16": ("vgg16", (3, 32, 32), {}),
}


def train_steps(model, opt, x, y, steps: int) -> None:
    """``steps`` SGD steps of mean cross-entropy on one batch."""
    model.train()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()


def eval_pass(model, x) -> None:
    """One forward pass in eval mode without autograd."""
    model.eval()
    with torch.no_grad():
        model(x)


def main() -> None:
    """Run the benchmark and print the ratio table; the last line is the headline ratio."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", default="cnn_small,resnet20", help=f"from {', '.join(MODELS)}")
    ap.add_argument("--batch-size", type=int, default=128, help="training batch")
    ap.add_argument("--eval-size", type=int, default=500, help="examples per evaluation pass")
    ap.add_argument("--steps", type=int, default=3, help="training steps per timing")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: default)")
    args = ap.parse_args()
    start(args.threads)
    rows, heads = [], []
    for name in args.models.split(","):
        arch, shape, kwargs = MODELS[name]
        torch.manual_seed(0)
        base = build_model(arch, shape, 10, **kwargs)
        x = torch.randn(args.eval_size, *shape)
        y = torch.randint(0, 10, (args.eval_size,))
        xb, yb = x[: args.batch_size], y[: args.batch_size]
        runs = {}
        for fmt in ("nchw", "channels_last"):
            model = copy.deepcopy(base)
            if fmt == "channels_last":
                model = model.to(memory_format=torch.channels_last)
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            train = functools.partial(train_steps, model, opt, xb, yb, args.steps)
            evaluate = functools.partial(eval_pass, model, x)
            train(), evaluate()  # warm-up
            runs[fmt] = {"train": train, "eval": evaluate}
        timings: dict[str, dict[str, list[float]]] = {
            what: {fmt: [] for fmt in runs} for what in ("train", "eval")
        }
        for r in range(args.repeats):  # both formats back to back, order alternating
            for fmt in list(runs)[:: 1 if r % 2 == 0 else -1]:
                for what, fn in runs[fmt].items():
                    steps = args.steps if what == "train" else 1
                    timings[what][fmt].append(once(fn) / steps)
        for what, t in timings.items():
            nchw, last = statistics.median(t["nchw"]), statistics.median(t["channels_last"])
            label = f"{name}: {what} s, channels-last vs NCHW"
            rows.append((label, last, nchw, nchw / last))
            heads.append(f"{name} {what} {nchw / last:.2f}x")
    table(rows, "headline: NCHW time / channels-last time = " + ", ".join(heads))


if __name__ == "__main__":
    main()
