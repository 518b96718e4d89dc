"""Exact mean loss and error of many parameter sets over fixed evaluation tensors.

Each data chunk is loaded once and evaluated for every parameter set (docs/design.md §8).
Parameter sets run through ``torch.func.functional_call`` on a private eval-mode copy of the
model, batched with ``vmap`` (attention on SDPA's math backend) where it applies. Raw sums
(loss_sum, error_count, n) let a distributed caller shard x, y over processes and all-reduce
them (``reduce`` hook). The path (vmap or loop) is measured once per workload
(:mod:`ridgeline.landscape.eval_path`); BN policies: :mod:`ridgeline.landscape.normalization`.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ridgeline.landscape.eval_path import (
    MEASURED_PATHS,
    Chunk,
    EvalPath,
    PathTuning,
    TuningKeywords,
    measure_path,
    run_chunks,
)
from ridgeline.landscape.groups import Pack, ParamSetGroup, dedupe, pack_sets, split_rows
from ridgeline.landscape.kernels import math_vmap
from ridgeline.landscape.normalization import (
    Endpoints,
    batch_statistics,
    bn_modules,
    check_policy,
    prepare_sets,
)
from ridgeline.landscape.params import BNPolicy, ParamSet, same_layout
from ridgeline.landscape.sums import Metrics, PerExampleLoss, Reduce, output_sums, sums_to_metrics

if TYPE_CHECKING:
    from typing_extensions import Unpack

T = TypeVar("T")


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
        per_example_loss: PerExampleLoss | None = None,
        repair_layers: Sequence[str] | None = None,
        n_total: int | None = None,
        prefix_reuse: bool = True,
        tuning: PathTuning | None = None,
        **tuning_keywords: Unpack[TuningKeywords],
    ) -> None:
        """Set up evaluation of cross-entropy (or ``per_example_loss``) over ``x, y`` in chunks.

        ``tuning`` (:class:`PathTuning`) says how the path is chosen; its fields may also be
        given as keywords (``use_vmap=False``, ``path_cache={}``, ...), which override it.
        """
        tune = dataclasses.replace(tuning or PathTuning(), **tuning_keywords)
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x has {x.shape[0]} examples but y has {y.shape[0]}")
        self.bn_policy = BNPolicy(bn_policy)
        self.bn_batches = list(bn_batches) if bn_batches is not None else None
        check_policy(self.bn_policy, model, self.bn_batches)
        self.repair_layers = None if repair_layers is None else list(repair_layers)
        self.source = copy.deepcopy(model).requires_grad_(False)
        self.template = copy.deepcopy(self.source).eval()
        if self.bn_policy is BNPolicy.BATCH:
            batch_statistics(self.template)
        self.x, self.y = x, y
        # the whole split's size when x, y are one process's shard of it (records count it)
        self.n_total = int(x.shape[0]) if n_total is None else int(n_total)
        self.chunk_size = int(chunk_size)
        params = list(self.template.parameters())
        self.device = params[0].device if params else x.device
        self.per_example_loss = per_example_loss
        # batch statistics are per set: stacking sets would mix them, so only the loop applies
        batch_bn = self.bn_policy is BNPolicy.BATCH and bool(bn_modules(model))
        use_vmap = tune.use_vmap
        pinned: EvalPath | None = (
            "loop" if batch_bn or use_vmap is False else ("vmap" if use_vmap else None)
        )
        self.pinned_path = pinned
        self.path_cache = MEASURED_PATHS if tune.path_cache is None else tune.path_cache
        self.clock = tune.clock
        self.last_path: EvalPath = "loop"
        self.vmap_max_sets = max(1, int(tune.vmap_max_sets))
        state = self.template.state_dict()
        self._layout = {k: t for k, t in state.items() if torch.is_floating_point(t)}
        n_bytes = sum(t.numel() * t.element_size() for t in state.values())
        self._set_bytes = max(1, n_bytes)
        self.vmap_memory_bytes = tune.vmap_memory_mb * 2**20
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
        """Apply the BN policy to parameter sets (:func:`prepare_sets`; ``repair`` needs the
        ``endpoints``)."""
        return prepare_sets(
            self.bn_policy,
            self.source,
            param_sets,
            self.bn_batches,
            endpoints,
            self.repair_layers,
        )

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

        Pinned (``use_vmap``) or remembered paths are returned as they are; otherwise
        :func:`~ridgeline.landscape.eval_path.measure_path` times ``trial(use_vmap, n)``, then
        ``first_chunk(use_vmap)``, on this evaluator's clock and remembers the faster path.
        """
        if self.pinned_path is not None:
            return ("loop" if self._vmap_failed else self.pinned_path), None
        key = (self._signature, torch.get_num_threads(), workload)
        if key in self.path_cache:
            return self.path_cache[key], None
        return measure_path(
            key,
            self.path_cache,
            self.chunk_size,
            first_chunk,
            reduce,
            trial,
            self.device,
            self.clock,
        )

    def keys_from(self, ps: ParamSet, start: int, single: bool = False) -> ParamSet:
        """The tensors of ``ps`` in stages ``start`` and after (only in ``start``: ``single``)."""
        if self.stage_names is None:
            return ps
        if single:
            return {k: v for k, v in ps.items() if self.stage_of(k) == start}
        return {k: v for k, v in ps.items() if self.stage_of(k) >= start}

    def module_from(self, start: int) -> nn.Module:
        """The eval-mode model from top-level stage ``start`` on (the whole model at 0)."""
        return self.template if self.stage_names is None or start == 0 else self._suffix[start]

    def stage_module(self, stage: int) -> nn.Sequential:
        """Top-level stage ``stage`` alone, as a one-stage nn.Sequential (tensor names keep
        their stage prefix); only for an nn.Sequential model with prefix reuse."""
        if self.stage_names is None:
            raise ValueError("stage_module needs an nn.Sequential model with prefix reuse")
        return self._single[stage]

    def _run_sets(self, packed: list[Pack], h: Tensor, y: Tensor, start: int) -> Tensor:
        module = self.module_from(start)

        def forward(p: ParamSet, inp: Tensor) -> Tensor:
            return functional_call(module, p, (inp,))

        parts = []
        for is_stacked, item in packed:
            if is_stacked:
                out = math_vmap(forward, in_dims=(0, None))(item, h)
                parts.append(output_sums(out, y, self.per_example_loss))
            else:
                out = functional_call(module, item, (h,))
                parts.append(output_sums(out.unsqueeze(0), y, self.per_example_loss))
        return torch.cat(parts, 0)

    def _pack(self, sets: Sequence[ParamSet], start: int, use_vmap: bool) -> list[Pack]:
        """Restrict sets to the suffix keys and stack them into vmap groups where allowed."""
        subs = [self.keys_from(ps, start) for ps in sets]
        per_group = int(min(self.vmap_max_sets, self.vmap_memory_bytes // self._set_bytes))
        return pack_sets(subs, per_group if use_vmap else 1)

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
        return split_rows(metrics, sizes), metrics[sum(sizes) :]

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
        groups, bases, indices, base_index = dedupe(groups, bases)
        sums_groups, sums_bases = self._unique_run_sums(groups, bases, prepared, reduce)
        return [s[i] for s, i in zip(sums_groups, indices, strict=True)], sums_bases[base_index]

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

    def _run_sums(
        self, groups: Sequence[ParamSetGroup], bases: Sequence[ParamSet], reduce: Reduce | None
    ) -> tuple[list[Tensor], Tensor]:
        groups = [
            ParamSetGroup([self._laid_out(ps) for ps in g.param_sets], g.start, g.base)
            for g in groups
        ]
        bases = [self._laid_out(b) for b in bases]
        need: dict[int, set[int]] = {}
        for g in groups:
            if g.start > 0 and g.base is not None:
                need.setdefault(int(g.base), set()).add(g.start)
        loop = [self._pack(g.param_sets, g.start, False) for g in groups]
        stacked = (
            [self._pack(g.param_sets, g.start, True) for g in groups]
            if self.pinned_path != "loop" and not self._vmap_failed
            else loop
        )
        base_stage_keys = [
            [self.keys_from(b, s, single=True) for s in range(len(self.stage_names))]
            if self.stage_names is not None
            else None
            for b in bases
        ]

        def chunk_sums(chunk: Chunk, use_vmap: bool) -> Tensor:
            return self._chunk_pass(
                chunk, groups, stacked if use_vmap else loop, bases, base_stage_keys, need
            )

        def trial_sums(chunk: Chunk, use_vmap: bool) -> Tensor:
            few = [
                ParamSetGroup(g.param_sets[: self.vmap_max_sets], g.start, g.base) for g in groups
            ]
            packs = [self._pack(g.param_sets, g.start, use_vmap) for g in few]
            return self._chunk_pass(chunk, few, packs, bases, base_stage_keys, need)

        measured = any(is_stacked for pk in stacked for is_stacked, _ in pk)
        workload = (tuple((g.start, len(g.param_sets)) for g in groups), len(bases))
        total = run_chunks(self, workload if measured else None, chunk_sums, trial_sums, reduce)
        sums = total.sums
        if sums is None:
            rows = sum(len(g.param_sets) for g in groups) + len(bases)
            sums = torch.zeros(rows, 3, dtype=torch.float64)
        self.last_path = total.path
        sums = sums.cpu()
        sizes = [len(g.param_sets) for g in groups]
        return split_rows(sums[len(bases) :], sizes), sums[: len(bases)]

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
                        h = functional_call(self.stage_module(s), base_stage_keys[bi][s], (h,))
                    out = h
                rows.append(output_sums(out.unsqueeze(0), yc, self.per_example_loss))
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
