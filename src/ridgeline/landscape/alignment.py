"""Align θ_B's hidden units to θ_A's before interpolating (LMC modulo permutation).

- Weight matching (Ainsworth et al. 2023, Git Re-Basin): maximise Σ_tensors ⟨W_A, P(W_B)⟩ by
  coordinate descent over the permutation groups in a seeded random order; each step solves the
  linear assignment problem max_P ⟨C_g, P⟩ with C_g the summed weight correlations of group g,
  the other groups held fixed; sweeps stop when no group improves. Since ‖θ_A − P(θ_B)‖² =
  ‖θ_A‖² + ‖θ_B‖² − 2⟨θ_A, P(θ_B)⟩, the distance over the matched parameters never grows.
- Activation matching (Ainsworth et al. 2023; Entezari et al. 2022): per group, the assignment
  maximising Σ_sites corr(a_i, b_j), the Pearson correlation of the two networks' activations
  over fixed examples (and spatial positions); constant units correlate 0 with everything.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor, fx, nn

from ridgeline.landscape.params import ParamSet, StateDict, distance, param_names
from ridgeline.landscape.permutation import (
    Permutation,
    PermutationSpec,
    apply_permutation,
    identity_permutation,
    permutation_spec,
    permute_axis,
    trace,
)
from ridgeline.landscape.results import Record
from ridgeline.landscape.sums import Reduce, reduce_sum_lists

ALIGNMENT_METHODS = ("weight", "activation")


@dataclass
class AlignmentRecord(Record):
    """How θ_B was aligned to θ_A: method, distances over the parameters, cost.

    dist_before = ‖θ_B − θ_A‖, dist_after = ‖P(θ_B) − θ_A‖; moved_units: units not mapped to
    themselves; sweeps: weight-matching passes over all groups (0 for activation matching).
    group: ``permutation`` or ``orthogonal`` (a transformer's residual-stream map);
    coordinates: ``original`` weights or ``reparameterised`` (LayerNorm folded into gain-free
    RMSNorms, :mod:`~ridgeline.landscape.transformer_symmetry`): a barrier is measured along the
    straight line in these coordinates, and the two are different paths.
    """

    method: str
    dist_before: float
    dist_after: float
    groups: int
    units: int
    moved_units: int
    sweeps: int
    seconds: float
    n_examples: int = 0
    group: str = "permutation"
    coordinates: str = "original"


def _assign(cost: np.ndarray) -> np.ndarray:
    """The permutation σ maximising Σ_i cost[i, σ(i)] (a linear assignment problem)."""
    rows, cols = linear_sum_assignment(cost, maximize=True)
    out = np.empty(cost.shape[0], dtype=np.int64)
    out[rows] = cols
    return out


def _unit_rows(t: Tensor, axis: int, size: int) -> Tensor:
    """[size, rest]: row i holds every entry of unit i along ``axis`` (its block, other axes)."""
    return t.movedim(axis, 0).reshape(size, -1)


def weight_matching(
    spec: PermutationSpec,
    a: StateDict,
    b: StateDict,
    seed: int = 0,
    max_sweeps: int = 100,
) -> tuple[Permutation, int]:
    """Git Re-Basin weight matching of ``b`` onto ``a`` over the spec's parameters (not buffers).

    Returns the permutation (apply it to ``b``) and the number of sweeps over all groups.
    Deterministic: the group order of each sweep comes from ``numpy.random.default_rng(seed)``.
    """
    rng = np.random.default_rng(seed)
    perm = {k: v.numpy() for k, v in identity_permutation(spec).items()}
    # tensor name → [(group, axis, block)] over parameters only
    uses: dict[str, list[tuple[str, int, int]]] = {}
    for g in spec.groups:
        for ax in g.axes:
            if not ax.is_buffer and ax.name in a:
                uses.setdefault(ax.name, []).append((g.name, ax.axis, ax.block))
    by_group = {
        g.name: [(n, ax) for n, us in uses.items() for gg, ax, _ in us if gg == g.name]
        for g in spec.groups
    }
    a64 = {k: a[k].detach().double() for k in uses}  # on the tensors' device
    b64 = {k: b[k].detach().double() for k in uses}
    sweeps, improved = 0, True
    while improved and sweeps < max_sweeps:
        sweeps += 1
        improved = False
        for gi in rng.permutation(len(spec.groups)):
            g = spec.groups[int(gi)]
            cost: Tensor | float = 0.0
            for name, axis in by_group[g.name]:
                wb = b64[name]
                for other, o_axis, o_block in uses[name]:
                    if o_axis != axis:
                        wb = permute_axis(wb, o_axis, torch.from_numpy(perm[other]), o_block)
                cost = cost + _unit_rows(a64[name], axis, g.size) @ _unit_rows(wb, axis, g.size).T
            assert isinstance(cost, Tensor)  # every group has a weight axis
            c = cost.cpu().numpy()
            new = _assign(c)
            idx = np.arange(g.size)
            old_value, new_value = c[idx, perm[g.name]].sum(), c[idx, new].sum()
            if new_value > old_value + 1e-12 * max(1.0, abs(old_value)):
                perm[g.name] = new
                improved = True
    return {k: torch.from_numpy(v) for k, v in perm.items()}, sweeps


class _Recorder(fx.Interpreter):
    """Runs a traced model and keeps the outputs of the named nodes."""

    def __init__(self, gm: fx.GraphModule, keep: set[str]) -> None:
        super().__init__(gm)
        self.keep = keep
        self.kept: dict[str, Tensor] = {}

    def run_node(self, n: fx.Node) -> object:
        out = super().run_node(n)
        if n.name in self.keep:
            self.kept[n.name] = out
        return out


def _loaded(gm: fx.GraphModule, ps: StateDict) -> fx.GraphModule:
    """A private eval-mode copy of ``gm`` holding the tensors of ``ps``."""
    work = copy.deepcopy(gm).eval().requires_grad_(False)
    tensors: dict[str, Tensor] = dict(work.named_parameters())
    tensors.update(dict(work.named_buffers()))
    with torch.no_grad():
        for k, t in ps.items():
            tensors[k].copy_(t)
    return work


def _units_last(t: Tensor) -> Tensor:
    """[N, C, ...] → [N·..., C] in float64: every example and position is one sample."""
    return t.movedim(1, -1).reshape(-1, t.shape[1]).double()


def _correlation(sums: list[Tensor]) -> Tensor:
    """Pearson correlations corr(a_i, b_j) from Σa, Σb, Σa², Σb², Σabᵀ, n (0 for constants)."""
    sa, sb, saa, sbb, sab, n = sums
    n = n.clamp_min(1)
    ma, mb = sa / n, sb / n
    sd_a = (saa / n - ma * ma).clamp_min(0).sqrt()
    sd_b = (sbb / n - mb * mb).clamp_min(0).sqrt()
    cov = sab / n - ma[:, None] * mb[None, :]
    scale = sd_a[:, None] * sd_b[None, :]
    return torch.where(scale > 0, cov / scale.clamp_min(1e-300), torch.zeros_like(cov))


def activation_matching(
    model: nn.Module,
    spec: PermutationSpec,
    a: StateDict,
    b: StateDict,
    x: Tensor,
    *,
    chunk_size: int = 1000,
    reduce: Reduce | None = None,
) -> tuple[Permutation, int]:
    """Per group, the assignment maximising the summed activation correlations (module doc).

    ``x`` are fixed input examples (this process's shard under DDP: the raw sums Σa, Σb, Σa²,
    Σb², Σabᵀ, n are summed over processes by ``reduce`` before the correlations are formed).
    Returns the permutation (apply it to ``b``) and the number of examples used in all.
    """
    gm = trace(model)
    nets = (_loaded(gm, a), _loaded(gm, b))
    keep = {s for g in spec.groups for s in g.activations}
    # (group, site) → [Σa, Σb, Σa², Σb², Σabᵀ, n] in float64 (zeros for an empty shard)
    sums = {
        (g.name, s): [torch.zeros(g.size, dtype=torch.float64, device=x.device) for _ in range(4)]
        + [
            torch.zeros(g.size, g.size, dtype=torch.float64, device=x.device),
            torch.zeros(1, dtype=torch.float64, device=x.device),
        ]
        for g in spec.groups
        for s in g.activations
    }
    with torch.no_grad():
        for start in range(0, x.shape[0], chunk_size):
            xb = x[start : start + chunk_size]
            outs = []
            for net in nets:
                rec = _Recorder(net, keep)
                rec.run(xb)
                outs.append(rec.kept)
            for g in spec.groups:
                for s in g.activations:
                    ua, ub = _units_last(outs[0][s]), _units_last(outs[1][s])
                    acc = sums[(g.name, s)]
                    acc[0] += ua.sum(0)
                    acc[1] += ub.sum(0)
                    acc[2] += (ua * ua).sum(0)
                    acc[3] += (ub * ub).sum(0)
                    acc[4] += ua.T @ ub
                    acc[5] += ua.shape[0]
    reduced, n_total = reduce_sum_lists(sums, int(x.shape[0]), reduce)
    perm: Permutation = {}
    for g in spec.groups:
        cost = sum(
            (_correlation(reduced[(g.name, s)]) for s in g.activations),
            torch.zeros(g.size, g.size, dtype=torch.float64),
        )
        perm[g.name] = torch.from_numpy(_assign(cost.numpy()))
    return perm, n_total


def align(
    model: nn.Module,
    a: StateDict,
    b: StateDict,
    method: str = "weight",
    x: Tensor | None = None,
    spec: PermutationSpec | None = None,
    seed: int = 0,
    chunk_size: int = 1000,
    reduce: Reduce | None = None,
) -> tuple[ParamSet, AlignmentRecord]:
    """θ_B permuted onto θ_A (parameters and float buffers) and how it was done.

    ``method``: ``weight`` (no data) or ``activation`` (needs input examples ``x``).
    """
    if method not in ALIGNMENT_METHODS:
        raise ValueError(
            f"alignment method must be one of {', '.join(ALIGNMENT_METHODS)}, got {method!r}"
        )
    start = time.perf_counter()
    spec = permutation_spec(model) if spec is None else spec
    sweeps, n_examples = 0, 0
    if method == "weight":
        perm, sweeps = weight_matching(spec, a, b, seed=seed)
    else:
        if x is None:
            raise ValueError("activation matching needs input examples x")
        perm, n_examples = activation_matching(
            model, spec, a, b, x, chunk_size=chunk_size, reduce=reduce
        )
    aligned = apply_permutation(spec, b, perm)
    names = param_names(model)
    record = AlignmentRecord(
        method=method,
        dist_before=distance(a, b, names),
        dist_after=distance(a, aligned, names),
        groups=len(spec.groups),
        units=sum(g.size for g in spec.groups),
        moved_units=sum(int((p != torch.arange(len(p))).sum()) for p in perm.values()),
        sweeps=sweeps,
        seconds=time.perf_counter() - start,
        n_examples=n_examples,
    )
    return aligned, record
