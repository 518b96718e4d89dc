"""Symmetries of a pre-norm transformer: an orthogonal map of the residual stream, head and MLP
unit permutations (Theus et al. 2025, *Generalized Linear Mode Connectivity for Transformers*,
arXiv:2506.22712, §3; docs/design.md §2 "Transformers").

- LayerNorm is exactly γ ⊙ RMSNorm(Mx) + β with M = I − 11ᵀ/D (var(x) = mean((Mx)²), same ε).
  :func:`reparameterise` folds γ, β into the linear map that reads the norm,
  W(γ ⊙ r + β) + b = (W diag γ) r + (Wβ + b), and M into every tensor that writes the stream
  (embedding, class token, position embedding, attention output projections, MLP output
  layers, with their biases): the stream is then mean-zero and every norm a gain-free RMSNorm
  of the same ε (an RMSNorm's gain is folded the same way, with no centring). Readers are
  centred too (:func:`fold_norms`), so the coordinates are canonical.
- Then x → Ox (O orthogonal) is a symmetry, RMSNorm(Ox) = O RMSNorm(x): every tensor axis that
  carries the stream maps v → Ov (writers W → OW, readers W → WOᵀ, embeddings E → OE).
  Before the reparameterisation only permutation matrices are (LayerNorm commutes with them
  when γ, β are permuted too).
- The heads of one attention layer permute as whole units (Q, K, V rows and biases by head
  block, the output projection's column blocks); an MLP's hidden units permute as before.

:func:`transformer_spec` derives where these act from the model's modules, in registration
order: parameters before the first norm are the embedding (stream on their last axis, or the
output axis of a Linear/Conv); a Linear after a norm reads it; a reader of 3·D outputs whose
parent module has ``heads`` (or ``num_heads``) opens an attention layer closed by the next
Linear (its output projection), any other reader opens an MLP closed by the next Linear,
and a reader still open at the end is the output head. Anything else names its module in an
:class:`~ridgeline.landscape.permutation.UnsupportedModelError`. Registration order is not
execution order in general: :func:`check_symmetry` verifies a spec numerically.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ridgeline.landscape.params import ParamSet
from ridgeline.landscape.permutation import UnsupportedModelError, permute_axis

NORM_TYPES = (nn.LayerNorm, nn.RMSNorm)
SYMMETRY_GROUPS = ("permutation", "orthogonal")


@dataclass(frozen=True)
class StreamAxis:
    """Axis ``axis`` of tensor ``name`` carries the residual stream; ``writes``: it writes the
    stream (centred by :func:`reparameterise`)."""

    name: str
    axis: int
    writes: bool = False


@dataclass(frozen=True)
class NormRead:
    """Norm module ``norm`` (``kind`` layernorm or rmsnorm, its ``eps``) is read by ``reader``."""

    norm: str
    reader: str
    kind: str
    eps: float | None


@dataclass(frozen=True)
class HeadGroup:
    """Attention layer ``name``: fused Q, K, V map ``qkv`` (rows laid out [3, heads, head_dim])
    and output projection ``proj`` (columns laid out [heads, head_dim])."""

    name: str
    qkv: str
    proj: str
    heads: int
    head_dim: int


@dataclass(frozen=True)
class UnitGroup:
    """MLP ``name``: ``size`` hidden units, rows of ``fc1``, columns of ``fc2``."""

    name: str
    fc1: str
    fc2: str
    size: int


@dataclass(frozen=True)
class TransformerSpec:
    """Where the symmetries act. ``reparameterised``: every norm is a gain-free RMSNorm, so any
    orthogonal stream map is a symmetry (else only permutations are)."""

    dim: int
    stream: tuple[StreamAxis, ...]
    norms: tuple[NormRead, ...]
    attention: tuple[HeadGroup, ...]
    mlps: tuple[UnitGroup, ...]
    reparameterised: bool


@dataclass
class Transform:
    """One element of the group: new stream = ``stream`` @ old stream ([D, D] orthogonal);
    head i of attention layer ``k`` takes old head ``heads[k][i]``; MLP unit likewise."""

    stream: Tensor
    heads: dict[str, Tensor] = field(default_factory=dict)
    units: dict[str, Tensor] = field(default_factory=dict)


def _own(m: nn.Module) -> dict[str, Tensor]:
    return {n: p for n, p in m.named_parameters(recurse=False) if p is not None}


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def transformer_spec(model: nn.Module, heads: int | None = None) -> TransformerSpec:
    """The model's transformer symmetries, derived from its modules (module docstring).

    ``heads``: heads per attention layer when the attention modules do not say (``heads`` or
    ``num_heads`` attribute). Raises
    :class:`~ridgeline.landscape.permutation.UnsupportedModelError` naming the first module that
    fits no rule.
    """
    norms = [(p, m) for p, m in model.named_modules() if isinstance(m, NORM_TYPES)]
    if not norms:
        raise UnsupportedModelError(
            f"{type(model).__name__}: no LayerNorm or RMSNorm, so no residual stream symmetry"
        )
    shapes = {tuple(m.normalized_shape) for _, m in norms}
    kinds = {type(m) for _, m in norms}
    if len(shapes) != 1 or len(next(iter(shapes))) != 1 or len(kinds) != 1:
        raise UnsupportedModelError(
            f"module {norms[0][0]!r}: every norm must be of one type over one last axis "
            f"(found {sorted(str(s) for s in shapes)}, {sorted(k.__name__ for k in kinds)})"
        )
    dim = next(iter(shapes))[0]
    stream: list[StreamAxis] = []
    reads: list[NormRead] = []
    attention: list[HeadGroup] = []
    mlps: list[UnitGroup] = []
    pending: nn.Module | None = None
    pending_path = ""
    unit: tuple[str, str, int, int] | None = None  # (parent, reader, outputs, heads or 0)
    seen_norm = False
    for path, m in model.named_modules():
        own = _own(m)
        where = f"module {path!r} ({type(m).__name__})"
        if isinstance(m, NORM_TYPES):
            if pending is not None or unit is not None:
                raise UnsupportedModelError(f"{where}: a norm before the previous one was read")
            pending, pending_path, seen_norm = m, path, True
            stream += [StreamAxis(_join(path, n), 0) for n in own]
            continue
        if not own:
            continue
        if not seen_norm:  # the embedding: every tensor writes the stream
            for n, t in own.items():
                axis = 0 if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)) else t.dim() - 1
                if t.shape[axis] != dim:
                    raise UnsupportedModelError(
                        f"{where}: {n} has {t.shape[axis]} != {dim} stream features"
                    )
                stream.append(StreamAxis(_join(path, n), axis, writes=True))
            continue
        if not isinstance(m, nn.Linear) or set(own) - {"weight", "bias"}:
            raise UnsupportedModelError(f"{where}: no transformer-symmetry rule for this module")
        if pending is not None:  # reads the norm
            if m.in_features != dim:
                raise UnsupportedModelError(f"{where}: reads {m.in_features} != {dim} features")
            kind = "layernorm" if isinstance(pending, nn.LayerNorm) else "rmsnorm"
            reads.append(NormRead(pending_path, path, kind, getattr(pending, "eps", None)))
            stream.append(StreamAxis(f"{path}.weight", 1))
            parent = path.rpartition(".")[0]
            owner = model.get_submodule(parent)
            h = heads or getattr(owner, "heads", None) or getattr(owner, "num_heads", None)
            if m.out_features == 3 * dim and isinstance(h, int) and h > 0 and dim % h == 0:
                unit = (parent, path, m.out_features, h)
            else:
                unit = (parent, path, m.out_features, 0)
            pending = None
            continue
        if unit is None or m.out_features != dim:
            raise UnsupportedModelError(
                f"{where}: a linear map that neither reads a norm nor closes an attention or "
                "MLP unit (writing the stream)"
            )
        parent, reader, outputs, h = unit
        if m.in_features != (dim if h else outputs):
            raise UnsupportedModelError(f"{where}: {m.in_features} inputs after {reader!r}")
        if h:
            attention.append(HeadGroup(parent, reader, path, h, dim // h))
        else:
            mlps.append(UnitGroup(parent, reader, path, outputs))
        stream += [StreamAxis(_join(path, n), 0, writes=True) for n in own]
        unit = None
    if pending is not None or unit is None or unit[3]:
        raise UnsupportedModelError(
            f"module {pending_path or (unit[1] if unit else '')!r}: a transformer ends with a "
            "norm read by the output head"
        )
    if not attention:
        raise UnsupportedModelError(
            f"{type(model).__name__}: no attention layer (a Linear of 3·{dim} outputs reading a "
            "norm, in a module with a heads attribute), so not a transformer"
        )
    return TransformerSpec(
        dim,
        tuple(stream),
        tuple(reads),
        tuple(attention),
        tuple(mlps),
        reparameterised=all(not _own(m) for _, m in norms) and kinds == {nn.RMSNorm},
    )


def rmsnorm_twin(model: nn.Module, spec: TransformerSpec) -> nn.Module:
    """A copy of ``model`` with every norm a gain-free RMSNorm of the same ε."""
    twin = copy.deepcopy(model)
    for r in spec.norms:
        parent, _, child = r.norm.rpartition(".")
        owner = twin.get_submodule(parent) if parent else twin
        setattr(owner, child, nn.RMSNorm(spec.dim, eps=r.eps, elementwise_affine=False))
    return twin


def fold_norms(spec: TransformerSpec, ps: Mapping[str, Tensor]) -> ParamSet:
    """The parameters of the :func:`rmsnorm_twin`: γ, β folded into the readers,
    M = I − 11ᵀ/D into the writers (LayerNorm only); the norms' own tensors are dropped.

    The readers are centred too (W → WM): they only ever see the mean-zero stream, so their
    component along 1 is a free gauge, and removing it makes the coordinates canonical (every
    stream tensor lies in 1⊥; O·1 is then fixed only up to sign, with no effect on weights)."""
    out: ParamSet = dict(ps)
    for r in spec.norms:
        w, b = out[f"{r.reader}.weight"], out.get(f"{r.reader}.bias")
        gain, shift = out.pop(f"{r.norm}.weight", None), out.pop(f"{r.norm}.bias", None)
        if shift is not None:
            if b is None:
                raise UnsupportedModelError(f"module {r.reader!r}: no bias to fold {r.norm}.bias")
            out[f"{r.reader}.bias"] = b + w @ shift
        if gain is not None:
            out[f"{r.reader}.weight"] = w * gain
    if any(r.kind == "layernorm" for r in spec.norms):
        for s in spec.stream:
            if s.name in out:
                t = out[s.name]
                out[s.name] = t - t.mean(dim=s.axis, keepdim=True)
    return out


def reparameterise(
    model: nn.Module, spec: TransformerSpec, ps: Mapping[str, Tensor]
) -> tuple[nn.Module, TransformerSpec, ParamSet]:
    """(twin model, its spec, parameters) computing the same function as (model, ps) with
    gain-free RMSNorms (:func:`fold_norms`)."""
    twin = rmsnorm_twin(model, spec)
    return twin, transformer_spec(twin, heads=_heads(spec)), fold_norms(spec, ps)


def _heads(spec: TransformerSpec) -> int | None:
    return spec.attention[0].heads if spec.attention else None


def is_permutation_matrix(o: Tensor) -> bool:
    """Every entry 0 or 1 and one 1 per row and column."""
    binary = bool(((o == 0) | (o == 1)).all())
    return binary and bool((o.sum(0) == 1).all()) and bool((o.sum(1) == 1).all())


def rotate_axis(t: Tensor, axis: int, o: Tensor) -> Tensor:
    """v → O v along ``axis``: out[..., i, ...] = Σ_j O[i, j] t[..., j, ...]."""
    moved = t.movedim(axis, -1)
    return (moved @ o.to(t).T).movedim(-1, axis).contiguous()


def _permute_qkv(t: Tensor, g: HeadGroup, perm: Tensor) -> Tensor:
    blocks = t.unflatten(0, (3, g.heads, g.head_dim))
    return blocks.index_select(1, perm.to(t.device)).flatten(0, 2).contiguous()


def apply_transform(spec: TransformerSpec, ps: Mapping[str, Tensor], t: Transform) -> ParamSet:
    """A new parameter set: every stream axis mapped by ``t.stream``, heads and MLP units
    permuted. Off the reparameterised coordinates only permutation matrices are allowed."""
    if not spec.reparameterised and not is_permutation_matrix(t.stream):
        raise ValueError(
            "an orthogonal stream map needs reparameterised coordinates (reparameterise first); "
            "with the norms' gains in place only permutation matrices are symmetries"
        )
    out: ParamSet = dict(ps)
    for s in spec.stream:
        out[s.name] = rotate_axis(out[s.name], s.axis, t.stream)
    for g in spec.attention:
        if g.name in t.heads:
            perm = t.heads[g.name]
            for n in ("weight", "bias"):
                if f"{g.qkv}.{n}" in out:
                    out[f"{g.qkv}.{n}"] = _permute_qkv(out[f"{g.qkv}.{n}"], g, perm)
            out[f"{g.proj}.weight"] = permute_axis(out[f"{g.proj}.weight"], 1, perm, g.head_dim)
    for u in spec.mlps:
        if u.name in t.units:
            perm = t.units[u.name]
            for n in ("weight", "bias"):
                if f"{u.fc1}.{n}" in out:
                    out[f"{u.fc1}.{n}"] = permute_axis(out[f"{u.fc1}.{n}"], 0, perm)
            out[f"{u.fc2}.weight"] = permute_axis(out[f"{u.fc2}.weight"], 1, perm)
    return out


def identity_transform(spec: TransformerSpec) -> Transform:
    """The identity element (float64 stream matrix)."""
    return Transform(
        torch.eye(spec.dim, dtype=torch.float64),
        {g.name: torch.arange(g.heads) for g in spec.attention},
        {u.name: torch.arange(u.size) for u in spec.mlps},
    )


def random_transform(spec: TransformerSpec, group: str, generator: torch.Generator) -> Transform:
    """A random element: a Haar-random orthogonal stream map (QR of a Gaussian with the signs
    of R's diagonal fixed; Mezzadri 2007) or a uniform stream permutation, and uniform head
    and MLP unit permutations, all drawn from ``generator``."""
    if group not in SYMMETRY_GROUPS:
        raise ValueError(f"symmetry group {group!r}: one of {', '.join(SYMMETRY_GROUPS)}")
    d = spec.dim
    if group == "orthogonal":
        q, r = torch.linalg.qr(torch.randn(d, d, generator=generator, dtype=torch.float64))
        stream = q * torch.sign(torch.diagonal(r))
    else:
        stream = torch.eye(d, dtype=torch.float64)[torch.randperm(d, generator=generator)]
    return Transform(
        stream,
        {g.name: torch.randperm(g.heads, generator=generator) for g in spec.attention},
        {u.name: torch.randperm(u.size, generator=generator) for u in spec.mlps},
    )


def invert_transform(t: Transform) -> Transform:
    """The inverse element: Oᵀ and the inverse permutations."""
    return Transform(
        t.stream.T.contiguous(),
        {k: torch.argsort(v) for k, v in t.heads.items()},
        {k: torch.argsort(v) for k, v in t.units.items()},
    )


def check_symmetry(
    model: nn.Module, spec: TransformerSpec, x: Tensor, generator: torch.Generator
) -> float:
    """The largest absolute difference of f(x) and f_T(x) for a random element T of the spec's
    group, in float64 on a float64 copy of the model (≈1e-12 when the spec is right). Never
    touches ``model``."""
    work = copy.deepcopy(model).double().eval()
    ps = {n: p.detach() for n, p in work.named_parameters()}
    group = "orthogonal" if spec.reparameterised else "permutation"
    moved = apply_transform(spec, ps, random_transform(spec, group, generator))
    with torch.no_grad():
        ref = functional_call(work, ps, (x.double(),))
        out = functional_call(work, moved, (x.double(),))
    return float((ref - out).abs().max())
