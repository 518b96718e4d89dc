"""Learned matching of two transformers (Theus et al. 2025, arXiv:2506.22712, §4.2).

Latent matrices, one per factor of the group (the stream map Z_O, one Z per attention layer's
heads and per MLP's units), are trained on the loss of the interpolated model
L((1 − λ)θ_A + λ T(θ_B)) with λ ~ U(0.4, 0.6) per step. The forward pass uses their projections
onto the group (orthogonal: the polar factor UVᵀ of Z = USVᵀ, the nearest orthogonal matrix in
Frobenius norm; permutations: the linear assignment maximising ⟨P, Z⟩), the backward pass the
straight-through estimator P + Z − sg(Z) (gradients reach Z as if the projection were the
identity). The latents start at an initial transform (weight matching's, by default). The
projected transform with the lowest midpoint loss L(½θ_A + ½T(θ_B)) on the given examples,
checked every ``check_every`` steps and at the start, is returned: never worse than the start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from ridgeline.landscape.alignment import _assign
from ridgeline.landscape.params import ParamSet, StateDict
from ridgeline.landscape.transformer_symmetry import (
    Transform,
    TransformerSpec,
    rotate_axis,
)


def _perm_matrix(perm: Tensor, like: Tensor) -> Tensor:
    return torch.eye(len(perm), dtype=like.dtype, device=like.device)[perm.to(like.device)]


def _project(z: Tensor, orthogonal: bool) -> Tensor:
    """The nearest group element: polar factor UVᵀ, or the assignment's permutation matrix."""
    with torch.no_grad():
        if orthogonal:
            u, _, vh = torch.linalg.svd(z)
            return u @ vh
        perm = torch.from_numpy(_assign(z.detach().double().cpu().numpy()))
        return _perm_matrix(perm, z)


def apply_matrices(
    spec: TransformerSpec,
    ps: StateDict,
    stream: Tensor,
    heads: Mapping[str, Tensor],
    units: Mapping[str, Tensor],
) -> ParamSet:
    """:func:`~ridgeline.landscape.transformer_symmetry.apply_transform` with every factor a
    matrix (row i of a permutation matrix selects old unit perm[i]); differentiable."""
    out: ParamSet = dict(ps)
    for s in spec.stream:
        out[s.name] = rotate_axis(out[s.name], s.axis, stream)
    for g in spec.attention:
        p = heads[g.name]
        for n in ("weight", "bias"):
            key = f"{g.qkv}.{n}"
            if key in out:
                blocks = out[key].unflatten(0, (3, g.heads, g.head_dim))
                out[key] = torch.einsum("ij,sj...->si...", p, blocks).flatten(0, 2)
        w = out[f"{g.proj}.weight"].unflatten(1, (g.heads, g.head_dim))
        out[f"{g.proj}.weight"] = torch.einsum("ij,ojd->oid", p, w).flatten(1)
    for u in spec.mlps:
        p = units[u.name]
        for n in ("weight", "bias"):
            key = f"{u.fc1}.{n}"
            if key in out:
                out[key] = torch.einsum("ij,j...->i...", p, out[key])
        out[f"{u.fc2}.weight"] = out[f"{u.fc2}.weight"] @ p.T
    return out


@dataclass(frozen=True)
class LearnedMatchingSettings:
    """How :func:`transformer_learned_matching` trains the latents: ``steps`` Adam steps of
    learning rate ``lr``, each on ``batch_size`` examples; the projected transform is checked
    every ``check_every`` steps (and at the last); batches and λ come from a private generator
    seeded by ``seed``."""

    steps: int = 100
    lr: float = 0.01
    batch_size: int = 128
    check_every: int = 10
    seed: int = 0


def transformer_learned_matching(
    model: nn.Module,
    spec: TransformerSpec,
    a: StateDict,
    b: StateDict,
    x: Tensor,
    y: Tensor,
    init: Transform,
    *,
    group: str = "orthogonal",
    settings: LearnedMatchingSettings = LearnedMatchingSettings(),
) -> tuple[Transform, list[float]]:
    """Learned matching of ``b`` onto ``a`` over ``group`` (module docstring), trained as
    ``settings`` say on the examples ``x, y``. Returns the best projected transform and the
    midpoint losses checked (the first is ``init``'s)."""
    gen = torch.Generator().manual_seed(settings.seed)
    like = next(iter(b.values()))
    orthogonal = group == "orthogonal"
    z_stream = init.stream.to(like).clone().requires_grad_(True)
    z_heads = {k: _perm_matrix(v, like).requires_grad_(True) for k, v in init.heads.items()}
    z_units = {k: _perm_matrix(v, like).requires_grad_(True) for k, v in init.units.items()}
    latents = [z_stream, *z_heads.values(), *z_units.values()]
    opt = torch.optim.Adam(latents, lr=settings.lr)
    a_d = {k: v.detach() for k, v in a.items()}
    b_d = {k: v.detach() for k, v in b.items()}

    def projected() -> tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]:
        return (
            _project(z_stream, orthogonal),
            {k: _project(z, False) for k, z in z_heads.items()},
            {k: _project(z, False) for k, z in z_units.items()},
        )

    def midpoint_loss(mats: tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]) -> float:
        with torch.no_grad():
            moved = apply_matrices(spec, b_d, *mats)
            mid = {k: 0.5 * (a_d[k] + moved[k]) for k in a_d}
            return float(F.cross_entropy(functional_call(model, mid, (x,)), y))

    best = projected()
    losses = [midpoint_loss(best)]
    for step in range(1, settings.steps + 1):
        lam = 0.4 + 0.2 * float(torch.rand(1, generator=gen))
        idx = torch.randperm(x.shape[0], generator=gen)[: settings.batch_size].to(x.device)
        hard = projected()
        ste_stream = hard[0] + z_stream - z_stream.detach()
        ste_heads = {k: hard[1][k] + z - z.detach() for k, z in z_heads.items()}
        ste_units = {k: hard[2][k] + z - z.detach() for k, z in z_units.items()}
        moved = apply_matrices(spec, b_d, ste_stream, ste_heads, ste_units)
        theta = {k: (1 - lam) * a_d[k] + lam * moved[k] for k in a_d}
        loss = F.cross_entropy(functional_call(model, theta, (x[idx],)), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % settings.check_every == 0 or step == settings.steps:
            candidate = projected()
            losses.append(midpoint_loss(candidate))
            if losses[-1] < min(losses[:-1]):
                best = candidate
    stream, heads, units = best
    return (
        Transform(
            stream.detach().double().cpu(),
            {k: p.argmax(1).cpu() for k, p in heads.items()},
            {k: p.argmax(1).cpu() for k, p in units.items()},
        ),
        losses,
    )
