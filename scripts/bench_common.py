"""Shared helpers of the bench_*.py scripts: paired timings and the ratio table."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence


def load() -> str:
    """The 1/5/15-minute load averages and the core count (timings on a shared machine)."""
    la = os.getloadavg()
    return f"load {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} on {os.cpu_count()} cores"


def add_training_args(ap) -> None:
    """The options the training benchmarks share: warm-up steps, batch size, repeats, threads."""
    ap.add_argument("--warmup", type=int, default=10, help="steps before the clock starts")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    add_threads_arg(ap)


def add_threads_arg(ap, default: str = "1") -> None:
    """``--threads 1,2``: one run per intra-op thread count, each in its own process."""
    ap.add_argument(
        "--threads",
        default=default,
        help="comma-separated torch intra-op thread counts (0: torch's default); with several, "
        "each runs in a subprocess with OMP_NUM_THREADS set",
    )


def per_thread_count(threads: str) -> int:
    """The single thread count to run in this process, after re-running for several.

    With several counts in ``threads`` the script runs itself once per count in a subprocess
    (``--threads N``, OMP_NUM_THREADS=N), prints each output and, last, each run's headline
    prefixed by its thread count, then exits. With one count it returns it.
    """
    counts = [int(t) for t in threads.split(",")]
    if len(counts) == 1:
        return counts[0]
    argv = list(sys.argv[1:])
    for i, arg in enumerate(argv):
        if arg.startswith("--threads"):
            del argv[i : i + (1 if "=" in arg else 2)]
            break
    headlines = []
    for n in counts:
        env = dict(os.environ)
        if n:
            env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(n)
        else:
            env.pop("OMP_NUM_THREADS", None)
            env.pop("MKL_NUM_THREADS", None)
        cmd = [sys.executable, sys.argv[0], *argv, "--threads", str(n)]
        print(f"$ OMP_NUM_THREADS={n or 'unset'} {' '.join(cmd[1:])}", flush=True)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        print(done.stdout, end="", flush=True)
        if done.returncode != 0:
            print(done.stderr[-4000:])
            raise SystemExit(f"the run with {n} threads failed (exit {done.returncode})")
        last = [line for line in done.stdout.splitlines() if line.startswith("headline")]
        headlines.append(f"{n or 'default'} threads: {last[-1] if last else '(no headline)'}")
    print(load())
    for line in headlines:
        print(line)
    raise SystemExit(0)


def start(threads: int) -> None:
    """Quiet Lightning, set torch's intra-op threads (0: default) and print the header line."""
    import logging
    import warnings

    import torch

    for name in ("pytorch_lightning", "lightning.pytorch"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    if threads:
        torch.set_num_threads(threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {load()}")


def once(fn: Callable[[], object]) -> float:
    """Wall time of one call."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def paired(
    method: Callable[[], object], floor: Callable[[], object], repeats: int
) -> tuple[float, float, float]:
    """Median time of method, of floor, and the median of per-repeat ratios method / floor.

    Both run back to back within each repeat (order alternating), so each ratio compares runs
    under the same machine load.
    """
    ts, fs, ratios = [], [], []
    for r in range(max(1, repeats)):
        if r % 2 == 0:
            t, f = once(method), once(floor)
        else:
            f, t = once(floor), once(method)
        ts.append(t)
        fs.append(f)
        ratios.append(t / f)
    return statistics.median(ts), statistics.median(fs), statistics.median(ratios)


def throughput_row(
    what: str, times: dict[str, list[float]], a: str, b: str, examples: int
) -> tuple[str, float, float, float]:
    """(what, examples/s of a, of b, median over repeats of time_b / time_a): a table row.

    ``times[k]`` holds one wall time per repeat; repeat i of a and b ran under the same load.
    """
    ta, tb = statistics.median(times[a]), statistics.median(times[b])
    ratio = statistics.median(y / x for x, y in zip(times[a], times[b], strict=True))
    return what, examples / ta, examples / tb, ratio


def table(rows: list[tuple[str, float, float, float]], headline: str) -> None:
    """Print rows (what, method, floor, ratio) and the headline as the last line."""
    print(f"{'what':58} {'method':>10} {'floor':>10} {'ratio':>7}")
    for what, t, f, ratio in rows:
        print(f"{what:58} {t:10.4g} {f:10.4g} {ratio:7.3f}")
    print(headline)


# ---------------------------------------------------------------------------------------------
# Training: ridgeline's path (ReplicaClassifier + Trainer + tensor data module) and a plain loop


def timed_fit(
    replicas, datamodule, optimizer, steps: int, warmup: int, accelerator: str = "cpu"
) -> float:
    """Seconds of ``steps`` optimiser steps of ridgeline's training path after ``warmup`` steps.

    ReplicaClassifier trained by a Lightning Trainer on the data module's StreamLoader; the clock
    starts at the first measured batch and stops after the last one (setup not counted).
    """
    from ridgeline.training.module import ReplicaClassifier

    module = ReplicaClassifier(replicas, optimizer, num_classes=10)
    clock = make_clock(warmup)
    _trainer(warmup + steps, clock, accelerator).fit(module, datamodule=datamodule)
    return clock.t1 - clock.t0


def _trainer(max_steps: int, clock, accelerator: str = "cpu"):
    """A Trainer with only ``clock``: no logger, checkpoints, progress bar or validation."""
    import pytorch_lightning as pl

    return pl.Trainer(
        accelerator=accelerator,
        devices=1,
        max_steps=max_steps,
        max_epochs=-1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        callbacks=[clock],
    )


def _sync(module) -> None:
    """Wait for the module's CUDA device (asynchronous kernels) before reading the clock."""
    if module.device.type == "cuda":
        import torch

        torch.cuda.synchronize(module.device)


def make_clock(warmup: int):
    """A callback timing from the first batch after ``warmup`` steps to the last batch's end."""
    import pytorch_lightning as pl

    class Clock(pl.Callback):
        t0 = t1 = 0.0

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            if trainer.global_step == warmup:
                _sync(pl_module)
                self.t0 = time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            if pl_module.device.type != "cuda":  # on CUDA: once at the end, no sync per step
                self.t1 = time.perf_counter()

        def on_train_end(self, trainer, pl_module) -> None:
            if pl_module.device.type == "cuda":
                _sync(pl_module)
                self.t1 = time.perf_counter()

    return Clock()


def timed_bare_lightning(model, x, y, batch_size: int, optimizer, steps: int, warmup: int) -> float:
    """Seconds of ``steps`` steps of the thinnest LightningModule: Lightning's own per-step cost.

    ``training_step`` returns the mean cross-entropy of one model on a batch indexed as in
    :func:`timed_loop`; no scheduler, logging, callbacks (but the clock) or checkpointing.
    """
    import pytorch_lightning as pl
    import torch
    import torch.nn.functional as F

    class Batches:
        def __len__(self) -> int:
            return len(x) // batch_size

        def __iter__(self):
            perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
            for b in range(len(self)):
                idx = perm[b * batch_size : (b + 1) * batch_size]
                yield x[idx], y[idx]

    class Bare(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def training_step(self, batch, batch_idx):
            xb, yb = batch
            return F.cross_entropy(self.model(xb), yb)

        def configure_optimizers(self):
            return optimizer(self.parameters())

    clock = make_clock(warmup)
    _trainer(warmup + steps, clock).fit(Bare(), train_dataloaders=Batches())
    return clock.t1 - clock.t0


def timed_loop(models, x, y, batch_size: int, optimizer, steps: int, warmup: int) -> float:
    """Seconds of ``steps`` steps of a hand-written loop training ``models`` in lockstep.

    Each model gets its own permutation of the same tensors (one per epoch), forward, mean
    cross-entropy, backward and one optimiser step; no host synchronisation per step.
    """
    import torch
    import torch.nn.functional as F

    opts = [optimizer(m.parameters()) for m in models]
    gens = [torch.Generator().manual_seed(i) for i in range(len(models))]
    per_epoch = len(x) // batch_size
    perms: list = []
    t0 = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            t0 = time.perf_counter()
        b = step % per_epoch
        if b == 0:
            perms = [torch.randperm(len(x), generator=g) for g in gens]
        for m, opt, perm in zip(models, opts, perms, strict=True):
            idx = perm[b * batch_size : (b + 1) * batch_size]
            loss = F.cross_entropy(m(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return time.perf_counter() - t0


def quickstart_cnn(width: Sequence[int] | None = None):
    """The quickstart's CNN as ``conf/model/cnn_small.yaml`` builds it for mnist_mini (conv
    weights channels-last); ``width`` replaces its channel widths (tiny runs)."""
    from importlib.resources import files

    from omegaconf import OmegaConf

    from ridgeline.models import build_model

    path = files("ridgeline") / "conf" / "model" / "cnn_small.yaml"
    cfg = OmegaConf.to_container(OmegaConf.load(str(path)))
    kwargs = {k: v for k, v in cfg.items() if k not in ("_target_", "input_shape", "num_classes")}
    if width is not None:
        kwargs["width"] = list(width)
    return build_model(input_shape=(1, 28, 28), num_classes=10, **kwargs)


def shipped_model(config: str, input_shape=(1, 28, 28), num_classes: int = 10):
    """The model of ``conf/model/<config>.yaml`` (e.g. ``vit_tiny``) built for mnist_mini."""
    from importlib.resources import files

    from omegaconf import OmegaConf

    from ridgeline.models import build_model

    path = files("ridgeline") / "conf" / "model" / f"{config}.yaml"
    cfg = OmegaConf.to_container(OmegaConf.load(str(path)))
    drop = ("_target_", "input_shape", "num_classes", "defaults")
    kwargs = {k: v for k, v in cfg.items() if k not in drop}
    return build_model(input_shape=input_shape, num_classes=num_classes, **kwargs)


def moved_children(model, n: int = 2, scale: float = 0.05, seed: int = 1) -> list:
    """``n`` copies of ``model`` whose parameters moved by ``scale`` · N(0, 1) (one seeded
    generator, children in turn): children that moved apart from a spawn point."""
    import copy

    import torch

    kids = [copy.deepcopy(model) for _ in range(n)]
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for kid in kids:
            for p in kid.parameters():
                p.add_(scale * torch.randn(p.shape, generator=g))
    return kids
