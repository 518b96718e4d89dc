"""ridgeline-train vs the single-file PyTorch script a researcher would write for the same job.

Both sides run the quickstart experiment (``ridgeline-train logger=none`` plus any overrides):
the same data tensors, architecture, optimiser, steps, spawn steps, children and probe schedule
and contents, read from the ``config.yaml`` ridgeline saved. The plain side is written the way
public LMC code is written: plain training loops (the parent, then the children of each spawn
point together) over a shuffling DataLoader; every α of a curve evaluated by interpolating the
state dicts, loading them into a model and looping a DataLoader; each layer's midpoint evaluated
on its own; ΔᵀHΔ by double backward (Hessian-vector product, dot with Δ), at θ_½, per layer and
at the ridge α* of the loss curve; the loss plane of pair 0-1 at each phase's end, grid point by
grid point, with the parent's points (or the inits) projected onto it. Each side runs as its
own process, timed from outside; both report their time in probes (the plain script prints it,
ridgeline's records hold it). Then the plain evaluation runs on ridgeline's final children and
its numbers are compared with ridgeline's final records: they must agree to float precision
(which checks the plain script too). Only plain SGD with a constant learning rate and models
without BatchNorm are written out on the plain side (the quickstart's setting).
Paired: ``--repeats N`` alternates the order (ridgeline, plain; plain, ridgeline; ...) and the
headline is the median of the per-repeat ratios plain / ridgeline; ``--threads 1,2`` runs the
whole benchmark once per thread count.
Usage: python scripts/bench_vs_plain.py --threads 1,2 --repeats 3 [hydra overrides for both]
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from bench_common import add_threads_arg, load, per_thread_count

# ---------------------------------------------------------------------------------------------
# The plain script (what runs in the timed plain process; also used for the comparison)


def interpolate(a: dict, b: dict, alpha: float) -> dict:
    """(1 − α)·a + α·b for every float entry of two state dicts."""
    return {k: (1 - alpha) * a[k] + alpha * b[k] if a[k].is_floating_point() else a[k] for k in a}


def evaluate(model: nn.Module, state: dict, loader: DataLoader) -> tuple[float, float]:
    """Mean cross-entropy and error rate of ``state`` over the loader."""
    model.load_state_dict(state)
    model.eval()
    loss = wrong = n = 0.0
    with torch.no_grad():
        for xb, yb in loader:
            out = model(xb)
            loss += F.cross_entropy(out, yb, reduction="sum").item()
            wrong += (out.argmax(1) != yb).sum().item()
            n += len(yb)
    return loss / n, wrong / n


def dhd(model: nn.Module, state: dict, direction: dict, loader: DataLoader) -> float:
    """Mean ΔᵀH(θ)Δ over the loader by double backward (Δ over the keys of ``direction``)."""
    model.load_state_dict(state)
    model.eval()
    params = dict(model.named_parameters())
    keys = list(direction)
    total = n = 0.0
    for xb, yb in loader:
        loss = F.cross_entropy(model(xb), yb, reduction="sum")
        grads = torch.autograd.grad(loss, [params[k] for k in keys], create_graph=True)
        g_dot_d = sum((g * direction[k]).sum() for g, k in zip(grads, keys, strict=True))
        hv = torch.autograd.grad(g_dot_d, [params[k] for k in keys])
        total += sum((h * direction[k]).sum() for h, k in zip(hv, keys, strict=True)).item()
        n += len(yb)
    return total / n


def layers(model: nn.Module) -> dict[str, list[str]]:
    """Parameter names grouped by the module that owns them, shallow to deep."""
    out: dict[str, list[str]] = {}
    for name, _ in model.named_parameters():
        out.setdefault(name.rpartition(".")[0], []).append(name)
    return out


def barriers(alphas: list[float], values: list[float]) -> dict[str, float]:
    """Midpoint, chord and endpoint-mean barriers of a curve over ``alphas``."""
    v0, v1 = values[0], values[-1]
    return {
        "midpoint": values[alphas.index(0.5)] - (v0 + v1) / 2,
        "chord": max(v - ((1 - a) * v0 + a * v1) for a, v in zip(alphas, values, strict=True)),
        "endpoint_mean": max(v - (v0 + v1) / 2 for v in values),
    }


def ridge(model, a, b, alphas, losses, loader) -> dict[str, float]:
    """α* = argmax_α L(α) − chord(α) on the curve (first on ties) and ΔᵀH(θ_α*)Δ there."""
    l0, l1 = losses[0], losses[-1]
    excess = [v - ((1 - al) * l0 + al * l1) for al, v in zip(alphas, losses, strict=True)]
    i = max(range(len(excess)), key=lambda j: (excess[j], -j))
    delta = {k: b[k] - a[k] for k, _ in model.named_parameters()}
    point = interpolate(a, b, alphas[i])
    return {"alpha": alphas[i], "height": excess[i], "dHd": dhd(model, point, delta, loader)}


def plane(model, p0, a, b, geometry, loader, points=()) -> dict:
    """Loss and error on the grid p0 + u e1 + v e2, (e1, e2) Gram-Schmidt of (a − p0, b − p0)
    over the parameters, spanning the three points plus a margin; ``points`` projected onto it."""
    names = [k for k, _ in model.named_parameters()]

    def dot(x: dict, y: dict) -> float:
        return sum(float((x[k] * y[k]).sum()) for k in names)

    d1 = {k: a[k].double() - p0[k].double() for k in names}
    d2 = {k: b[k].double() - p0[k].double() for k in names}
    n1 = math.sqrt(dot(d1, d1))
    x2 = dot(d2, d1) / n1
    y2 = math.sqrt(max(0.0, dot(d2, d2) - x2**2))
    res, margin = geometry["plane_resolution"], geometry["plane_margin"]

    def axis(lo: float, hi: float) -> list[float]:
        return [
            lo - margin * (hi - lo) + i * (1 + 2 * margin) * (hi - lo) / (res - 1)
            for i in range(res)
        ]

    u, v = axis(min(0.0, x2), max(n1, x2)), axis(0.0, y2)
    grid = []
    for vv in v:
        for uu in u:
            c2 = vv / y2
            c1 = (uu - c2 * x2) / n1
            state = {k: p0[k] + c1 * (a[k] - p0[k]) + c2 * (b[k] - p0[k]) for k in a}
            grid.append(evaluate(model, state, loader))
    e1 = {k: d1[k] / n1 for k in names}
    e2 = {k: (d2[k] - x2 * e1[k]) / y2 for k in names}
    coords = []
    for theta in points:
        w = {k: theta[k].double() - p0[k].double() for k in names}
        coords.append((dot(w, e1), dot(w, e2)))
    return {
        "loss": [g[0] for g in grid],
        "error": [g[1] for g in grid],
        "points": [evaluate(model, s, loader) for s in (p0, a, b)],
        "coords": coords,
    }


def pair_probe(model, a, b, spawn, spec, loaders, origin=None, points=()) -> dict:
    """Every number the probe components of ``spec`` compute for one pair of children (the
    plane when ``origin`` is given: the spawn point, or the inits' midpoint)."""
    probe = spec["probe"]
    out: dict = {"barrier": {}, "ridge": {}, "layerwise": {}, "taylor": {}, "profiles": {}}
    if "barrier" in probe:
        options = probe["barrier"]
        same = all(torch.equal(a[k], b[k]) for k in a)
        for split in options["splits"]:
            curve = [
                evaluate(model, interpolate(a, b, al), loaders[split]) for al in spec["alphas"]
            ]
            out["barrier"][split] = {
                "loss": [c[0] for c in curve],
                "error": [c[1] for c in curve],
                "loss_barrier": barriers(spec["alphas"], [c[0] for c in curve]),
                "error_barrier": barriers(spec["alphas"], [c[1] for c in curve]),
            }
            if options["ridge"] and not same and split in (options["ridge_splits"] or [split]):
                losses = out["barrier"][split]["loss"]
                out["ridge"][split] = ridge(model, a, b, spec["alphas"], losses, loaders[split])
    groups = layers(model)
    if "layerwise" in probe:
        for split in probe["layerwise"]["splits"]:
            mids = {}
            for name, keys in groups.items():
                for direction, rest, other in (("into_a", a, b), ("into_b", b, a)):
                    mixed = dict(rest)
                    for k in keys:  # this layer halfway, every other layer from ``rest``
                        mixed[k] = (rest[k] + other[k]) / 2
                    mids[f"{name}/{direction}"] = evaluate(model, mixed, loaders[split])[0]
            out["layerwise"][split] = mids
    if "curvature" in probe:
        delta = {k: b[k] - a[k] for k, _ in model.named_parameters()}
        mid = interpolate(a, b, 0.5)
        for split in probe["curvature"]["splits"]:
            taylor = {"dHd_mid": dhd(model, mid, delta, loaders[split])}
            if probe["curvature"]["endpoints"]:
                taylor["dHd_a"] = dhd(model, a, delta, loaders[split])
                taylor["dHd_b"] = dhd(model, b, delta, loaders[split])
            if probe["curvature"]["layerwise"]:
                for name, keys in groups.items():
                    single = dict(a)
                    for k in keys:
                        single[k] = (a[k] + b[k]) / 2
                    d_layer = {k: delta[k] for k in keys}
                    taylor[f"{name}/single"] = dhd(model, single, d_layer, loaders[split])
                    taylor[f"{name}/full"] = dhd(model, mid, d_layer, loaders[split])
            out["taylor"][split] = taylor
    if "geometry" in probe and spawn is not None:
        for split in probe["geometry"]["splits"]:
            out["profiles"][split] = {
                end: [
                    evaluate(model, interpolate(spawn, child, al), loaders[split])[0]
                    for al in spec["profile_alphas"]
                ]
                for end, child in (("a", a), ("b", b))
            }
    if "geometry" in probe and origin is not None:
        first = probe["geometry"]["splits"][0]
        out["plane"] = plane(model, origin, a, b, probe["geometry"], loaders[first], points)
    return out


def probe_steps(start: int, total: int, every: int | None) -> set[int]:
    """The probe schedule: the phase's first step, every ``every`` absolute steps, the end."""
    steps = {start, total}
    if every:
        steps |= {t for t in range(start + 1, total + 1) if t % every == 0}
    return steps


def train(models, optimizers, x, y, start, total, seeds, spec, at_step) -> None:
    """Train ``models`` side by side from step ``start`` to ``total``; ``at_step(t)`` runs
    before step t + 1 (and at the end), with the models after t steps."""
    loaders = [
        DataLoader(
            TensorDataset(x, y),
            batch_size=spec["batch_size"],
            shuffle=True,
            drop_last=True,
            generator=torch.Generator().manual_seed(s),
        )
        for s in seeds
    ]
    batches = [iter(loader) for loader in loaders]
    for step in range(start, total):
        at_step(step)
        for i, (model, opt) in enumerate(zip(models, optimizers, strict=True)):
            try:
                xb, yb = next(batches[i])
            except StopIteration:
                batches[i] = iter(loaders[i])
                xb, yb = next(batches[i])
            model.train()
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    at_step(total)


def plain_main(work: Path) -> None:
    """The whole plain experiment: parent, spawned children, independent children, probes."""
    from ridgeline.models import build_model  # the architecture only

    spec = json.loads((work / "spec.json").read_text())
    data = torch.load(work / "data.pt")
    x, y = data["train"]
    loaders = {
        s: DataLoader(TensorDataset(*data[f"eval_{s}"]), batch_size=spec["eval_batch_size"])
        for s in spec["splits"]
    }
    total, n_children = spec["max_steps"], spec["children"]

    def new_model(seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return build_model(**spec["model"])

    def sgd(model: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.SGD(model.parameters(), **spec["sgd"])

    results = []
    if spec["spawn_at"]:
        parent = new_model(0)
        theta0 = copy.deepcopy(parent.state_dict())
        opt = sgd(parent)
        saved = {}
        probe_model = copy.deepcopy(parent)

        probes = probe_steps(0, total, spec["every_n_steps"])

        def parent_step(step: int) -> None:
            if step in spec["spawn_at"]:
                saved[step] = copy.deepcopy((parent.state_dict(), opt.state_dict()))
            if step in probes and "parent" in spec["probe"]:
                start = time.perf_counter()
                theta = copy.deepcopy(parent.state_dict())
                for split in spec["probe"]["parent"]["splits"]:
                    for al in spec["profile_alphas"]:
                        evaluate(probe_model, interpolate(theta0, theta, al), loaders[split])
                PROBE_SECONDS[0] += time.perf_counter() - start

        train([parent], [opt], x, y, 0, total, [1], spec, parent_step)
        # the plane's trajectory: θ_0, the spawn points and the end of the parent
        path = [theta0, *(saved[k][0] for k in spec["spawn_at"]), parent.state_dict()]
        for k in spec["spawn_at"]:
            children = [copy.deepcopy(parent) for _ in range(n_children)]
            optimizers = []
            for child in children:
                child.load_state_dict(saved[k][0])
                optimizers.append(sgd(child))
                if not spec["fresh_optimizer"]:
                    optimizers[-1].load_state_dict(saved[k][1])
            results += run_children(children, optimizers, saved[k][0], k, spec, x, y, loaders, path)
    if spec["independent"]:
        children = [new_model(100 + i) for i in range(n_children)]
        optimizers = [sgd(c) for c in children]
        results += run_children(children, optimizers, None, 0, spec, x, y, loaders)
    print(f"plain script: {len(results)} pair probes; probes {PROBE_SECONDS[0]:.1f} s")


PROBE_SECONDS = [0.0]  # the plain script's time in probes (its own breakdown)


def run_children(children, optimizers, spawn, start, spec, x, y, loaders, path=()) -> list[dict]:
    """Train the children of one spawn point together; every pair probed on schedule, the
    plane of pair 0-1 at the phase's end (``plane: all``: at every probe point)."""
    probe_model = copy.deepcopy(children[0])
    seeds = [10 + start * len(children) + i for i in range(len(children))]
    inits = [copy.deepcopy(c.state_dict()) for c in children]
    out = []
    probes = probe_steps(start, spec["max_steps"], spec["every_n_steps"])
    geometry = spec["probe"].get("geometry", {})
    mode = {True: "all", False: "off"}.get(geometry.get("plane"), geometry.get("plane", "off"))

    def at_step(step: int) -> None:
        if step not in probes:
            return
        begin = time.perf_counter()
        states = [copy.deepcopy(c.state_dict()) for c in children]
        for i, j in itertools.combinations(range(len(children)), 2):
            origin, points = None, ()
            planar = mode == "all" or (mode == "end" and step == spec["max_steps"])
            moved = not all(torch.equal(states[i][k], states[j][k]) for k in states[i])
            if planar and moved and (geometry["plane_every_pair"] or (i, j) == (0, 1)):
                if spawn is not None:
                    origin, points = spawn, path
                else:
                    origin, points = interpolate(inits[i], inits[j], 0.5), (inits[i], inits[j])
            probe = pair_probe(
                probe_model, states[i], states[j], spawn, spec, loaders, origin, points
            )
            out.append(probe)
        PROBE_SECONDS[0] += time.perf_counter() - begin

    train(children, optimizers, x, y, start, spec["max_steps"], seeds, spec, at_step)
    return out


# ---------------------------------------------------------------------------------------------
# The benchmark: both sides timed, then the same final children through both evaluations


def component_defaults(target: str) -> dict:
    """The keyword defaults of a probe component's class (what a saved config leaves out)."""
    import importlib
    import inspect

    module, _, name = target.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    return {
        k: p.default
        for k, p in inspect.signature(cls).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def spec_of(config) -> dict:
    """What the plain script needs from ridgeline's resolved config (fails on what it lacks)."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.to_container(config, resolve=True)
    optim, probe = cfg["optim"], cfg["probe"] or {}
    if not optim["_target_"].endswith("SGD") or not cfg["schedule"]["_target_"].endswith(
        "constant"
    ):
        raise SystemExit("the plain script is written for SGD with a constant learning rate")
    every = probe.get("every_n_steps")
    splits = list(probe.get("splits", []))
    components = {}
    for key, node in probe.items():
        if isinstance(node, dict) and node.get("_target_"):
            on = node.get("splits") or splits
            node = {**component_defaults(node["_target_"]), **node}  # config.yaml omits them
            components[key] = {**node, "splits": on}
    alphas = [float(a) for a in probe.get("alphas", [0.0, 0.5, 1.0])]
    return {
        "model": {k: v for k, v in cfg["model"].items() if k != "_target_"},
        "sgd": {k: optim[k] for k in ("lr", "momentum", "weight_decay", "nesterov") if k in optim},
        "batch_size": cfg["data"]["batch_size"],
        "eval_batch_size": probe.get("chunk_size", 1000),
        "max_steps": cfg["trainer"]["max_steps"],
        "spawn_at": sorted(cfg["spawn"]["at"]),
        "children": cfg["spawn"]["children"],
        "independent": cfg["spawn"]["independent"],
        "fresh_optimizer": cfg["spawn"]["fresh_optimizer"],
        "every_n_steps": every,
        "alphas": alphas if 0.5 in alphas else sorted([*alphas, 0.5]),
        "profile_alphas": [float(a) for a in probe.get("profile_alphas", [0.0, 0.5, 1.0])],
        "splits": splits,
        "probe": components,
    }


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, str]:
    """Wall time and standard output of a command (all its output shown only when it fails)."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-4000:])
        raise SystemExit(f"{cmd[0]} failed with exit code {done.returncode}")
    return wall, done.stdout


def probe_seconds(run_dir: Path) -> float:
    """ridgeline's time in probes: the probe seconds of every record of a run."""
    from ridgeline.records.probe_record import read_records
    from ridgeline.store.layout import RunLayout

    return sum(r.probe_seconds or 0.0 for r in read_records(RunLayout(run_dir).records))


def largest_differences(run, spec) -> dict[str, float]:
    """Largest |ridgeline − plain| over every pair of final children, per kind of number."""
    from ridgeline.landscape import layer_groups

    dm = run.datamodule()
    loaders = {
        s: DataLoader(TensorDataset(*dm.eval_tensors(s)), batch_size=spec["eval_batch_size"])
        for s in spec["splits"]
    }
    model = run.model()
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        raise SystemExit("the plain script has no BatchNorm policy: use a model without BN")
    names = {g.name: g for g in layer_groups(model)}
    diff = {"barrier curves (loss)": 0.0, "barrier values (loss)": 0.0, "error": 0.0}
    for name, phase in run.phases.items():
        if phase.kind == "parent":
            continue
        children = phase.children()
        spawn = phase.spawn_point()
        inits = None if spawn is not None else torch.load(phase.layout.theta0, weights_only=True)
        for rec in run.final_records(name):
            i, j = rec.pair
            origin = None
            if rec.plane is not None:
                origin = spawn if spawn is not None else interpolate(inits[i], inits[j], 0.5)
            plain = pair_probe(model, children[i], children[j], None, spec, loaders, origin)
            if "plane" in plain:
                theirs = [v for row in rec.plane.slice.loss for v in row]
                d = max(
                    abs(p - q) / max(1.0, abs(q))
                    for p, q in zip(plain["plane"]["loss"], theirs, strict=True)
                )
                diff["loss plane (relative)"] = max(diff.get("loss plane (relative)", 0.0), d)
            for split, mine in plain["ridge"].items():
                theirs = rec.ridge[split]
                assert mine["alpha"] == theirs.alpha, (mine, theirs)
                d = abs(mine["dHd"] - theirs.dHd) / max(abs(theirs.dHd), 1e-12)
                diff["ridge ΔᵀHΔ (relative)"] = max(diff.get("ridge ΔᵀHΔ (relative)", 0.0), d)
            for split, mine in plain["barrier"].items():
                theirs = rec.barrier[split]
                d = max(abs(p - q) for p, q in zip(mine["loss"], theirs.loss, strict=True))
                diff["barrier curves (loss)"] = max(diff["barrier curves (loss)"], d)
                e = max(abs(p - q) for p, q in zip(mine["error"], theirs.error, strict=True))
                diff["error"] = max(diff["error"], e)
                for key, value in mine["loss_barrier"].items():
                    d = abs(value - getattr(theirs.loss_barrier, key))
                    diff["barrier values (loss)"] = max(diff["barrier values (loss)"], d)
            for split, mids in plain["layerwise"].items():
                theirs = rec.layerwise[split]
                for entry in theirs.entries:
                    if entry.kind == "layer" and entry.name in names:
                        mid = entry.loss[entry.alphas.index(0.5)]
                        d = abs(mids[f"{entry.name}/{entry.direction}"] - mid)
                        diff["layer-wise midpoints"] = max(diff.get("layer-wise midpoints", 0), d)
            for split, taylor in plain["taylor"].items():
                theirs = rec.curvature[split]
                d = abs(taylor["dHd_mid"] - theirs.dHd_mid) / max(abs(theirs.dHd_mid), 1e-12)
                diff["ΔᵀHΔ (relative)"] = max(diff.get("ΔᵀHΔ (relative)", 0.0), d)
    return diff


def bench(threads: int, overrides: list[str], keep: bool, repeats: int) -> None:
    """Both sides at one thread count, paired; prints times, the ratios and the differences.

    Repeat i runs ridgeline then the plain script for even i, the plain script then ridgeline
    for odd i (each a fresh process; every ridgeline run in its own directory, so it trains its
    parent instead of reusing a stored one). The plain side reads the config and data of the
    first ridgeline run. Ratio = plain / ridgeline per repeat (the two ran back to back, under
    about the same load); the headline is the median of those ratios.
    """
    from ridgeline import load_run

    env = {k: v for k, v in os.environ.items() if k != "RIDGELINE_ROOT"}
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    tmp = Path(tempfile.mkdtemp(prefix="ridgeline_vs_plain_"))
    exe = shutil.which("ridgeline-train") or str(Path(sys.executable).with_name("ridgeline-train"))

    in_probes: dict[str, list[float]] = {"ridgeline": [], "plain": []}

    def ridgeline(i: int) -> float:
        cwd = tmp / f"ridgeline_{i}"  # own outputs/parents: the parent is trained every time
        cwd.mkdir()
        cmd = [exe, "logger=none", f"hydra.run.dir={cwd / 'run'}", *overrides]
        wall, _ = timed(cmd, cwd, env)
        in_probes["ridgeline"].append(probe_seconds(cwd / "run"))
        return wall

    def plain() -> float:
        wall, out = timed([sys.executable, __file__, "--plain", str(tmp)], tmp, env)
        in_probes["plain"].append(float(out.rsplit("probes ", 1)[1].split()[0]))
        return wall

    shown = " ".join([exe, "logger=none", *overrides])
    print(f"{load()}; OMP_NUM_THREADS={threads or 'unset'}; {repeats} paired repeats\n$ {shown}")
    t_ridgeline: list[float] = []
    t_plain: list[float] = []
    loads = [load()]
    run = spec = None
    for i in range(max(1, repeats)):
        if i % 2 == 0:
            t_ridgeline.append(ridgeline(i))
            if run is None:  # the plain side needs ridgeline's config and data
                run = load_run(tmp / "ridgeline_0" / "run")
                spec = spec_of(run.config)
                dm = run.datamodule()
                data = {"train": (dm.train_x, dm.train_y)}
                data.update({f"eval_{s}": dm.eval_tensors(s) for s in spec["splits"]})
                torch.save(data, tmp / "data.pt")
                (tmp / "spec.json").write_text(json.dumps(spec))
            t_plain.append(plain())
        else:
            t_plain.append(plain())
            t_ridgeline.append(ridgeline(i))
        loads.append(load())
        print(
            f"repeat {i}: ridgeline {t_ridgeline[-1]:.1f} s (probes "
            f"{in_probes['ridgeline'][-1]:.1f} s), plain {t_plain[-1]:.1f} s (probes "
            f"{in_probes['plain'][-1]:.1f} s), plain / ridgeline "
            f"{t_plain[-1] / t_ridgeline[-1]:.3f} ({loads[-1]})",
            flush=True,
        )
    assert run is not None and spec is not None
    diff = largest_differences(run, spec)
    med = statistics.median
    ratio = med(p / r for p, r in zip(t_plain, t_ridgeline, strict=True))
    print(f"{'ridgeline-train logger=none, median (s)':44} {med(t_ridgeline):10.1f}")
    print(f"{'plain single-file script, median (s)':44} {med(t_plain):10.1f}")
    print(f"{'plain / ridgeline, median of paired ratios':44} {ratio:10.3f}")
    for side, seconds in in_probes.items():
        print(f"{side + ' in probes, median (s)':44} {med(seconds):10.1f}")
    for what, d in diff.items():
        print(f"{'largest difference, ' + what:44} {d:10.2e}")
    if keep:
        print(f"kept: {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    worst = max(diff["barrier curves (loss)"], diff["barrier values (loss)"])
    print(
        f"headline: plain / ridgeline = {ratio:.3f} (median of {len(t_plain)} paired repeats; "
        f"medians {med(t_plain):.1f} s vs {med(t_ridgeline):.1f} s; {loads[0]} at the "
        f"start), largest loss-barrier difference on the same children "
        f"{worst:.1e}{'' if math.isfinite(worst) else ' (non-finite)'}"
    )


def main() -> None:
    """Parse the options; ``--plain DIR`` is the plain side's own process."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plain", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--keep", action="store_true", help="keep the temporary run directory")
    ap.add_argument("--repeats", type=int, default=3, help="paired repeats (order alternating)")
    add_threads_arg(ap, "1,2")
    args, overrides = ap.parse_known_args()
    if args.plain is not None:
        plain_main(args.plain)
        return
    threads = per_thread_count(args.threads)
    if threads:
        torch.set_num_threads(threads)
    bench(threads, overrides, args.keep, args.repeats)


if __name__ == "__main__":
    main()
