"""Benchmark the landscape core against a plain-PyTorch floor (docs/design.md §8).

Floor(K) = K plain eval forward passes (model(x) + cross_entropy + argmax under no_grad) over the
same tensors in the same chunks. Ratios: full-network K-point barrier curve / Floor(K); layer-wise
sweep over all layers (into A and into B) / (n_layers × Floor(P)), P = parameter sets per layer.
Medians over repeats. Usage: python scripts/bench_landscape.py --n-examples 10000 --points 25
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from bench_common import add_threads_arg, per_thread_count, quickstart_cnn, start
from ridgeline.landscape import (
    Evaluator,
    barrier_curve,
    layer_groups,
    layerwise_barriers,
    state_of,
)


def make_mlp() -> nn.Sequential:
    """LeNet-300-100 as an nn.Sequential."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 300),
        nn.ReLU(),
        nn.Linear(300, 100),
        nn.ReLU(),
        nn.Linear(100, 10),
    )


def make_cnn() -> nn.Sequential:
    """Two strided 3x3 conv layers + linear classifier as an nn.Sequential."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 7 * 7, 10),
    )


MODELS: dict[str, Callable[[], nn.Sequential]] = {
    "mlp": make_mlp,
    "cnn": make_cnn,
    "cnn_small": quickstart_cnn,
}


def floor(model: nn.Module, x: torch.Tensor, y: torch.Tensor, points: int, chunk: int) -> None:
    """``points`` plain forward passes over the same chunks (the reference floor)."""
    model.eval()
    with torch.no_grad():
        for i in range(0, len(x), chunk):
            xc, yc = x[i : i + chunk], y[i : i + chunk]
            for _ in range(points):
                out = model(xc)
                F.cross_entropy(out, yc, reduction="sum").item()
                (out.argmax(1) != yc).sum().item()


def _once(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def paired(
    fn: Callable[[], object], ref: Callable[[], object], scale: float, repeats: int
) -> tuple[float, float, float]:
    """Median time of fn, of ref, and median per-repeat ratio fn / (scale × ref).

    fn and ref alternate within each repeat so that both see the same machine load.
    """
    ts, rs, ratios = [], [], []
    for _ in range(max(1, repeats)):
        t, r = _once(fn), _once(ref)
        ts.append(t)
        rs.append(r)
        ratios.append(t / (scale * r))
    return statistics.median(ts), statistics.median(rs), statistics.median(ratios)


def main() -> None:
    """Run the benchmark and print the ratio table; the last line is the headline ratio."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-examples", type=int, default=10000)
    ap.add_argument("--points", type=int, default=25)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--models", default="mlp,cnn", help="of mlp, cnn, cnn_small (quickstart)")
    ap.add_argument("--chunk-size", type=int, default=2000)
    ap.add_argument("--lw-repeats", type=int, default=3, help="repeats, layer-wise midpoint")
    ap.add_argument("--lw-curve-repeats", type=int, default=1, help="repeats, layer-wise curve")
    ap.add_argument("--variants", action="store_true", help="also time forced vmap / loop")
    add_threads_arg(ap, "1,2")
    args = ap.parse_args()
    start(per_thread_count(args.threads))

    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.n_examples, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (args.n_examples,), generator=g)
    k = args.points
    alphas = [i / (k - 1) for i in range(k)]
    cs = args.chunk_size
    print(f"n={args.n_examples}, K={k}, chunk={cs}, repeats={args.repeats}")
    rows: list[tuple[str, str, float, float, float]] = []
    headline: list[str] = []
    for name in args.models.split(","):
        torch.manual_seed(1)
        a, b = MODELS[name](), MODELS[name]()
        ta, tb = state_of(a), state_of(b)
        n_layers = len([gr for gr in layer_groups(a) if gr.param_names])

        def ref(points: int, model: nn.Module = a) -> Callable[[], None]:
            return lambda: floor(model, x, y, points, cs)

        variants = [("auto", {})]
        if args.variants:
            variants += [("vmap", {"use_vmap": True}), ("loop", {"use_vmap": False})]
        for label, kw in variants:
            ev = Evaluator(a, x[:cs], y[:cs], chunk_size=cs, **kw)
            barrier_curve(ev, ta, tb, alphas)  # warm-up
            ev = Evaluator(a, x, y, chunk_size=cs, **kw)
            t, r, ratio = paired(
                lambda ev=ev, ta=ta, tb=tb: barrier_curve(ev, ta, tb, alphas),
                ref(k),
                1.0,
                args.repeats,
            )
            rows.append((name, f"curve K={k} {label} (path {ev.last_path})", t, r, ratio))
            if label == "auto":
                headline.append(f"{name} {ratio:.3f} ({ev.last_path})")
        lw_modes = [("midpoint", [0.0, 0.5, 1.0], args.lw_repeats, (True, False))]
        lw_modes.append((f"curve K={k}", alphas, args.lw_curve_repeats, (True,)))
        for mode, grid, reps, prefixes in lw_modes:
            per_layer = 2 * (len(grid) - 1)  # distinct parameter sets per layer, both directions
            for pr in prefixes:
                ev = Evaluator(a, x, y, chunk_size=cs, prefix_reuse=pr)
                t, r, ratio = paired(
                    lambda ev=ev, grid=grid, ta=ta, tb=tb: layerwise_barriers(
                        ev, ta, tb, alphas=grid
                    ),
                    ref(per_layer),
                    n_layers,
                    reps,
                )
                what = f"layerwise {mode} {'prefix' if pr else 'no-prefix'}"
                rows.append((name, f"{what} ({n_layers}x{per_layer} sets)", t, n_layers * r, ratio))
    print(f"{'model':6} {'what':46} {'time s':>8} {'floor s':>8} {'ratio':>6}")
    for r in rows:
        print(f"{r[0]:6} {r[1]:46} {r[2]:8.3f} {r[3]:8.3f} {r[4]:6.3f}")
    print(f"headline: full-network {k}-point barrier curve / floor = " + ", ".join(headline))


if __name__ == "__main__":
    main()
