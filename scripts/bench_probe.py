"""One probe point with the default probe set vs a forward-pass floor and a naive implementation.

Issue 7, item 3. The probe = ridgeline's default components (BarrierProbe over 25 α,
LayerwiseProbe(cumulative), CurvatureProbe(layerwise), GeometryProbe with 11-point profiles)
on two children and their spawn point, over the train subset and the test split, exactly as the
LandscapeProbe callback calls them (Evaluators built inside the timing, BN policy ``reset``).

Floor = P plain eval forward passes (model(x), cross-entropy, argmax, no grad) over the same
tensors per split, P = every parameter set whose loss the record reports (25 barrier points;
2 × entries × 2 layer-wise sets + the 2 endpoints; 2 × 11 profile points) + 3 per directional
second derivative ΔᵀHΔ (3 + 2 × layers of them, and the ridge's at α*: value, first and second
order ≥ 3 passes).

Naive = what public layer-wise LMC code does: for every α (and every layer-wise set, profile
point) load the interpolated state into a model and loop a DataLoader; ΔᵀHΔ by double backward
(Hessian-vector product, then dot with Δ) per term, looping the DataLoader again.

Ratios: probe / floor (≥ 1; the closer to 1 the better) and naive / probe (speed-up).
Usage: python scripts/bench_probe.py --models mlp,cnn_small --threads 1,2 --repeats 3 [--naive]
"""

from __future__ import annotations

import argparse
import copy
import statistics

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from bench_common import (
    add_threads_arg,
    moved_children,
    once,
    per_thread_count,
    quickstart_cnn,
    shipped_model,
    start,
    table,
)
from ridgeline.config.builds import data_module
from ridgeline.landscape import Evaluator, lerp, lerp_groups, state_of
from ridgeline.landscape.grouping import grouped_layers
from ridgeline.models import build_model
from ridgeline.probes import (
    BarrierProbe,
    CurvatureProbe,
    GeometryProbe,
    LayerwiseProbe,
    ProbeContext,
)

ALPHAS = [i / 24 for i in range(25)]
PROFILE = [i / 10 for i in range(11)]


def probe_point(model, states, spawn, splits, bn, chunk, reduce=None) -> dict:
    """The default probe set at one probe point, as LandscapeProbe runs it."""
    evaluators = {
        k: Evaluator(model, x, y, chunk_size=chunk, bn_policy="reset", bn_batches=bn)
        for k, (x, y) in splits.items()
    }
    ctx = ProbeContext(
        template=model,
        states=states,
        spawn_state=spawn,
        evaluators=evaluators,
        groups=probe_groups(model),
        alphas=ALPHAS,
        profile_alphas=PROFILE,
        reduce=reduce,
    )
    comps = [BarrierProbe(), LayerwiseProbe(False, True), CurvatureProbe(True), GeometryProbe()]
    return {c.key: c.compute(ctx, 0, 1) for c in comps}


def probe_groups(model: nn.Module) -> list:
    """The layers the callback probes (``probe.layer_groups=auto``: the ViT's sub-layers)."""
    return [g for g in grouped_layers(model) if g.param_names]


def recorded_paths(record: object, where: str = "") -> dict[str, str]:
    """Every ``eval_path`` in a probe record, keyed by where it sits (component.split...)."""
    out: dict[str, str] = {}
    if isinstance(record, dict):
        for key, value in record.items():
            if key == "eval_path":
                out[where] = value
            else:
                out.update(recorded_paths(value, f"{where}.{key}" if where else str(key)))
    return out


def floor_passes(n_layers: int) -> int:
    """Forward passes per split the default probe set must make at least (see module doc)."""
    entries = 3 * n_layers  # single + cumulative shallow→deep + deep→shallow
    return len(ALPHAS) + (2 * entries * 2 + 2) + 2 * len(PROFILE) + 3 * (3 + 2 * n_layers + 1)


def floor(model, splits, passes: int, chunk: int) -> None:
    """``passes`` plain eval forward passes over each split's tensors, in the same chunks."""
    model.eval()
    with torch.no_grad():
        for x, y in splits.values():
            for i in range(0, len(x), chunk):
                xc, yc = x[i : i + chunk], y[i : i + chunk]
                for _ in range(passes):
                    out = model(xc)
                    F.cross_entropy(out, yc, reduction="sum").item()
                    (out.argmax(1) != yc).sum().item()


# ---------------------------------------------------------------------------------------------
# The straightforward implementation


def naive_eval(model: nn.Module, state: dict, loader: DataLoader) -> tuple[float, float]:
    model.load_state_dict(state, strict=False)
    model.eval()
    loss = err = n = 0.0
    with torch.no_grad():
        for xb, yb in loader:
            out = model(xb)
            loss += F.cross_entropy(out, yb, reduction="sum").item()
            err += (out.argmax(1) != yb).sum().item()
            n += len(yb)
    return loss / n, err / n


def naive_bn_reset(model: nn.Module, bn: list) -> None:
    """Recompute BN statistics (train mode on BN batches), as naive code does per network."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for xb in bn:
            model(xb)
    model.eval()


def naive_dHd(model: nn.Module, state: dict, d: dict, loader: DataLoader) -> float:
    model.load_state_dict(state, strict=False)
    model.eval()
    params = dict(model.named_parameters())
    keys = list(d)
    total = n = 0.0
    for xb, yb in loader:
        loss = F.cross_entropy(model(xb), yb, reduction="sum")
        g = torch.autograd.grad(loss, [params[k] for k in keys], create_graph=True)
        gd = sum((gi * d[k]).sum() for gi, k in zip(g, keys, strict=True))
        hv = torch.autograd.grad(gd, [params[k] for k in keys])
        total += float(sum((h * d[k]).sum() for h, k in zip(hv, keys, strict=True)))
        n += len(yb)
    return total / n


def naive_probe(model, a, b, s, splits, bn, batch) -> None:
    m = copy.deepcopy(model)
    groups = probe_groups(model)
    names = [g.name for g in groups]
    params = [k for k, _ in model.named_parameters()]
    d = {k: b[k] - a[k] for k in params}

    def ev(state, loader):
        m.load_state_dict(state, strict=False)
        naive_bn_reset(m, bn)
        return naive_eval(m, {}, loader)

    for x, y in splits.values():
        loader = DataLoader(TensorDataset(x, y), batch_size=batch)
        for al in ALPHAS:
            ev(lerp(a, b, al), loader)
        sets = [[n] for n in names]
        sets += [names[:k] for k in range(1, len(names) + 1)]
        sets += [names[len(names) - k :] for k in range(1, len(names) + 1)]
        for sel in sets:
            for rest in ("a", "b"):
                for al in (0.0, 0.5, 1.0):
                    ev(lerp_groups(a, b, al, sel, groups, rest=rest), loader)
        for end in (a, b):
            for al in PROFILE:
                ev(lerp(s, end, al), loader)
        mid = lerp(a, b, 0.5)
        for pt in (mid, a, b):
            naive_dHd(m, pt, d, loader)
        for g in groups:
            dl = {k: d[k] for k in g.param_names}
            naive_dHd(m, lerp_groups(a, b, 0.5, [g.name], groups, rest="a"), dl, loader)
            naive_dHd(m, mid, dl, loader)


def spawn_pair(name: str) -> tuple[nn.Module, dict, dict, dict]:
    """A model, its spawn state and two children that moved apart from it (fixed seeds)."""
    torch.manual_seed(0)
    if name == "cnn_small":
        model = quickstart_cnn()
    elif name.startswith("vit"):  # conf/model/vit_tiny.yaml
        model = shipped_model(name)
    else:
        model = build_model(name, (1, 28, 28), 10)
    kids = moved_children(model)
    return model, state_of(model), state_of(kids[0]), state_of(kids[1])


def main() -> None:
    """Run the benchmark and print the ratio table; the last line is the headline ratio."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--models", default="mlp,cnn_small", help="comma-separated: mlp, cnn, cnn_small, vit_tiny"
    )
    ap.add_argument("--naive", action="store_true", help="also time the naive implementation")
    ap.add_argument("--n-train", type=int, default=1000, help="train eval subset size")
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--chunk-size", type=int, default=1000, help="probe chunk (default config)")
    ap.add_argument("--naive-batch", type=int, default=1000, help="naive DataLoader batch size")
    ap.add_argument("--repeats", type=int, default=3)
    add_threads_arg(ap, "1,2")
    args = ap.parse_args()
    start(per_thread_count(args.threads))
    dm = data_module("mnist_mini", eval_train_size=args.n_train, eval_test_size=args.n_test)
    dm.setup()
    splits = {k: dm.eval_tensors(k) for k in ("train", "test")}
    bn = dm.bn_batches(8, dm.batch_size, seed=0)
    rows, heads = [], []
    for name in args.models.split(","):
        model_rows, ratio = measure(name, splits, bn, args)
        rows += model_rows
        heads.append(f"{name} {ratio:.3f}")
    table(
        rows,
        f"headline: probe point / floor = {', '.join(heads)} "
        f"({args.n_train}+{args.n_test} examples)",
    )


def measure(name: str, splits, bn, args) -> tuple[list[tuple[str, float, float, float]], float]:
    """Table rows of one model and its median probe / floor ratio (prints its paths)."""
    model, s, a, b = spawn_pair(name)
    n_layers = len(probe_groups(model))
    passes = floor_passes(n_layers)
    cs = args.chunk_size
    run = lambda: probe_point(model, [a, b], s, splits, bn, cs)  # noqa: E731
    flo = lambda: floor(model, splits, passes, cs)  # noqa: E731
    nai = lambda: naive_probe(model, a, b, s, splits, bn, args.naive_batch)  # noqa: E731
    paths = recorded_paths(run())  # warm-up: the evaluation paths are measured here
    print(f"{name}: evaluation paths {paths}")
    tp, tf, tn, r_floor, r_naive = [], [], [], [], []
    for r in range(args.repeats):
        fns = [run, flo] + ([nai] if args.naive else [])
        t = {id(f): once(f) for f in (fns if r % 2 == 0 else fns[::-1])}
        tp.append(t[id(run)])
        tf.append(t[id(flo)])
        r_floor.append(tp[-1] / tf[-1])
        if args.naive:
            tn.append(t[id(nai)])
            r_naive.append(tn[-1] / tp[-1])
    med = statistics.median
    what = f"{name}: probe point / floor of {passes} passes x 2 splits (s)"
    rows = [(what, med(tp), med(tf), med(r_floor))]
    if args.naive:
        rows.append(
            (f"{name}: naive implementation / probe point (s)", med(tn), med(tp), med(r_naive))
        )
    return rows, med(r_floor)


if __name__ == "__main__":
    main()
