"""The same effect in a real network: a tiny MLP on the ``synthetic`` Gaussian-cluster data.

A parent is trained by plain mini-batch SGD (private generators for init and data order; a
small init scale puts θ_0 near the saddle at the origin); at each spawn step k it is copied into
two children with different data orders that train to T. Barriers by
:func:`ridgeline.landscape.barrier_curve` through an :class:`ridgeline.landscape.Evaluator`;
the prediction −⅛ΔᵀH(θ_½)Δ by :func:`ridgeline.landscape.taylor_prediction`.

Status: the Gaussian-cluster task is close to convex for an MLP; with these defaults the loss
barrier is small and positive only at k = 0 (≈ 0.007 nats) and negative afterwards, with the
prediction tracking the measurement closely. A clear instability needs a harder task.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ridgeline.data import SyntheticDataModule
from ridgeline.landscape import Evaluator, barrier_curve, state_of, taylor_prediction
from ridgeline.models import build_model


@dataclass
class MlpSpawn:
    spawn_step: int
    alphas: list[float]
    loss: list[float]
    error: list[float]
    loss_midpoint: float
    error_endpoint_mean: float
    predicted: float


@dataclass
class MlpToy:
    spawns: list[MlpSpawn] = field(default_factory=list)
    settings: dict = field(default_factory=dict)


def _train(model, x, y, steps: int, lr: float, batch: int, gen: torch.Generator) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, x.shape[0], (batch,), generator=gen)
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()


def run_mlp_toy(
    spawn_steps: Sequence[int] = (0, 10, 50, 150),
    total_steps: int = 400,
    width: int = 6,
    depth: int = 2,
    lr: float = 0.3,
    batch: int = 8,
    seed: int = 0,
    dim: int = 4,
    num_classes: int = 8,
    noise: float = 0.5,
    init_scale: float = 0.3,
) -> MlpToy:
    """Parent, two children per spawn step, test barrier and its prediction at T."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead
    try:
        return _run(
            spawn_steps,
            total_steps,
            width,
            depth,
            lr,
            batch,
            seed,
            dim,
            num_classes,
            noise,
            init_scale,
        )
    finally:
        torch.set_num_threads(threads)


def _run(
    spawn_steps, total_steps, width, depth, lr, batch, seed, dim, num_classes, noise, init_scale
) -> MlpToy:
    dm = SyntheticDataModule(
        n_train=1024, n_test=512, dim=dim, num_classes=num_classes, noise=noise, generator_seed=seed
    )
    x_tr, y_tr, x_te, y_te = dm.load()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # init only, inside a forked RNG: the caller's RNG is untouched
        parent = build_model("mlp", (1, 1, dim), num_classes, depth=depth, width=width)
        with torch.no_grad():  # a small init puts θ_0 near the saddle at the origin
            for p in parent.parameters():
                p.mul_(init_scale)
    out = MlpToy(
        settings=dict(
            spawn_steps=list(spawn_steps),
            total_steps=total_steps,
            width=width,
            depth=depth,
            lr=lr,
            batch=batch,
            seed=seed,
            init_scale=init_scale,
        )
    )
    g_parent = torch.Generator().manual_seed(seed + 1)
    done = 0
    for i, k in enumerate(sorted(spawn_steps)):
        _train(parent, x_tr, y_tr, k - done, lr, batch, g_parent)
        done = k
        children = []
        for c in range(2):
            child = copy.deepcopy(parent)
            _train(
                child,
                x_tr,
                y_tr,
                total_steps - k,
                lr,
                batch,
                torch.Generator().manual_seed(1000 * (seed + 1) + 10 * i + c),
            )
            children.append(state_of(child))
        child.eval()
        ev = Evaluator(child, x_te, y_te)
        curve = barrier_curve(ev, children[0], children[1])
        taylor = taylor_prediction(ev, children[0], children[1], layerwise=False, endpoints=False)
        out.spawns.append(
            MlpSpawn(
                k,
                curve.alphas,
                curve.loss,
                curve.error,
                curve.loss_barrier.midpoint,
                curve.error_barrier.endpoint_mean,
                taylor.predicted_barrier,
            )
        )
    return out


def format_mlp_table(res: MlpToy) -> str:
    lines = [
        f"tiny MLP on synthetic data, children trained to T = {res.settings['total_steps']} (test)",
        f"{'k':>5} {'loss B_mid':>10} {'pred -1/8 dHd':>13} {'error barrier (pp)':>18}",
    ]
    for s in res.spawns:
        lines.append(
            f"{s.spawn_step:>5} {s.loss_midpoint:>10.4f} {s.predicted:>13.4f} "
            f"{100 * s.error_endpoint_mean:>18.2f}"
        )
    return "\n".join(lines)


def mlp_figure(res: MlpToy, path: Path) -> Path:
    from ridgeline.report.figures import _colors, _save, _spawn_axis, plt

    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.3))
    for s, color in zip(res.spawns, _colors(len(res.spawns)), strict=True):
        axes[0].plot(s.alphas, s.loss, ".-", color=color, label=f"k = {s.spawn_step}")
    axes[0].set_xlabel("α   (θ$_α$ = (1−α)θ$_A$ + αθ$_B$)")
    axes[0].set_ylabel("test loss of θ$_α$ (nats)")
    axes[0].set_title("Linear path between the two children at T", fontsize=9)
    axes[0].legend(fontsize=7, title="spawn step", title_fontsize=7)
    axes[0].grid(alpha=0.3)
    ks = [s.spawn_step for s in res.spawns]
    axes[1].plot(
        ks,
        [s.loss_midpoint for s in res.spawns],
        "o-",
        label="measured midpoint loss barrier L(θ$_{½}$) − ½(L$_A$+L$_B$)",
    )
    axes[1].plot(ks, [s.predicted for s in res.spawns], "s--", label="predicted −⅛ΔᵀH(θ$_{½}$)Δ")
    axes[1].axhline(0, color="k", lw=0.5)
    _spawn_axis(axes[1])
    axes[1].set_ylabel("test loss barrier (nats)")
    axes[1].set_title("Barrier vs spawn step (one pair per k)", fontsize=9)
    axes[1].legend(fontsize=7)
    axes[1].grid(alpha=0.3)
    fig.suptitle(
        f"Toy 2: MLP (depth {res.settings['depth']}, width {res.settings['width']}) "
        "on synthetic Gaussian clusters"
    )
    fig.tight_layout()
    return _save(fig, Path(path))
