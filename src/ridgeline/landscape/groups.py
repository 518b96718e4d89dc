"""Parameter-set groups an :class:`~ridgeline.landscape.evaluate.Evaluator` runs together.

A group shares its stages before ``start`` with a base set; identical sets within a group are
evaluated once (:func:`unique_sets`), each keeping the α of its first occurrence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import Tensor

from ridgeline.landscape.normalization import Endpoints
from ridgeline.landscape.params import ParamSet

R = TypeVar("R", Tensor, list)


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


def unique_endpoints(endpoints: Endpoints | None, index: Tensor, n: int) -> Endpoints | None:
    """The endpoints of the distinct sets: each keeps the α of its first occurrence."""
    if endpoints is None:
        return None
    if len(endpoints.alphas) != len(index):
        raise ValueError(f"{len(endpoints.alphas)} alphas for {len(index)} parameter sets")
    first: dict[int, float] = {}
    for i, j in enumerate(index.tolist()):
        first.setdefault(j, float(endpoints.alphas[i]))
    return Endpoints(endpoints.theta_a, endpoints.theta_b, [first[j] for j in range(n)])


# (stacked, sets): a vmap group of sets stacked along a new first dim, or one set as it is
Pack = tuple[bool, ParamSet]


def pack_sets(subs: Sequence[ParamSet], per_group: int) -> list[Pack]:
    """``subs`` in vmap groups of at most ``per_group`` stacked sets, or one by one when
    ``per_group`` < 2, fewer than two sets or their keys differ (a group of one stays unstacked).
    """
    if per_group < 2 or len(subs) < 2 or any(s.keys() != subs[0].keys() for s in subs):
        return [(False, s) for s in subs]
    packed: list[Pack] = []
    for i in range(0, len(subs), per_group):
        grp = subs[i : i + per_group]
        if len(grp) == 1:
            packed.append((False, grp[0]))
        else:
            packed.append((True, {k: torch.stack([s[k] for s in grp]) for k in grp[0]}))
    return packed


def dedupe(
    groups: Sequence[ParamSetGroup], bases: Sequence[ParamSet]
) -> tuple[list[ParamSetGroup], list[ParamSet], list[Tensor], Tensor]:
    """The groups and bases with each distinct set once, and where each input set went:
    (groups, bases, each group's index of its sets, the bases' index)."""
    unique_bases, base_index = unique_sets(bases)
    uniques = [unique_sets(g.param_sets) for g in groups]
    out = [
        ParamSetGroup(
            u,
            g.start,
            None if g.base is None else int(base_index[g.base]),
            unique_endpoints(g.endpoints, index, len(u)),
        )
        for g, (u, index) in zip(groups, uniques, strict=True)
    ]
    return out, unique_bases, [index for _, index in uniques], base_index


def split_rows(rows: R, sizes: Sequence[int]) -> list[R]:
    """Consecutive slices of ``rows`` of lengths ``sizes`` (one per group, in order)."""
    out, i = [], 0
    for size in sizes:
        out.append(rows[i : i + size])
        i += size
    return out
