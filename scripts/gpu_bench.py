"""The benchmark half of scripts/gpu_check.sh: lockstep training and probe ratios on one device.

Sections (each a dict of finite numbers in the JSON; ratios > 1 favour the second-named path):
- ``lockstep``: ResNet-20 on generated CIFAR-10-format data (random uint8 3×32×32 images
  through ridgeline's CIFAR-10 data module: normalisation, augmentation, streams), children
  1/2/4/8 trained in lockstep by ridgeline's ReplicaClassifier and a Lightning Trainer:
  optimiser steps per second per child, and each N's per-child rate over N = 1's.
- ``vit_lockstep``: the same for the ViT CIFAR-10 set-up (``conf/model/vit_cifar``, AdamW),
  children 1/2/4.
- ``probe``: a barrier curve by the loop and by vmap over parameter sets (Evaluator pinned to
  each; loop time / vmap time), and the quickstart's curvature probe (per-layer / whole-network
  prediction, ``taylor_prediction``).
- ``bf16``: an eval forward pass of ResNet-20 in float32 and under ``torch.autocast(bfloat16)``
  (fp32 time / bf16 time).
- ``channels_last``: ResNet-20 training step and eval pass, NCHW time / channels-last time.
``--record key=value`` adds the shell's timings (install, tests, main job) under ``shell``.

Usage: python scripts/gpu_bench.py --device cuda --out gpu_check.json [--tiny] [--record k=v ...]
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import math
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from bench_common import load, start, timed_fit
from bench_curvature import quickstart_pair
from bench_memory_format import eval_pass, train_steps


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device: str) -> float:
    """Wall time of one call, the device synchronised before and after."""
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def paired(a, b, device: str, repeats: int) -> tuple[float, float, float]:
    """Median times of a and b (back to back, order alternating) and median of time_a / time_b."""
    ta, tb, ratios = [], [], []
    for r in range(repeats):
        if r % 2 == 0:
            x, y = timed(a, device), timed(b, device)
        else:
            y, x = timed(b, device), timed(a, device)
        ta.append(x)
        tb.append(y)
        ratios.append(x / y)
    med = statistics.median
    return med(ta), med(tb), med(ratios)


def lockstep(args, device: str) -> dict:
    """ResNet-20 children 1/2/4/8 in lockstep on generated CIFAR-10 files: steps/s per child."""
    from ridgeline.models import build_model

    opt = functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9, weight_decay=1e-4)
    torch.manual_seed(0)
    parent = build_model("resnet20", (3, 32, 32), 10, channels_last=True)
    return children_rates(args, device, parent, opt, args.children, "lockstep")


def vit_lockstep(args, device: str) -> dict:
    """The ViT CIFAR-10 set-up (conf/model/vit_cifar, AdamW lr 3e-4, wd 1e-3, per-child clipping
    off as in conf/experiment/vit_cifar10_instability) with 1/2/4 children: steps/s per child."""
    from bench_common import shipped_model

    opt = functools.partial(torch.optim.AdamW, lr=3e-4, weight_decay=1e-3)
    torch.manual_seed(0)
    parent = shipped_model("vit_cifar", input_shape=(3, 32, 32))
    if args.tiny:  # the CPU dry run: the same code on a 1-block, width-16 ViT
        from ridgeline.models import build_model

        parent = build_model("vit", (3, 32, 32), 10, patch_size=8, dim=16, depth=1, heads=2)
    return children_rates(args, device, parent, opt, args.children[:3], "vit_lockstep")


def children_rates(args, device: str, parent, opt, children: list[int], label: str) -> dict:
    """``parent``'s copies trained in lockstep by ridgeline's ReplicaClassifier on generated
    CIFAR-10 files, for each count in ``children``: optimiser steps per second per child."""
    from ridgeline.config.builds import data_config
    from ridgeline.data import CIFAR10DataModule, StreamSeeds

    n_train = args.cifar_train

    class GeneratedCIFAR10(CIFAR10DataModule):
        """ridgeline's CIFAR-10 module (normalisation, augmentation, streams) on generated
        uint8 images in CIFAR-10's layout instead of torchvision's files."""

        def check_available(self) -> None:
            pass

        def load(self):
            g = torch.Generator().manual_seed(0)
            images = torch.randint(0, 256, (n_train + 100, 3, 32, 32), generator=g)
            labels = torch.randint(0, 10, (n_train + 100,), generator=g)
            images = images.to(torch.uint8)
            return images[:n_train], labels[:n_train], images[n_train:], labels[n_train:]

    accelerator = "gpu" if device.startswith("cuda") else "cpu"
    out: dict = {"batch_size": args.batch_size, "steps": args.steps}
    rates = {}
    for n in children:
        settings = dict(
            data_config(
                "cifar10",
                root=tempfile.gettempdir(),
                download=False,
                batch_size=args.batch_size,
                device_resident=device.startswith("cuda"),
            )
        )
        settings.pop("_target_")
        dm = GeneratedCIFAR10(**settings)
        dm.setup()
        dm.set_streams([StreamSeeds(i, i) for i in range(n)])
        kids = [copy.deepcopy(parent) for _ in range(n)]
        seconds = timed_fit(kids, dm, opt, args.steps, args.warmup, accelerator)
        rates[n] = args.steps / seconds
        print(f"{label}: {n} children, {rates[n]:.2f} steps/s per child", flush=True)
    out["steps_per_s_per_child"] = {str(n): r for n, r in rates.items()}
    first = rates[children[0]]
    out["per_child_rate_over_1"] = {str(n): r / first for n, r in rates.items()}
    out["total_rate_over_1"] = {str(n): n * r / first for n, r in rates.items()}
    return out


def probe(args, device: str) -> dict:
    """Barrier curve loop vs vmap, and the curvature probe's per-layer / whole ratio."""
    from ridgeline.config.builds import data_module
    from ridgeline.landscape import Evaluator, barrier_curve, taylor_prediction

    width = (4, 8) if args.tiny else (16, 32)
    model, a, b = quickstart_pair(device, width)
    dm = data_module("mnist_mini", eval_train_size=100, eval_test_size=args.n_eval)
    dm.setup()
    x, y = (t.to(device) for t in dm.eval_tensors("test"))
    alphas = [i / 24 for i in range(25)]
    loop = Evaluator(model, x, y, chunk_size=args.chunk_size, use_vmap=False)
    vmap = Evaluator(model, x, y, chunk_size=args.chunk_size, use_vmap=True)
    run_loop = lambda: barrier_curve(loop, a, b, alphas=alphas)  # noqa: E731
    run_vmap = lambda: barrier_curve(vmap, a, b, alphas=alphas)  # noqa: E731
    c_loop, c_vmap = run_loop(), run_vmap()  # warm-up
    diff = max(abs(p - q) for p, q in zip(c_loop.loss, c_vmap.loss, strict=True))
    t_loop, t_vmap, r_curve = paired(run_loop, run_vmap, device, args.repeats)
    ev = Evaluator(model, x, y, chunk_size=args.chunk_size)
    layer = lambda: taylor_prediction(ev, a, b, layerwise=True, endpoints=False)  # noqa: E731
    whole = lambda: taylor_prediction(ev, a, b, layerwise=False, endpoints=False)  # noqa: E731
    layer(), whole()
    t_layer, t_whole, r_layer = paired(layer, whole, device, args.repeats)
    return {
        "n_examples": args.n_eval,
        "curve_loop_s": t_loop,
        "curve_vmap_s": t_vmap,
        "curve_loop_over_vmap": r_curve,
        "curve_loss_max_abs_diff": diff,
        "curvature_per_layer_s": t_layer,
        "curvature_whole_s": t_whole,
        "curvature_per_layer_over_whole": r_layer,
    }


def resnet_inputs(args, device: str, channels_last: bool = False):
    from ridgeline.models import build_model

    torch.manual_seed(0)
    model = build_model("resnet20", (3, 32, 32), 10).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    x = torch.randn(args.n_eval, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (args.n_eval,), device=device)
    return model, x, y


def bf16(args, device: str) -> dict:
    """ResNet-20 eval forward in float32 vs under bf16 autocast."""
    model, x, _ = resnet_inputs(args, device)
    model.eval()
    kind = "cuda" if device.startswith("cuda") else "cpu"

    def fp32() -> None:
        with torch.no_grad():
            model(x)

    def half() -> None:
        with torch.no_grad(), torch.autocast(kind, dtype=torch.bfloat16):
            model(x)

    fp32(), half()
    with torch.no_grad():
        ref = model(x)
        with torch.autocast(kind, dtype=torch.bfloat16):
            low = model(x).float()
    t32, t16, ratio = paired(fp32, half, device, args.repeats)
    return {
        "eval_fp32_s": t32,
        "eval_bf16_s": t16,
        "eval_fp32_over_bf16": ratio,
        "logits_max_abs_diff": float((ref - low).abs().max()),
    }


def channels_last(args, device: str) -> dict:
    """ResNet-20 training step and eval pass, NCHW vs channels-last (same initial weights)."""
    out = {}
    runs = {}
    for fmt, cl in (("nchw", False), ("channels_last", True)):
        model, x, y = resnet_inputs(args, device, cl)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        xb, yb = x[: args.batch_size], y[: args.batch_size]
        runs[fmt] = (
            functools.partial(train_steps, model, opt, xb, yb, args.steps),
            functools.partial(eval_pass, model, x),
        )
        runs[fmt][0](), runs[fmt][1]()  # warm-up
    for i, what in enumerate(("train", "eval")):
        tn, tc, ratio = paired(runs["nchw"][i], runs["channels_last"][i], device, args.repeats)
        out[f"{what}_nchw_s"], out[f"{what}_channels_last_s"] = tn, tc
        out[f"{what}_nchw_over_channels_last"] = ratio
    return out


def finite(obj: object) -> bool:
    """Every number in a nested dict is finite."""
    if isinstance(obj, dict):
        return all(finite(v) for v in obj.values())
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        return math.isfinite(obj)
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", required=True, help="the JSON to write")
    ap.add_argument("--tiny", action="store_true", help="tiny sizes (the CPU dry run)")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: default)")
    ap.add_argument("--record", action="append", default=[], help="key=number, under 'shell'")
    args = ap.parse_args()
    tiny = args.tiny
    args.children = [1, 2, 4, 8]
    args.batch_size = 4 if tiny else 128
    args.steps = 2 if tiny else 50
    args.warmup = 1 if tiny else 10
    args.cifar_train = 64 if tiny else 10000
    args.n_eval = 64 if tiny else 2000
    args.chunk_size = 64 if tiny else 1000
    args.repeats = 3 if tiny else 7
    start(args.threads)
    device = args.device
    result: dict = {
        "meta": {
            "device": torch.cuda.get_device_name() if device.startswith("cuda") else "cpu",
            "torch": torch.__version__,
            "python": platform.python_version(),
            "threads": torch.get_num_threads(),
            "tiny": tiny,
            "load": load(),
        }
    }
    shell = {}
    for item in args.record:
        key, _, value = item.partition("=")
        shell[key] = float(value)
    result["shell"] = shell
    for name, fn in (
        ("lockstep", lockstep),
        ("vit_lockstep", vit_lockstep),
        ("probe", probe),
        ("bf16", bf16),
        ("channels_last", channels_last),
    ):
        t0 = time.perf_counter()
        result[name] = fn(args, device)
        result[name]["section_s"] = time.perf_counter() - t0
        print(f"{name}: {json.dumps(result[name])}", flush=True)
    result["all_finite"] = finite(result)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    if not result["all_finite"]:
        raise SystemExit("a measured number is not finite")


if __name__ == "__main__":
    main()
