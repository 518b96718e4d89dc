"""Per-layer curvature / whole-network prediction on the quickstart's CNN (issue 25, target ≤ 3).

Times ``taylor_prediction(layerwise=True, endpoints=False)`` (the quickstart's curvature probe:
the whole-network term plus −⅛Δ_ℓᵀH_ℓℓΔ_ℓ at θ_½ and at θ^{ℓ,½} for every layer) against
``layerwise=False`` (the whole-network prediction alone), paired: both back to back per repeat,
order alternating, the median of per-repeat ratios. ``--baseline REV`` also times the same
calls with ``landscape/curvature.py`` as of git revision REV (the code before a change) in the
same process and checks that both give the same numbers. ``--modes`` compares, for ΔᵀH(θ_½)Δ
over all parameters, nested forward-mode jvp against ⟨Δ, H Δ⟩ by forward-over-reverse.

Usage: python scripts/bench_curvature.py --threads 1,2 --repeats 7 [--baseline 9f64453~1] [--modes]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from bench_common import (
    add_threads_arg,
    moved_children,
    once,
    per_thread_count,
    quickstart_cnn,
    start,
    table,
)
from ridgeline.config.builds import data_module
from ridgeline.landscape import Evaluator, delta, lerp, state_of, taylor_prediction

REPO = Path(__file__).resolve().parents[1]


def quickstart_pair(device: str = "cpu", width: tuple[int, int] = (16, 32)):
    """The quickstart's CNN (conf/model/cnn_small.yaml, channels-last) and two moved children."""
    torch.manual_seed(0)
    model = quickstart_cnn(width)
    kids = moved_children(model)
    model, kids = model.to(device), [k.to(device) for k in kids]
    return model, state_of(kids[0]), state_of(kids[1])


def load_revision(rev: str):
    """landscape/curvature.py as of git revision ``rev``, imported as a separate module."""
    src = subprocess.run(
        ["git", "show", f"{rev}:src/ridgeline/landscape/curvature.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "curvature_baseline.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("curvature_baseline", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def terms(rec) -> list[float]:
    return [rec.loss_mid, rec.dHd_mid] + [
        v for lc in rec.layers for v in (lc.dHd_single_mid, lc.dHd_full_mid)
    ]


def modes(ev: Evaluator, a: dict, b: dict, repeats: int) -> tuple[str, float, float, float]:
    """ΔᵀH(θ_½)Δ: forward-over-reverse ⟨Δ, HΔ⟩ vs nested forward-mode jvp (a table row)."""
    from ridgeline.landscape.curvature import model_directional_derivatives, model_hvp
    from ridgeline.landscape.params import dot

    th = ev.prepare([lerp(a, b, 0.5)])[0]
    d = {k: v for k, v in delta(a, b).items() if k in dict(ev.template.named_parameters())}
    fwd = lambda: model_directional_derivatives(ev, th, d, prepared=True)[2]  # noqa: E731
    rev = lambda: dot(d, model_hvp(ev, th, d))  # noqa: E731
    x, y = fwd(), rev()
    print(f"dHd nested jvp {x:.8g}, forward-over-reverse {y:.8g}")
    tf, tr, ratios = [], [], []
    for r in range(repeats):
        pair = [(fwd, tf), (rev, tr)]
        for fn, acc in pair if r % 2 == 0 else pair[::-1]:
            acc.append(once(fn))
        ratios.append(tr[-1] / tf[-1])
    med = statistics.median
    return ("dHd: forward-over-reverse / nested jvp (s)", med(tr), med(tf), med(ratios))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-test", type=int, default=500, help="test examples (README: 500)")
    ap.add_argument("--chunk-size", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--baseline", default=None, help="git revision of curvature.py to compare")
    ap.add_argument("--modes", action="store_true", help="nested jvp vs forward-over-reverse")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--width", default="16,32", help="conv widths (tiny runs: 4,8)")
    add_threads_arg(ap, "1")
    args = ap.parse_args()
    start(per_thread_count(args.threads))
    width = tuple(int(w) for w in args.width.split(","))
    model, a, b = quickstart_pair(args.device, width)  # type: ignore[arg-type]
    dm = data_module("mnist_mini", eval_train_size=100, eval_test_size=args.n_test)
    dm.setup()
    x, y = dm.eval_tensors("test")
    ev = Evaluator(model, x.to(args.device), y.to(args.device), chunk_size=args.chunk_size)
    impls = {"now": taylor_prediction}
    if args.baseline:
        impls[args.baseline] = load_revision(args.baseline).taylor_prediction
    calls = {}
    for name, fn in impls.items():
        calls[name, "layer"] = lambda fn=fn: fn(ev, a, b, layerwise=True, endpoints=False)
        calls[name, "whole"] = lambda fn=fn: fn(ev, a, b, layerwise=False, endpoints=False)
    recs = {k: c() for k, c in calls.items()}  # warm-up: evaluation paths measured here
    if args.baseline:
        now, base = terms(recs["now", "layer"]), terms(recs[args.baseline, "layer"])
        diff = max(abs(p - q) / max(abs(q), 1e-30) for p, q in zip(now, base, strict=True))
        print(f"largest relative difference to {args.baseline}: {diff:.3g}")
    print("paths:", {f"{k[0]}/{k[1]}": r.eval_path for k, r in recs.items()})
    times: dict = {k: [] for k in calls}
    order = list(calls)
    for r in range(args.repeats):
        for k in order if r % 2 == 0 else order[::-1]:
            times[k].append(once(calls[k]))
    med = statistics.median
    rows = []
    for name in impls:
        lt, wt = times[name, "layer"], times[name, "whole"]
        ratio = med(p / q for p, q in zip(lt, wt, strict=True))
        rows.append((f"{name}: per-layer / whole-network prediction (s)", med(lt), med(wt), ratio))
    if args.baseline:
        lt, bt = times["now", "layer"], times[args.baseline, "layer"]
        ratio = med(p / q for p, q in zip(bt, lt, strict=True))
        rows.append((f"per-layer: {args.baseline} / now (speed-up)", med(bt), med(lt), ratio))
    if args.modes:
        rows.append(modes(ev, a, b, args.repeats))
    table(rows, f"headline: per-layer / whole-network = {rows[0][3]:.3f} ({args.n_test} examples)")


if __name__ == "__main__":
    sys.exit(main())
