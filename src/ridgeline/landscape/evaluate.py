"""Exact mean loss and error of many parameter sets over fixed evaluation tensors.

Each data chunk is loaded once and evaluated for every parameter set (docs/design.md §8).
Parameter sets are run through ``torch.func.functional_call`` on a private eval-mode copy of
the model, batched with ``torch.func.vmap`` when it applies. Raw sums (loss_sum, error_count,
n) are exposed so that a distributed caller can shard x, y over processes and all-reduce them
(``reduce`` hook).

Which of the two paths is faster (vmap over stacked sets, or a loop of plain forward passes)
depends on the model, the chunk size, the number of sets and the thread count, so it is measured,
once per workload (``PathCache``), and records name the path they used. Trials on slices of the
first chunk run both ways first: at most one vmap group of sets (``vmap_max_sets``) per group of
the workload, on ``TRIAL_EXAMPLES`` examples, then ``TRIAL_GROWTH`` times more while below the
chunk size. Where the loop is ``CLEAR_WIN`` times faster it is taken; otherwise the whole first
chunk is evaluated both ways and the faster one is kept (its result used) for the rest. Only the
loop can win a trial: on a slice, per-call overheads (one call per set in the loop, one per
group under vmap) weigh more than on the whole chunk, so a trial favours vmap (the quickstart's
CNN at 2 threads: vmap clearly ahead on 64 examples, 5.5x the loop's time on 2,000).
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, vmap

from ridgeline.landscape.params import BNPolicy, ParamSet, same_layout

Reduce = Callable[[Tensor], Tensor]
PerExampleLoss = Callable[[Tensor, Tensor], Tensor]
EvalPath = Literal["vmap", "loop"]
# probe.eval_path: "auto" measures (the module doc), "vmap" or "loop" pins that path.
EVAL_PATH_CHOICES = ("auto", "vmap", "loop")
PathCache = dict[Hashable, EvalPath]
T = TypeVar("T")

# Measured choices of this process, keyed by model, data shape, chunk size, threads and workload
# (the default cache of every Evaluator; pass ``path_cache={}`` for a fresh measurement).
MEASURED_PATHS: PathCache = {}
# The second round of timings runs only when neither path took CLEAR_WIN times the other and
# both together took under SECOND_ROUND_S seconds (short runs are the noisy ones; on long ones a
# second round would cost more than a close call can lose).
CLEAR_WIN = 1.5
SECOND_ROUND_S = 0.25
# The trials: so few examples that a slow vmap (grouped convolutions on a CPU run up to 6x the
# loop) costs a fraction of the workload's first chunk instead of several times it; a trial the
# loop does not clearly win is repeated on TRIAL_GROWTH times the examples before the whole chunk.
TRIAL_EXAMPLES = 64
TRIAL_GROWTH = 4


@dataclass(frozen=True)
class Metrics:
    """Mean loss L and error rate E = 1 − accuracy of one parameter set (non-finite kept)."""

    loss: float
    error: float


@dataclass(frozen=True)
class Endpoints:
    """The endpoints θ_A, θ_B of a list of sets and each set's α: set i ≈ (1−αᵢ)θ_A + αᵢθ_B.

    The ``repair`` policy takes its targets (1−αᵢ)·stat(θ_A) + αᵢ·stat(θ_B) from them.
    """

    theta_a: ParamSet
    theta_b: ParamSet
    alphas: Sequence[float]


@dataclass
class ParamSetGroup:
    """Parameter sets that share their stages before ``start`` with base set ``base``.

    With ``start > 0`` the activations entering top-level stage ``start`` are taken from the
    forward pass of ``bases[base]`` (computed once per chunk), and only stages ``start:`` run.
    """

    param_sets: Sequence[ParamSet]
    start: int = 0
    base: int | None = None
    # where each set lies between two endpoints (the REPAIR policy's targets; ignored otherwise)
    endpoints: Endpoints | None = None


def same_set(a: ParamSet, b: ParamSet) -> bool:
    """The same keys with the same tensors or equal values."""
    return a.keys() == b.keys() and all(a[k] is b[k] or torch.equal(a[k], b[k]) for k in a)


def unique_sets(sets: Sequence[ParamSet]) -> tuple[list[ParamSet], Tensor]:
    """The distinct parameter sets in first-seen order and, for each input set, its index."""
    unique: list[ParamSet] = []
    index = []
    for ps in sets:
        for i, u in enumerate(unique):
            if same_set(ps, u):
                index.append(i)
                break
        else:
            index.append(len(unique))
            unique.append(ps)
    return unique, torch.tensor(index, dtype=torch.long)


def _bn_modules(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def _first_tensor(batch: object) -> Tensor:
    if isinstance(batch, Tensor):
        return batch
    if isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], Tensor):
        return batch[0]
    raise TypeError(f"BN reset batches must be tensors or (x, y) tuples, got {type(batch)}")


def recompute_bn_stats(
    model: nn.Module, param_sets: Sequence[ParamSet], batches: Iterable[object]
) -> list[ParamSet]:
    """BN ``reset`` policy: running stats of each set recomputed on ``batches``.

    Cumulative average over batches (``momentum=None``), on a private copy of the model with
    only BatchNorm modules in train mode (dropout stays off, so no randomness is drawn).
    """
    inputs = [_first_tensor(b) for b in batches]
    if not inputs:
        raise ValueError("BN reset policy needs at least one training batch")
    work = copy.deepcopy(model).eval().requires_grad_(False)
    bns = _bn_modules(work)
    tensors = dict(work.named_parameters())
    tensors.update(dict(work.named_buffers()))
    bn_buffer_names = [
        f"{path}.{n}" if path else n
        for path, m in work.named_modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        for n, b in m.named_buffers(recurse=False)
        if b is not None and torch.is_floating_point(b)
    ]
    device = next(iter(tensors.values())).device if tensors else torch.device("cpu")
    out: list[ParamSet] = []
    with torch.no_grad():
        for ps in param_sets:
            for k, t in ps.items():
                tensors[k].copy_(t)
            for bn in bns:
                if bn.track_running_stats:
                    bn.reset_running_stats()
                    bn.momentum = None
                    bn.train()
            for xb in inputs:
                work(xb.to(device))
            for bn in bns:
                bn.eval()
            new = dict(ps)
            for k in bn_buffer_names:
                new[k] = tensors[k].detach().clone()
            out.append(new)
    return out


REPAIR_MODULES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


class _Stop(Exception):
    """Raised by a statistics hook to end a forward pass once the wanted layer has run."""


def repair_layers(model: nn.Module) -> list[str]:
    """Module paths REPAIR corrects: every Linear/Conv layer in module order but the last one.

    The last is the classifier's output layer (its logits feed no nonlinearity).
    """
    return [p for p, m in model.named_modules() if isinstance(m, REPAIR_MODULES)][:-1]


def _tensor_name(layer: str, name: str) -> str:
    return f"{layer}.{name}" if layer else name


@dataclass
class ChannelStats:
    """Exact per-channel mean and population std (ddof 0) of a layer's output, in float64."""

    mean: Tensor
    std: Tensor
    count: int


def channel_stats(
    model: nn.Module,
    param_set: ParamSet,
    batches: Iterable[object],
    layers: Sequence[str],
    stop: bool = False,
) -> dict[str, ChannelStats]:
    """Mean and std of each output channel of ``layers`` over all examples (and positions).

    μ_c = (1/N)Σ z_c, σ_c = ((1/N)Σ (z_c − μ_c)²)^½ over all N = examples × positions of the
    batches, merged exactly in float64 (Chan et al.'s pairwise update). The model runs under
    ``functional_call`` with ``param_set`` (no copy of the live model is changed). ``stop``
    ends each forward pass after the last of ``layers`` (a single layer: only its prefix runs).
    """
    modules = dict(model.named_modules())
    acc: dict[str, list] = {name: [0, None, None] for name in layers}
    seen: set[str] = set()
    last = layers[-1] if layers else None

    def hook(name: str, channel_dim: int):
        def fn(_module: nn.Module, _inp: object, out: Tensor) -> None:
            if name in seen:
                raise RuntimeError(f"REPAIR: layer {name!r} runs twice in one forward pass")
            seen.add(name)
            z = out.detach().double().movedim(channel_dim, 0)
            z = z.reshape(z.shape[0], -1)
            nb = z.shape[1]
            mb = z.mean(1)
            m2b = ((z - mb[:, None]) ** 2).sum(1)
            n, mean, m2 = acc[name]
            if mean is None:
                acc[name] = [nb, mb, m2b]
            else:
                d = mb - mean
                tot = n + nb
                acc[name] = [tot, mean + d * (nb / tot), m2 + m2b + d * d * (n * nb / tot)]
            if stop and name == last:
                raise _Stop

        return fn

    handles = []
    for name in layers:
        m = modules[name]
        if not isinstance(m, REPAIR_MODULES):
            raise TypeError(f"REPAIR corrects Linear/Conv layers; {name!r} is {type(m).__name__}")
        handles.append(m.register_forward_hook(hook(name, -1 if isinstance(m, nn.Linear) else 1)))
    params = list(model.parameters())
    device = params[0].device if params else torch.device("cpu")
    try:
        with torch.no_grad():
            for b in batches:
                seen.clear()
                with contextlib.suppress(_Stop):
                    functional_call(model, param_set, (_first_tensor(b).to(device),))
    finally:
        for h in handles:
            h.remove()
    out: dict[str, ChannelStats] = {}
    for name, (n, mean, m2) in acc.items():
        if mean is None:
            raise ValueError(f"REPAIR: layer {name!r} never ran on the batches")
        out[name] = ChannelStats(mean, (m2 / n).clamp_min(0.0).sqrt(), int(n))
    return out


def _call_order(model: nn.Module, ps: ParamSet, x: Tensor, layers: Sequence[str]) -> list[str]:
    """``layers`` sorted by when they first run in a forward pass (the order REPAIR corrects)."""
    modules = dict(model.named_modules())
    order: list[str] = []
    handles = [
        modules[name].register_forward_hook(
            lambda _m, _i, _o, name=name: order.append(name) if name not in order else None
        )
        for name in layers
    ]
    params = list(model.parameters())
    device = params[0].device if params else torch.device("cpu")
    try:
        with torch.no_grad():
            functional_call(model, ps, (x[:1].to(device),))
    finally:
        for h in handles:
            h.remove()
    missing = [name for name in layers if name not in order]
    if missing:
        raise ValueError(f"REPAIR: layer(s) {missing} never run in a forward pass")
    return order


def repair(
    model: nn.Module,
    endpoints: Endpoints,
    param_sets: Sequence[ParamSet],
    batches: Iterable[object],
    layers: Sequence[str] | None = None,
) -> list[ParamSet]:
    """REPAIR (Jordan et al. 2023): per-channel statistics of each set set to the endpoints' lerp.

    For each layer in forward (call) order, with μ, σ the set's channel statistics on
    ``batches`` (its earlier layers already corrected) and the target μ_t = (1−α)μ_A + αμ_B,
    σ_t = (1−α)σ_A + ασ_B: w' = s·w, b' = s·(b − μ) + μ_t, s = σ_t/σ (s = 1 for a constant
    channel, σ = 0). Returns plain parameter sets; θ_A, θ_B and the live model are not changed.
    """
    alphas = [float(a) for a in endpoints.alphas]
    if len(alphas) != len(param_sets):
        raise ValueError(f"{len(alphas)} alphas for {len(param_sets)} parameter sets")
    if not all(0.0 <= a <= 1.0 for a in alphas):
        raise ValueError(f"REPAIR interpolates endpoint statistics: α must lie in [0, 1], {alphas}")
    inputs = [_first_tensor(b) for b in batches]
    if not inputs:
        raise ValueError("the repair policy needs at least one training batch")
    work = copy.deepcopy(model).eval().requires_grad_(False)
    names = repair_layers(work) if layers is None else list(layers)
    for name in names:
        if _tensor_name(name, "bias") not in dict(work.named_parameters()):
            raise ValueError(f"REPAIR folds the mean shift into a bias; layer {name!r} has none")
    names = _call_order(work, dict(endpoints.theta_a), inputs[0], names)
    stats_a = channel_stats(work, dict(endpoints.theta_a), inputs, names)
    stats_b = channel_stats(work, dict(endpoints.theta_b), inputs, names)
    # an nn.Sequential runs stage by stage: each stage's inputs over all batches are kept, so a
    # layer's statistics cost a pass through its own stage only (not through all before it)
    stages: list[tuple[str, nn.Module]] = (
        list(work._modules.items()) if isinstance(work, nn.Sequential) else [("", work)]
    )
    params = list(work.parameters())
    device = params[0].device if params else torch.device("cpu")
    out: list[ParamSet] = []
    for ps, alpha in zip(param_sets, alphas, strict=True):
        new = dict(ps)
        acts = [x.to(device) for x in inputs]
        todo = list(names)
        for prefix, stage in stages:
            if not todo:
                break
            in_stage = [n for n in todo if not prefix or n == prefix or n.startswith(prefix + ".")]
            for name in in_stage:
                local = name if not prefix else ("" if name == prefix else name[len(prefix) + 1 :])
                st = channel_stats(stage, _sub_set(new, prefix), acts, [local], stop=True)[local]
                _fold(new, name, st, stats_a[name], stats_b[name], alpha)
                todo.remove(name)
            if todo and prefix:
                sub = _sub_set(new, prefix)
                with torch.no_grad():
                    acts = [functional_call(stage, sub, (h,)) for h in acts]
        out.append(new)
    return out


def _sub_set(ps: ParamSet, prefix: str) -> ParamSet:
    """The tensors of stage ``prefix`` named relative to it (all of ``ps`` for prefix '')."""
    if not prefix:
        return ps
    cut = len(prefix) + 1
    return {k[cut:]: v for k, v in ps.items() if k.startswith(prefix + ".")}


def _fold(
    ps: ParamSet, name: str, st: ChannelStats, a: ChannelStats, b: ChannelStats, alpha: float
) -> None:
    """w' = s·w, b' = s·(b − μ) + μ_t with s = σ_t/σ, the targets lerped from A's and B's stats."""
    mu_t = (1 - alpha) * a.mean + alpha * b.mean
    sd_t = (1 - alpha) * a.std + alpha * b.std
    s = torch.where(st.std > 0, sd_t / st.std.where(st.std > 0, 1.0), 1.0)
    wk, bk = _tensor_name(name, "weight"), _tensor_name(name, "bias")
    w, bias = ps[wk], ps[bk]
    s_dev = s.to(w.device)
    ps[wk] = (w.double() * s_dev.view((-1,) + (1,) * (w.dim() - 1))).to(w.dtype)
    ps[bk] = (s_dev * (bias.double() - st.mean.to(w.device)) + mu_t.to(w.device)).to(bias.dtype)


def _unique_endpoints(endpoints: Endpoints | None, index: Tensor, n: int) -> Endpoints | None:
    """The endpoints of the distinct sets: each keeps the α of its first occurrence."""
    if endpoints is None:
        return None
    if len(endpoints.alphas) != len(index):
        raise ValueError(f"{len(endpoints.alphas)} alphas for {len(index)} parameter sets")
    alphas: list[float | None] = [None] * n
    for i, j in enumerate(index.tolist()):
        if alphas[j] is None:
            alphas[j] = float(endpoints.alphas[i])
    return Endpoints(endpoints.theta_a, endpoints.theta_b, alphas)  # type: ignore[arg-type]


def use_vmap_of(eval_path: str) -> bool | None:
    """``Evaluator(use_vmap=...)`` of an ``EVAL_PATH_CHOICES`` name: None measures, else pins."""
    if eval_path not in EVAL_PATH_CHOICES:
        raise ValueError(f"eval_path must be one of {EVAL_PATH_CHOICES}, got {eval_path!r}")
    return None if eval_path == "auto" else eval_path == "vmap"


def sums_to_metrics(sums: Tensor) -> list[Metrics]:
    """[K, 3] float64 (loss_sum, error_count, n) → exact means L = Σℓ/n, E = Σerr/n."""
    out = []
    for loss_sum, err, n in sums.tolist():
        if n <= 0:
            out.append(Metrics(math.nan, math.nan))
        else:
            out.append(Metrics(loss_sum / n, err / n))
    return out


class Evaluator:
    """Evaluates many parameter sets of one model over fixed tensors x, y (exact means).

    The live model is deep-copied once (eval mode, no grad); it is never touched again.
    ``use_vmap``: None chooses the faster path by measurement (see the module doc), True or
    False pins vmap or the loop (:func:`use_vmap_of` maps ``EVAL_PATH_CHOICES`` to it).
    ``last_path`` is the path of the latest evaluation.
    ``bn_policy='repair'`` (BN-free models) applies :func:`repair` on ``bn_batches`` to every
    group, which must say where its sets lie (``ParamSetGroup.endpoints``, or ``endpoints=`` of
    :meth:`evaluate`); base sets are evaluated as they are. ``repair_layers`` overrides the
    corrected layers (default :func:`repair_layers`).
    """

    def __init__(
        self,
        model: nn.Module,
        x: Tensor,
        y: Tensor,
        chunk_size: int = 1000,
        bn_policy: BNPolicy | str = BNPolicy.INTERPOLATE,
        bn_batches: Iterable[object] | None = None,
        use_vmap: bool | None = None,
        vmap_max_sets: int = 32,
        vmap_memory_mb: float = 512.0,
        prefix_reuse: bool = True,
        per_example_loss: PerExampleLoss | None = None,
        path_cache: PathCache | None = None,
        repair_layers: Sequence[str] | None = None,
        n_total: int | None = None,
    ) -> None:
        """Set up evaluation of cross-entropy (or ``per_example_loss``) over ``x, y`` in chunks."""
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x has {x.shape[0]} examples but y has {y.shape[0]}")
        self.bn_policy = BNPolicy(bn_policy)
        self.bn_batches = list(bn_batches) if bn_batches is not None else None
        if self.bn_policy is BNPolicy.RESET and _bn_modules(model) and not self.bn_batches:
            raise ValueError("bn_policy='reset' needs bn_batches (training input batches)")
        if self.bn_policy is BNPolicy.REPAIR:
            if _bn_modules(model):
                raise ValueError("bn_policy='repair' is for BN-free models; use 'reset' with BN")
            if not self.bn_batches:
                raise ValueError("bn_policy='repair' needs bn_batches (training input batches)")
        self.repair_layers = None if repair_layers is None else list(repair_layers)
        self.source = copy.deepcopy(model).requires_grad_(False)
        self.template = copy.deepcopy(self.source).eval()
        if self.bn_policy is BNPolicy.BATCH:
            for bn in _bn_modules(self.template):
                bn.train()
                bn.track_running_stats = False
        self.x, self.y = x, y
        # the whole split's size when x, y are one process's shard of it (records count it)
        self.n_total = int(x.shape[0]) if n_total is None else int(n_total)
        self.chunk_size = int(chunk_size)
        params = list(self.template.parameters())
        self.device = params[0].device if params else x.device
        self.per_example_loss = per_example_loss
        # batch statistics are per set: stacking sets would mix them, so only the loop applies
        batch_bn = self.bn_policy is BNPolicy.BATCH and bool(_bn_modules(model))
        pinned = "loop" if batch_bn or use_vmap is False else ("vmap" if use_vmap else None)
        self.pinned_path: EvalPath | None = pinned
        self.path_cache = MEASURED_PATHS if path_cache is None else path_cache
        self.last_path: EvalPath = "loop"
        self.vmap_max_sets = max(1, int(vmap_max_sets))
        state = self.template.state_dict()
        self._layout = {k: t for k, t in state.items() if torch.is_floating_point(t)}
        n_bytes = sum(t.numel() * t.element_size() for t in state.values())
        self._set_bytes = max(1, n_bytes)
        self.vmap_memory_bytes = vmap_memory_mb * 2**20
        self._vmap_failed = False
        # what the speed of either path depends on, besides the thread count and the workload
        self._signature = (
            repr(self.template),
            tuple((k, tuple(t.shape), t.dtype) for k, t in state.items()),
            tuple(x.shape[1:]),
            x.dtype,
            str(self.device),
            self.chunk_size,
            self.bn_policy,
            per_example_loss is None,
        )
        # Structure: top-level stages of an nn.Sequential allow prefix reuse.
        self.stage_names: list[str] | None = None
        if prefix_reuse and isinstance(self.template, nn.Sequential):
            self.stage_names = list(self.template._modules.keys())
            self._suffix = [self.template[s:] for s in range(len(self.stage_names))]
            self._single = [self.template[s : s + 1] for s in range(len(self.stage_names))]
            self._stage_index = {name: i for i, name in enumerate(self.stage_names)}

    @property
    def n(self) -> int:
        """Number of evaluation examples of the split (over all processes when sharded)."""
        return self.n_total

    def stage_of(self, name: str) -> int:
        """Top-level stage index of a tensor name (0 when the model is not an nn.Sequential)."""
        if self.stage_names is None:
            return 0
        return self._stage_index[name.split(".", 1)[0]]

    def prepare(
        self, param_sets: Sequence[ParamSet], endpoints: Endpoints | None = None
    ) -> list[ParamSet]:
        """Apply the BN policy to parameter sets.

        ``reset`` recomputes running statistics; ``repair`` corrects each set towards the
        statistics of ``endpoints`` (required then, see :func:`repair`).
        """
        if self.bn_policy is BNPolicy.RESET and _bn_modules(self.source):
            assert self.bn_batches is not None
            return recompute_bn_stats(self.source, param_sets, self.bn_batches)
        if self.bn_policy is BNPolicy.REPAIR and param_sets:
            if endpoints is None:
                raise ValueError(
                    "bn_policy='repair' needs the endpoints and α of every evaluated set "
                    "(ParamSetGroup.endpoints or Evaluator.evaluate(..., endpoints=...))"
                )
            assert self.bn_batches is not None
            return repair(self.source, endpoints, param_sets, self.bn_batches, self.repair_layers)
        return list(param_sets)

    def chunks(self) -> Iterable[tuple[Tensor, Tensor]]:
        """The evaluation data as (x, y) chunks of ``chunk_size`` on the model's device."""
        for i in range(0, int(self.x.shape[0]), self.chunk_size):
            yield (
                self.x[i : i + self.chunk_size].to(self.device, non_blocking=True),
                self.y[i : i + self.chunk_size].to(self.device, non_blocking=True),
            )

    def choose_path(
        self,
        workload: Hashable,
        first_chunk: Callable[[bool], T] | None,
        reduce: Reduce | None = None,
        trial: Callable[[bool, int], object] | None = None,
    ) -> tuple[EvalPath, T | None]:
        """The evaluation path of ``workload`` and, when measured on it, the first chunk's result.

        Pinned (``use_vmap``) or remembered paths are returned as they are. Otherwise
        ``trial(use_vmap, n)`` (the workload on the first chunk's first n examples, at most
        ``vmap_max_sets`` sets per group) is timed for n = ``TRIAL_EXAMPLES``, then
        ``TRIAL_GROWTH`` times more while n is below the chunk size. A loop ``CLEAR_WIN`` times
        faster than vmap is taken without touching the first chunk (result None; a trial
        favours vmap, see the module doc). Otherwise ``first_chunk(use_vmap)`` is timed. Each timing
        runs once per path, and a second round (vmap, loop) follows when the call is close and
        cheap (``SECOND_ROUND_S``); the faster best time wins (a path that raises loses). Under
        ``reduce`` (a sum over processes) every process adds up the same times, so all take the
        same path after the same reductions; a process with no data passes ``first_chunk=None``
        and ``trial=None`` and still takes part in them.
        """
        if self.pinned_path is not None:
            return ("loop" if self._vmap_failed else self.pinned_path), None
        key = (self._signature, torch.get_num_threads(), workload)
        if key in self.path_cache:
            return self.path_cache[key], None
        n = TRIAL_EXAMPLES
        while (trial is not None or reduce is not None) and n < self.chunk_size:
            run = None if trial is None else (lambda use, n=n: trial(use, n))
            quick = self._reduced(self._time_paths(run, {}), reduce)
            if quick[0] > 0 and quick[1] > CLEAR_WIN * quick[0]:  # only the loop wins a trial
                return self._remember(key, quick), None
            n *= TRIAL_GROWTH
        results: dict[bool, T] = {}
        times = self._reduced(self._time_paths(first_chunk, results), reduce)
        path = self._remember(key, times)
        return path, results.get(path == "vmap")

    def _time_paths(self, run: Callable[[bool], T] | None, results: dict[bool, T]) -> list[float]:
        """Best wall time of ``run(use_vmap)`` per path [loop, vmap] (inf where vmap raises;
        zeros without ``run``), results kept in ``results``; a second round only when close
        and cheap (``CLEAR_WIN``, ``SECOND_ROUND_S``)."""
        if run is None:
            return [0.0, 0.0]
        best = [math.inf, math.inf]
        for i, use in enumerate((False, True, True, False)):
            if i == 2 and (max(best) > CLEAR_WIN * min(best) or sum(best) > SECOND_ROUND_S):
                break  # clearly decided, or a second round would cost too much
            start = time.perf_counter()
            try:
                results[use] = run(use)
            except (RuntimeError, NotImplementedError):
                if not use:
                    raise
                continue  # an op without a vmap rule: the loop wins
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            best[use] = min(best[use], time.perf_counter() - start)
        return best

    @staticmethod
    def _reduced(times: list[float], reduce: Reduce | None) -> list[float]:
        """[loop, vmap] seconds summed over processes by ``reduce`` (as they are without)."""
        if reduce is None:
            return times
        return reduce(torch.tensor(times, dtype=torch.float64)).tolist()

    def _remember(self, key: Hashable, times: list[float]) -> EvalPath:
        """The faster path of [loop, vmap] ``times``, kept in the path cache under ``key``."""
        path: EvalPath = "vmap" if times[1] < times[0] else "loop"
        self.path_cache[key] = path
        return path

    # ----------------------------------------------------------------------------------------
    def _keys_from(self, ps: ParamSet, start: int, single: bool = False) -> ParamSet:
        if self.stage_names is None:
            return ps
        if single:
            return {k: v for k, v in ps.items() if self.stage_of(k) == start}
        return {k: v for k, v in ps.items() if self.stage_of(k) >= start}

    def _module_from(self, start: int) -> nn.Module:
        return self.template if self.stage_names is None or start == 0 else self._suffix[start]

    def _chunk_sums(self, out: Tensor, y: Tensor) -> Tensor:
        """Per-set sums [K, 3] from outputs [K, B, ...] (or [B, ...] with K=1)."""
        k, b = out.shape[0], out.shape[1]
        flat = out.reshape(k * b, *out.shape[2:])
        yy = y if k == 1 else y.repeat(k, *([1] * (y.dim() - 1)))
        if self.per_example_loss is None:
            logits = flat if flat.dtype in (torch.float32, torch.float64) else flat.float()
            losses = F.cross_entropy(logits, yy, reduction="none")
        else:
            losses = self.per_example_loss(flat, yy)
        loss_sum = losses.reshape(k, -1).double().sum(1)
        if not torch.is_floating_point(y) and flat.dim() >= 2:
            err = (flat.argmax(1) != yy).reshape(k, -1).double().sum(1)
        else:
            err = torch.full((k,), math.nan, dtype=torch.float64, device=out.device)
        n = torch.full((k,), float(b), dtype=torch.float64, device=out.device)
        return torch.stack([loss_sum, err, n], dim=1)

    def _run_sets(self, stacked: list[tuple[bool, object]], h: Tensor, y: Tensor, start: int):
        module = self._module_from(start)
        parts = []
        for is_stacked, item in stacked:
            if is_stacked:
                out = vmap(lambda p, inp: functional_call(module, p, (inp,)), in_dims=(0, None))(
                    item, h
                )
                parts.append(self._chunk_sums(out, y))
            else:
                out = functional_call(module, item, (h,))
                parts.append(self._chunk_sums(out.unsqueeze(0), y))
        return torch.cat(parts, 0)

    def _pack(
        self, sets: Sequence[ParamSet], start: int, use_vmap: bool
    ) -> list[tuple[bool, object]]:
        """Restrict sets to the suffix keys and stack them into vmap groups where allowed."""
        subs = [self._keys_from(ps, start) for ps in sets]
        if not use_vmap or len(subs) < 2:
            return [(False, s) for s in subs]
        per_group = int(min(self.vmap_max_sets, self.vmap_memory_bytes // self._set_bytes))
        if per_group < 2 or any(s.keys() != subs[0].keys() for s in subs):
            return [(False, s) for s in subs]
        packed: list[tuple[bool, object]] = []
        for i in range(0, len(subs), per_group):
            grp = subs[i : i + per_group]
            if len(grp) == 1:
                packed.append((False, grp[0]))
            else:
                packed.append((True, {k: torch.stack([s[k] for s in grp]) for k in grp[0]}))
        return packed

    def run(
        self,
        groups: Sequence[ParamSetGroup],
        bases: Sequence[ParamSet] = (),
        reduce: Reduce | None = None,
        prepared: bool = False,
    ) -> tuple[list[list[Metrics]], list[Metrics]]:
        """Evaluate all groups (and the base sets) in one pass over the data.

        Returns per-group metrics and the metrics of each base set. BN policy is applied unless
        ``prepared``. The CPU float64 sums [K, 3] go through ``reduce`` (e.g. an all-reduce-sum
        that moves them to the process group's device) before dividing.
        """
        sums_groups, sums_bases = self.run_sums(groups, bases, prepared=prepared, reduce=reduce)
        sizes = [s.shape[0] for s in sums_groups]
        total = torch.cat([*sums_groups, sums_bases], 0)
        if reduce is not None:
            total = reduce(total)
        metrics = sums_to_metrics(total)
        out, i = [], 0
        for s in sizes:
            out.append(metrics[i : i + s])
            i += s
        return out, metrics[i:]

    def run_sums(
        self,
        groups: Sequence[ParamSetGroup],
        bases: Sequence[ParamSet] = (),
        prepared: bool = False,
        reduce: Reduce | None = None,
    ) -> tuple[list[Tensor], Tensor]:
        """Raw float64 sums [K, 3] = (loss_sum, error_count, n) for every group and base set.

        Identical parameter sets within a group (e.g. every α between two children at their
        spawn point) are evaluated once and their sums repeated: exact, not an approximation.
        ``reduce`` (a sum over processes) only serves to agree on the path (sums stay local).
        """
        bases, base_index = unique_sets(bases)
        uniques = [unique_sets(g.param_sets) for g in groups]
        groups = [
            ParamSetGroup(
                u,
                g.start,
                None if g.base is None else int(base_index[g.base]),
                _unique_endpoints(g.endpoints, index, len(u)),
            )
            for g, (u, index) in zip(groups, uniques, strict=True)
        ]
        sums_groups, sums_bases = self._unique_run_sums(groups, bases, prepared, reduce)
        return (
            [s[index] for s, (_, index) in zip(sums_groups, uniques, strict=True)],
            sums_bases[base_index],
        )

    def _unique_run_sums(
        self,
        groups: Sequence[ParamSetGroup],
        bases: Sequence[ParamSet],
        prepared: bool,
        reduce: Reduce | None,
    ) -> tuple[list[Tensor], Tensor]:
        if not prepared:
            if self.bn_policy is BNPolicy.REPAIR and any(g.start > 0 for g in groups):
                raise ValueError("bn_policy='repair' changes every stage: no prefix reuse")
            bases = list(bases)
            if bases and self.bn_policy is not BNPolicy.REPAIR:
                bases = self.prepare(bases)
            groups = [
                ParamSetGroup(self.prepare(g.param_sets, g.endpoints), g.start, g.base)
                for g in groups
            ]
        for g in groups:
            if g.start > 0 and (self.stage_names is None or g.base is None):
                raise ValueError("a group with start > 0 needs a base set and an nn.Sequential")
        if self.pinned_path != "vmap" or self._vmap_failed:
            return self._run_sums(groups, bases, reduce)
        try:
            return self._run_sums(groups, bases, reduce)
        except (RuntimeError, NotImplementedError):
            self._vmap_failed = True  # an op without a vmap rule: fall back to the loop
            return self._run_sums(groups, bases, reduce)

    def _laid_out(self, ps: ParamSet) -> ParamSet:
        """``ps`` with the strides of the model's own tensors (:func:`same_layout`)."""
        return {
            k: same_layout(self._layout[k], v) if k in self._layout else v for k, v in ps.items()
        }

    def _run_sums(self, groups, bases, reduce) -> tuple[list[Tensor], Tensor]:
        groups = [
            ParamSetGroup([self._laid_out(ps) for ps in g.param_sets], g.start, g.base)
            for g in groups
        ]
        bases = [self._laid_out(b) for b in bases]
        need: dict[int, set[int]] = {}
        for g in groups:
            if g.start > 0:
                need.setdefault(int(g.base), set()).add(g.start)  # type: ignore[arg-type]
        loop = [self._pack(g.param_sets, g.start, False) for g in groups]
        stacked = (
            [self._pack(g.param_sets, g.start, True) for g in groups]
            if self.pinned_path != "loop" and not self._vmap_failed
            else loop
        )
        base_stage_keys = [
            [self._keys_from(b, s, single=True) for s in range(len(self.stage_names))]
            if self.stage_names is not None
            else None
            for b in bases
        ]

        def chunk_sums(chunk: tuple[Tensor, Tensor], use_vmap: bool) -> Tensor:
            return self._chunk_pass(
                chunk, groups, stacked if use_vmap else loop, bases, base_stage_keys, need
            )

        def trial_sums(use_vmap: bool, n: int) -> Tensor:
            few = [
                ParamSetGroup(g.param_sets[: self.vmap_max_sets], g.start, g.base) for g in groups
            ]
            packs = [self._pack(g.param_sets, g.start, use_vmap) for g in few]
            xc, yc = first  # type: ignore[misc]
            return self._chunk_pass((xc[:n], yc[:n]), few, packs, bases, base_stage_keys, need)

        chunks = iter(self.chunks())
        first = next(chunks, None)
        path: EvalPath = "loop"
        sums = None
        if any(is_stacked for pk in stacked for is_stacked, _ in pk):
            workload = (tuple((g.start, len(g.param_sets)) for g in groups), len(bases))
            run_first = None if first is None else lambda use: chunk_sums(first, use)
            path, sums = self.choose_path(
                workload, run_first, reduce, trial=None if first is None else trial_sums
            )
        use_vmap = path == "vmap"
        if first is not None and sums is None:
            sums = chunk_sums(first, use_vmap)
        for chunk in chunks:
            sums += chunk_sums(chunk, use_vmap)
        if sums is None:
            rows = sum(len(g.param_sets) for g in groups) + len(bases)
            sums = torch.zeros(rows, 3, dtype=torch.float64)
        self.last_path = path
        sums = sums.cpu()
        out, i = [], len(bases)
        for g in groups:
            out.append(sums[i : i + len(g.param_sets)])
            i += len(g.param_sets)
        return out, sums[: len(bases)]

    def _chunk_pass(self, chunk, groups, packed, bases, base_stage_keys, need) -> Tensor:
        """Sums [bases + all groups' sets, 3] of one chunk (bases first, then groups in order)."""
        xc, yc = chunk
        rows = []
        with torch.no_grad():
            acts: dict[tuple[int, int], Tensor] = {}
            for bi, base in enumerate(bases):
                if self.stage_names is None:
                    out = functional_call(self.template, base, (xc,))
                else:
                    h = xc
                    for s in range(len(self.stage_names)):
                        if s in need.get(bi, ()):
                            acts[(bi, s)] = h
                        h = functional_call(self._single[s], base_stage_keys[bi][s], (h,))
                    out = h
                rows.append(self._chunk_sums(out.unsqueeze(0), yc))
            for group, pk in zip(groups, packed, strict=True):
                h = xc if group.start == 0 else acts[(int(group.base), group.start)]
                rows.append(self._run_sets(pk, h, yc, group.start))
        if not rows:
            return torch.zeros(0, 3, dtype=torch.float64, device=self.device)
        return torch.cat(rows, 0)

    def sums(self, param_sets: Sequence[ParamSet], endpoints: Endpoints | None = None) -> Tensor:
        """Raw float64 sums [K, 3] = (loss_sum, error_count, n) of each parameter set."""
        return self.run_sums([ParamSetGroup(param_sets, endpoints=endpoints)])[0][0]

    def evaluate(
        self,
        param_sets: Sequence[ParamSet],
        reduce: Reduce | None = None,
        endpoints: Endpoints | None = None,
    ) -> list[Metrics]:
        """Exact mean loss L = (1/n)Σℓᵢ and error E = (1/n)Σ[argmax ≠ y] of each set.

        ``endpoints`` says where the sets lie (needed by the ``repair`` policy only).
        """
        return self.run([ParamSetGroup(param_sets, endpoints=endpoints)], reduce=reduce)[0][0]
