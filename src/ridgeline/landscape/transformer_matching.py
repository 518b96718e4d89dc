"""Align transformer B onto A over the group of :mod:`~ridgeline.landscape.transformer_symmetry`.

- Weight matching: maximise Σ_tensors ⟨θ_A, T(θ_B)⟩ by alternating (1) the stream map with the
  permutations fixed: the objective is ⟨O, C⟩ with C = Σ_axes A_(axis) B_(axis)ᵀ, maximised over
  orthogonal O by O = UVᵀ from C = USVᵀ (orthogonal Procrustes, Schönemann 1966) or over
  permutations by a linear assignment; (2) with O fixed, per attention layer the assignment of
  heads maximising Σ ⟨QK_A,i, QK_B,j⟩ + ⟨OV_A,i, OV_B,j⟩ over the circuits
  QK_h = W̃_Q,hᵀ W̃_K,h and OV_h = W_O,h W̃_V,h (W̃ = [W | b]; invariant to the within-head
  maps W_Q → A W_Q, W_K → A⁻ᵀ W_K, W_V → B W_V, W_O → W_O B⁻¹), and per MLP the assignment on
  the fc1 rows (with bias) and fc2 columns; repeated to a fixed point (Theus et al. 2025,
  arXiv:2506.22712, §4.1; Ainsworth et al. 2023 for the assignment steps).
- Activation matching (same group, fixed examples): the stream map from the residual stream
  entering every norm (all tokens): O = UVᵀ from Σ a bᵀ (least squares, orthogonal) or the
  assignment on the Pearson correlations (permutation); heads by the correlation of their
  attention logits q_h k_hᵀ (invariant to the within-head maps); MLP units by the correlation
  of their pre-activations.
- Learned matching (the paper's §4.2): :mod:`~ridgeline.landscape.transformer_learned`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ridgeline.landscape.alignment import AlignmentRecord, _assign, _correlation
from ridgeline.landscape.params import ParamSet, StateDict, distance
from ridgeline.landscape.permutation import (
    PermutationSpec,
    UnsupportedModelError,
    permutation_spec,
)
from ridgeline.landscape.sums import Reduce, reduce_sum_lists
from ridgeline.landscape.transformer_learned import (
    LearnedMatchingSettings,
    transformer_learned_matching,
)
from ridgeline.landscape.transformer_symmetry import (
    SYMMETRY_GROUPS,
    HeadGroup,
    Transform,
    TransformerSpec,
    apply_transform,
    fold_norms,
    identity_transform,
    reparameterise,
    transformer_spec,
)


def symmetry_spec(
    model: nn.Module, group: str = "permutation"
) -> PermutationSpec | TransformerSpec:
    """The model's permutation spec where tracing derives one (MLP, CNN, VGG, ResNet), else its
    transformer spec; ``orthogonal`` needs a transformer. Raises
    :class:`~ridgeline.landscape.permutation.UnsupportedModelError` naming the module that fits
    neither."""
    if group not in SYMMETRY_GROUPS:
        raise ValueError(f"symmetry group {group!r}: one of {', '.join(SYMMETRY_GROUPS)}")
    try:
        spec = permutation_spec(model)
    except UnsupportedModelError as not_permutable:
        try:
            return transformer_spec(model)
        except UnsupportedModelError as exc:
            raise UnsupportedModelError(f"{not_permutable}; as a transformer: {exc}") from None
    if group == "orthogonal":
        raise UnsupportedModelError(
            f"{type(model).__name__} has no residual stream with an orthogonal symmetry (only "
            "transformers with LayerNorm or RMSNorm do); its symmetries are permutations"
        )
    return spec


def _rows(t: Tensor, axis: int) -> Tensor:
    return t.movedim(axis, 0).reshape(t.shape[axis], -1)


def _stream_map(c: Tensor, group: str) -> Tensor:
    """argmax ⟨O, C⟩: UVᵀ over orthogonal O, or the assignment's permutation matrix."""
    if group == "orthogonal":
        u, _, vh = torch.linalg.svd(c)
        return u @ vh
    perm = torch.from_numpy(_assign(c.cpu().numpy()))
    return torch.eye(c.shape[0], dtype=torch.float64)[perm]


def _with_bias(ps: StateDict, name: str) -> Tensor:
    w = ps[f"{name}.weight"]
    b = ps.get(f"{name}.bias")
    return w if b is None else torch.cat([w, b[:, None]], dim=1)


def _circuits(ps: StateDict, g: HeadGroup) -> Tensor:
    """[heads, features]: each head's flattened QK and OV circuits."""
    qkv = _with_bias(ps, g.qkv).unflatten(0, (3, g.heads, g.head_dim))
    q, k, v = qkv.unbind(0)  # [heads, head_dim, D(+1)]
    wo = ps[f"{g.proj}.weight"].unflatten(1, (g.heads, g.head_dim)).movedim(1, 0)
    qk = q.transpose(1, 2) @ k
    ov = wo @ v
    return torch.cat([qk.flatten(1), ov.flatten(1)], dim=1)


def _perm_steps(
    spec: TransformerSpec, a: StateDict, b: StateDict
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Head and unit assignments of ``b`` (stream already mapped) onto ``a``."""
    heads = {}
    for g in spec.attention:
        cost = _circuits(a, g) @ _circuits(b, g).T
        heads[g.name] = torch.from_numpy(_assign(cost.cpu().numpy()))
    units = {}
    for u in spec.mlps:
        fa, fb = _with_bias(a, u.fc1), _with_bias(b, u.fc1)
        ga, gb = a[f"{u.fc2}.weight"], b[f"{u.fc2}.weight"]
        cost = fa @ fb.T + ga.T @ gb
        units[u.name] = torch.from_numpy(_assign(cost.cpu().numpy()))
    return heads, units


def transformer_weight_matching(
    spec: TransformerSpec,
    a: StateDict,
    b: StateDict,
    *,
    group: str = "orthogonal",
    max_iters: int = 100,
) -> tuple[Transform, int]:
    """Weight matching of ``b`` onto ``a`` (module docstring); returns the transform (apply it
    to ``b``) and the number of alternations. Stops when the permutations repeat and the
    stream map moves by less than 1e-10 (max entry)."""
    if group not in SYMMETRY_GROUPS:
        raise ValueError(f"symmetry group {group!r}: one of {', '.join(SYMMETRY_GROUPS)}")
    a64 = {k: v.detach().double().cpu() for k, v in a.items()}
    b64 = {k: v.detach().double().cpu() for k, v in b.items()}
    t = identity_transform(spec)
    iters = 0
    while iters < max_iters:
        iters += 1
        permuted = apply_transform(spec, b64, Transform(torch.eye(spec.dim).double(), *_hu(t)))
        c = sum(
            (_rows(a64[s.name], s.axis) @ _rows(permuted[s.name], s.axis).T for s in spec.stream),
            torch.zeros(spec.dim, spec.dim, dtype=torch.float64),
        )
        stream = _stream_map(c, group)
        rotated = apply_transform(spec, b64, Transform(stream))
        heads, units = _perm_steps(spec, a64, rotated)
        same = (
            (stream - t.stream).abs().max() < 1e-10
            and all(torch.equal(v, t.heads[k]) for k, v in heads.items())
            and all(torch.equal(v, t.units[k]) for k, v in units.items())
        )
        t = Transform(stream, heads, units)
        if same:
            break
    return t, iters


def _hu(t: Transform) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    return t.heads, t.units


class _Sites:
    """Forward hooks on a model: stream entering every norm, qkv and fc1 outputs."""

    def __init__(self, model: nn.Module, spec: TransformerSpec) -> None:
        self.kept: dict[str, Tensor] = {}
        self.handles = []
        for r in spec.norms:
            m = model.get_submodule(r.norm)
            self.handles.append(m.register_forward_pre_hook(self._pre(r.norm)))
        for name in [g.qkv for g in spec.attention] + [u.fc1 for u in spec.mlps]:
            m = model.get_submodule(name)
            self.handles.append(m.register_forward_hook(self._post(name)))

    def _pre(self, key: str) -> Callable[..., None]:
        def hook(_m: nn.Module, args: tuple[Tensor, ...]) -> None:
            self.kept[key] = args[0].detach()

        return hook

    def _post(self, key: str) -> Callable[..., None]:
        def hook(_m: nn.Module, _args: tuple[Tensor, ...], out: Tensor) -> None:
            self.kept[key] = out.detach()

        return hook

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def _features(spec: TransformerSpec, kept: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Samples × features in float64 for the stream, each attention layer's heads (flattened
    logits) and each MLP's units."""
    d = spec.dim
    out = {"stream": torch.cat([kept[r.norm].reshape(-1, d).double() for r in spec.norms])}
    for g in spec.attention:
        qkv = kept[g.qkv].double().unflatten(-1, (3, g.heads, g.head_dim))  # [B, T, 3, h, hd]
        q, k = qkv[..., 0, :, :].movedim(-2, 1), qkv[..., 1, :, :].movedim(-2, 1)  # [B, h, T, hd]
        logits = q @ k.transpose(-1, -2)  # [B, h, T, T]
        out[g.name] = logits.movedim(1, -1).reshape(-1, g.heads)
    for u in spec.mlps:
        out[u.name] = kept[u.fc1].double().reshape(-1, u.size)
    return out


def transformer_activation_matching(
    model: nn.Module,
    spec: TransformerSpec,
    a: StateDict,
    b: StateDict,
    x: Tensor,
    *,
    group: str = "orthogonal",
    chunk_size: int = 1000,
    reduce: Reduce | None = None,
) -> tuple[Transform, int]:
    """Activation matching of ``b`` onto ``a`` on examples ``x`` (module docstring); under DDP
    ``x`` is this process's shard and ``reduce`` sums the raw sums over processes. Returns the
    transform and the number of examples used."""
    if group not in SYMMETRY_GROUPS:
        raise ValueError(f"symmetry group {group!r}: one of {', '.join(SYMMETRY_GROUPS)}")
    sites = _Sites(model, spec)
    sums: dict[str, list[Tensor]] = {}
    try:
        with torch.no_grad():
            for start in range(0, x.shape[0], chunk_size):
                xb = x[start : start + chunk_size]
                feats = []
                for ps in (a, b):
                    sites.kept.clear()
                    functional_call(model, dict(ps), (xb,))
                    feats.append(_features(spec, sites.kept))
                for key, fa in feats[0].items():
                    fb = feats[1][key]
                    new = [fa.sum(0), fb.sum(0), (fa * fa).sum(0), (fb * fb).sum(0), fa.T @ fb]
                    new.append(torch.tensor([float(fa.shape[0])], dtype=torch.float64))
                    old = sums.get(key, [torch.zeros_like(t) for t in new])
                    sums[key] = [o + t for o, t in zip(old, new, strict=True)]
    finally:
        sites.close()
    reduced, n_total = reduce_sum_lists(sums, int(x.shape[0]), reduce)
    s = reduced["stream"]
    stream = _stream_map(s[4] if group == "orthogonal" else _correlation(s), group)
    heads = {
        g.name: torch.from_numpy(_assign(_correlation(reduced[g.name]).numpy()))
        for g in spec.attention
    }
    units = {
        u.name: torch.from_numpy(_assign(_correlation(reduced[u.name]).numpy())) for u in spec.mlps
    }
    return Transform(stream, heads, units), n_total


def align_transformer(
    model: nn.Module,
    a: StateDict,
    b: StateDict,
    method: str = "weight",
    group: str = "orthogonal",
    x: Tensor | None = None,
    spec: TransformerSpec | None = None,
    chunk_size: int = 1000,
    reduce: Reduce | None = None,
    y: Tensor | None = None,
    learned_steps: int = 100,
) -> tuple[nn.Module, ParamSet, ParamSet, AlignmentRecord]:
    """(model, θ_A, T(θ_B), record) in the coordinates the group needs: ``orthogonal`` works on
    the reparameterised twin (gain-free RMSNorms; ``coordinates="reparameterised"``),
    ``permutation`` on the original weights (``coordinates="original"``). Barriers between the
    returned sets are along the straight line in those coordinates.

    ``method``: ``weight``, ``activation`` (examples ``x``) or ``learned`` (examples ``x`` and
    labels ``y``; :func:`~ridgeline.landscape.transformer_learned.transformer_learned_matching`
    for ``learned_steps`` steps from weight matching's answer, recorded as ``sweeps``; single
    process only)."""
    start = time.perf_counter()
    spec = transformer_spec(model) if spec is None else spec
    if group == "orthogonal":
        model, spec_used, a_used = reparameterise(model, spec, a)
        b_used = fold_norms(spec, b)
        coordinates = "reparameterised"
    else:
        spec_used, a_used, b_used, coordinates = spec, dict(a), dict(b), "original"
    if method == "weight":
        t, sweeps = transformer_weight_matching(spec_used, a_used, b_used, group=group)
        n_examples = 0
    elif method == "activation":
        if x is None:
            raise ValueError("activation matching needs input examples x")
        t, n_examples = transformer_activation_matching(
            model, spec_used, a_used, b_used, x, group=group, chunk_size=chunk_size, reduce=reduce
        )
        sweeps = 0
    elif method == "learned":
        if x is None or y is None:
            raise ValueError("learned matching needs input examples x and labels y")
        init, _ = transformer_weight_matching(spec_used, a_used, b_used, group=group)
        settings = LearnedMatchingSettings(steps=learned_steps)
        t, _ = transformer_learned_matching(
            model, spec_used, a_used, b_used, x, y, init, group=group, settings=settings
        )
        sweeps, n_examples = learned_steps, int(x.shape[0])
    else:
        raise ValueError(f"alignment method: weight, activation or learned, got {method!r}")
    t.stream = t.stream.to(next(iter(b_used.values())).dtype)
    aligned = apply_transform(spec_used, b_used, t)
    names = [n for n, _ in model.named_parameters()]
    moved = sum(int((p != torch.arange(len(p))).sum()) for p in [*t.heads.values()])
    moved += sum(int((p != torch.arange(len(p))).sum()) for p in t.units.values())
    moved += int((t.stream.diagonal().abs() < 1 - 1e-9).sum())  # stream features not kept
    record = AlignmentRecord(
        method=method,
        dist_before=distance(a_used, b_used, names),
        dist_after=distance(a_used, aligned, names),
        groups=1 + len(spec_used.attention) + len(spec_used.mlps),
        units=spec_used.dim
        + sum(g.heads for g in spec_used.attention)
        + sum(u.size for u in spec_used.mlps),
        moved_units=moved,
        sweeps=sweeps,
        seconds=time.perf_counter() - start,
        n_examples=n_examples,
        group=group,
        coordinates=coordinates,
    )
    return model, a_used, aligned, record
