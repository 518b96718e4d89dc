"""The same effect in a real network: a tiny MLP on the ``synthetic`` Gaussian-cluster data.

Task: 4 classes, each a mixture of 3 Gaussian clusters in 4 dimensions (noise 0.1), so the
classes interleave and no linear classifier separates them. Network: one hidden layer of 6
tanh units, the weights of PyTorch's init scaled by 0.2 so that θ_0 sits near the saddle at
the origin, where each unit's sign (tanh is odd: (w_in, w_out) → (−w_in, −w_out) is a symmetry)
and role are not yet chosen. Training: plain SGD with batch size 1 and learning rate
lr·(1 − t/T) at global step t, the same schedule for the parent and its children.

A parent is trained from θ_0 (private generators for init and data order); at each spawn step
k it is copied into ``n_pairs`` pairs of children with their own data orders that train to T.
Barriers by :func:`ridgeline.landscape.barrier_curve` on the test split, the prediction
−⅛ΔᵀH(θ_½)Δ by :func:`ridgeline.landscape.taylor_prediction`. Children spawned at θ_0 let the
SGD noise pick the units' signs and roles and end in different basins (seeds 0-5: loss barrier
0.44-1.18 nats, error barrier 20-52 points, positive prediction); children spawned at k = 300
end in one basin (|loss barrier| ≤ 0.006 nats): the instability transition of Frankle et al.
(2020). About 13 s on one CPU thread.
"""

from __future__ import annotations

import copy
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from ridgeline.config.builds import data_module
from ridgeline.landscape import Evaluator, barrier_curve, state_of, taylor_prediction
from ridgeline.models import build_model
from ridgeline.toy.spawn_plan import check_spawn_plan
from ridgeline.toy.threads import one_thread


@dataclass
class MlpPair:
    """Test loss/error along θ_α between two children at T, the barriers and the prediction."""

    alphas: list[float]
    loss: list[float]
    error: list[float]
    loss_midpoint: float  # L(θ_½) − ½(L_A + L_B)
    error_barrier: float  # max_α E(θ_α) − ½(E_A + E_B) (Frankle et al.)
    predicted: float  # −⅛ΔᵀH(θ_½)Δ
    endpoint_error: float  # ½(E_A + E_B)


@dataclass
class MlpSpawn:
    spawn_step: int
    pairs: list[MlpPair]

    def mean(self, attr: str) -> float:
        return statistics.fmean(getattr(p, attr) for p in self.pairs)

    def std(self, attr: str) -> float:
        """Sample standard deviation over the pairs (0 for a single pair)."""
        values = [getattr(p, attr) for p in self.pairs]
        return statistics.stdev(values) if len(values) > 1 else 0.0

    def mean_curve(self, attr: str) -> list[float]:
        """``attr`` ('loss' or 'error') along the α-grid, averaged over the pairs."""
        return [
            statistics.fmean(vs) for vs in zip(*(getattr(p, attr) for p in self.pairs), strict=True)
        ]


@dataclass(frozen=True)
class MlpToySettings:
    """The tiny-MLP toy's settings (module docstring): ``n_pairs`` child pairs at each of
    ``spawn_steps``, trained to ``total_steps``; ``seed`` sets the data (``generator_seed``),
    the init and the data orders. The ``synthetic`` data: ``num_classes`` classes of
    ``clusters_per_class`` Gaussian clusters (``noise``) in ``dim`` dimensions. The MLP:
    ``width`` ``activation`` units in each of ``depth`` hidden layers, PyTorch's init scaled by
    ``init_scale``. SGD with learning rate ``lr``·(1 − t/T) on batches of ``batch``. A spawn
    plan that cannot work raises ValueError naming it."""

    spawn_steps: Sequence[int] = (0, 10, 30, 100, 300)
    total_steps: int = 600
    n_pairs: int = 3
    seed: int = 0
    dim: int = 4
    num_classes: int = 4
    clusters_per_class: int = 3
    noise: float = 0.1
    width: int = 6
    depth: int = 1
    activation: str = "tanh"
    init_scale: float = 0.2
    lr: float = 0.5
    batch: int = 1

    def __post_init__(self) -> None:
        check_spawn_plan(self.spawn_steps, self.total_steps, self.n_pairs)


@dataclass
class MlpToy:
    spawns: list[MlpSpawn] = field(default_factory=list)
    settings: MlpToySettings = field(default_factory=MlpToySettings)


def _train(model, x, y, start: int, stop: int, total: int, lr: float, batch: int, gen) -> None:
    """Plain SGD from global step ``start`` to ``stop`` with learning rate lr·(1 − t/total)."""
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    model.train()
    for t in range(start, stop):
        opt.param_groups[0]["lr"] = lr * (1 - t / total)
        idx = torch.randint(0, x.shape[0], (batch,), generator=gen)
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()


def run_mlp_toy(settings: MlpToySettings = MlpToySettings()) -> MlpToy:
    """Parent, ``n_pairs`` child pairs per spawn step, test barriers and predictions at T."""
    with one_thread():
        return _run(replace(settings, spawn_steps=tuple(sorted(settings.spawn_steps))))


def _run(s: MlpToySettings) -> MlpToy:
    dm = data_module(
        "synthetic",
        n_train=1024,
        n_test=512,
        dim=s.dim,
        num_classes=s.num_classes,
        clusters_per_class=s.clusters_per_class,
        noise=s.noise,
        generator_seed=s.seed,
    )
    x_tr, y_tr, x_te, y_te = dm.load()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s.seed)  # init only, inside a forked RNG: the caller's RNG is untouched
        parent = build_model(
            "mlp",
            (1, 1, s.dim),
            s.num_classes,
            depth=s.depth,
            width=s.width,
            activation=s.activation,
        )
    with torch.no_grad():  # a small init puts θ_0 near the saddle at the origin
        for p in parent.parameters():
            p.mul_(s.init_scale)
    ev = Evaluator(parent, x_te, y_te)
    total, lr, batch = s.total_steps, s.lr, s.batch
    out = MlpToy(settings=s)
    g_parent = torch.Generator().manual_seed(s.seed + 1)
    done = 0
    for i, k in enumerate(s.spawn_steps):
        _train(parent, x_tr, y_tr, done, k, total, lr, batch, g_parent)
        done = k
        g_children = torch.Generator().manual_seed(1_000_003 * (s.seed + 1) + i)
        pairs = []
        for _ in range(s.n_pairs):
            ends = []
            for _ in range(2):
                child = copy.deepcopy(parent)
                _train(child, x_tr, y_tr, k, total, total, lr, batch, g_children)
                ends.append(state_of(child))
            curve = barrier_curve(ev, ends[0], ends[1])
            taylor = taylor_prediction(ev, ends[0], ends[1], layerwise=False, endpoints=False)
            pairs.append(
                MlpPair(
                    alphas=curve.alphas,
                    loss=curve.loss,
                    error=curve.error,
                    loss_midpoint=curve.loss_barrier.midpoint,
                    error_barrier=curve.error_barrier.endpoint_mean,
                    predicted=taylor.predicted_barrier,
                    endpoint_error=(curve.error[0] + curve.error[-1]) / 2,
                )
            )
        out.spawns.append(MlpSpawn(k, pairs))
    return out


def format_mlp_table(res: MlpToy) -> str:
    """One line per spawn step: mean ± s.d. over the child pairs of the test barriers."""
    st = res.settings
    lines = [
        f"tiny MLP (depth {st.depth}, width {st.width}, {st.activation}) on synthetic "
        f"data ({st.num_classes} classes x {st.clusters_per_class} clusters, "
        f"dim {st.dim}); children trained to T = {st.total_steps}; test split, "
        f"mean ± s.d. over {st.n_pairs} child pairs",
        f"{'k':>5} {'loss B_mid (nats)':>18} {'pred -1/8 dHd':>15} {'error barrier (pp)':>19} "
        f"{'child error (%)':>15}",
    ]
    for s in res.spawns:
        lines.append(
            f"{s.spawn_step:>5} {s.mean('loss_midpoint'):>+9.4f} ± {s.std('loss_midpoint'):<6.4f} "
            f"{s.mean('predicted'):>+15.4f} "
            f"{100 * s.mean('error_barrier'):>10.2f} ± {100 * s.std('error_barrier'):<6.2f} "
            f"{100 * s.mean('endpoint_error'):>15.2f}"
        )
    return "\n".join(lines)


def mlp_figure(res: MlpToy, path: Path) -> Path:
    """Mean test loss along θ_α per k (left), loss barrier and prediction (middle) and error
    barrier (right) vs k, mean ± s.d. over the pairs with single pairs as light dots."""
    from ridgeline.tracking.plotting import plt, save_png, spawn_colors, spawn_step_axis

    st = res.settings
    n = st.n_pairs
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    ax = axes[0]
    for s, color in zip(res.spawns, spawn_colors(len(res.spawns)), strict=True):
        ax.plot(
            s.pairs[0].alphas, s.mean_curve("loss"), ".-", color=color, label=f"k = {s.spawn_step}"
        )
    ax.set_xlabel("α   (θ$_α$ = (1−α)θ$_A$ + αθ$_B$)")
    ax.set_ylabel("test loss L(θ$_α$) (nats)")
    ax.set_title(
        f"Linear path between the children at T = {st.total_steps} (mean of {n} pairs)",
        fontsize=9,
    )
    ax.legend(fontsize=7, title="spawn step", title_fontsize=7)
    ax.grid(alpha=0.3)

    ks = [s.spawn_step for s in res.spawns]
    panels = (
        (
            axes[1],
            "loss_midpoint",
            1.0,
            "measured B$_{mid}$ = L(θ$_{½}$) − ½(L$_A$+L$_B$)",
            "test loss barrier B$_{mid}$ (nats)",
        ),
        (
            axes[2],
            "error_barrier",
            100.0,
            "measured max$_α$ E(θ$_α$) − ½(E$_A$+E$_B$)",
            "test error barrier (percentage points)",
        ),
    )
    for ax, attr, scale, label, ylabel in panels:
        for s in res.spawns:
            ax.plot(
                [s.spawn_step] * n,
                [scale * getattr(p, attr) for p in s.pairs],
                "o",
                color="tab:blue",
                alpha=0.25,
                ms=4,
            )
        mean = [scale * s.mean(attr) for s in res.spawns]
        sd = [scale * s.std(attr) for s in res.spawns]
        ax.fill_between(
            ks,
            [m - d for m, d in zip(mean, sd, strict=True)],
            [m + d for m, d in zip(mean, sd, strict=True)],
            color="tab:blue",
            alpha=0.15,
            lw=0,
        )
        ax.plot(ks, mean, "o-", color="tab:blue", label=f"{label}, mean ± s.d.")
        ax.axhline(0, color="k", lw=0.5)
        spawn_step_axis(ax)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[1].plot(
        ks,
        [s.mean("predicted") for s in res.spawns],
        "s--",
        color="tab:orange",
        label="predicted −⅛ΔᵀH(θ$_{½}$)Δ, mean (overshoots: quartic term)",
    )
    axes[1].set_title("Loss barrier vs spawn step (dots: single pairs)", fontsize=9)
    axes[2].axhline(2.0, color="grey", lw=0.8, ls="-.", label="2 points: Frankle et al.'s 'stable'")
    axes[2].set_title("Error barrier vs spawn step (dots: single pairs)", fontsize=9)
    for ax in axes[1:]:
        ax.legend(fontsize=7)
    fig.suptitle(
        f"Toy 2: MLP (depth {st.depth}, width {st.width}, {st.activation}) on synthetic "
        f"data ({st.num_classes} classes × {st.clusters_per_class} Gaussian clusters in "
        f"{st.dim}-d), seed {st.seed}: children spawned near θ$_0$ end in different basins, "
        "later ones in one"
    )
    fig.tight_layout()
    return save_png(fig, Path(path))
