"""Parameter sets: named tensors of a model, layer groups, interpolation, distances, angles.

A parameter set is a ``dict[str, Tensor]`` over a model's named parameters and its floating-point
buffers (BatchNorm running statistics). Non-float buffers (``num_batches_tracked``) are never part
of a set: a forward pass uses the model's own value (they are never interpolated).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

import torch
from torch import Tensor, nn

ParamSet = dict[str, Tensor]
# Named tensors as a function reads them (never writes): a parameter set, a model's state_dict()
StateDict = Mapping[str, Tensor]


class BNPolicy(str, Enum):
    """How an interpolated network gets its normalisation statistics (docs/design.md §7).

    ``reset``/``interpolate``/``batch`` concern BatchNorm running statistics; ``repair``
    (BN-free nets only) corrects pre-activation statistics in the weights (``evaluate.repair``).
    """

    RESET = "reset"  # recompute on training batches (cumulative average, momentum=None)
    INTERPOLATE = "interpolate"  # lerp the running statistics like the weights
    BATCH = "batch"  # use the evaluation chunk's batch statistics
    # BN-free nets (Jordan et al. 2023): rescale each Linear/Conv output channel so its mean and
    # std over training batches are (1−α)·stat_A + α·stat_B, folded into weight and bias
    REPAIR = "repair"


@dataclass(frozen=True)
class LayerGroup:
    """Parameters (and float buffers) sharing one module path, e.g. ``layer1.0.conv1``."""

    name: str
    param_names: tuple[str, ...]
    buffer_names: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """All tensor names of the group (parameters first, then float buffers)."""
        return self.param_names + self.buffer_names


def has_batchnorm(model: nn.Module) -> bool:
    """True when the model contains any BatchNorm module."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def param_names(model: nn.Module) -> list[str]:
    """Names of the model's parameters in module order."""
    return [n for n, _ in model.named_parameters()]


def float_buffer_names(model: nn.Module) -> list[str]:
    """Names of the model's floating-point buffers (running statistics) in module order."""
    return [n for n, b in model.named_buffers() if torch.is_floating_point(b)]


def state_of(model: nn.Module) -> ParamSet:
    """Detached clones of the model's parameters and float buffers (never aliases the model)."""
    out: ParamSet = {n: p.detach().clone() for n, p in model.named_parameters()}
    for n, b in model.named_buffers():
        if torch.is_floating_point(b):
            out[n] = b.detach().clone()
    return out


def layer_groups(model: nn.Module) -> list[LayerGroup]:
    """Group parameters and float buffers by owning module path, shallow to deep (module order)."""
    known_params = set(param_names(model))
    groups: list[LayerGroup] = []
    seen: set[str] = set()
    for path, module in model.named_modules():
        prefix = f"{path}." if path else ""
        ps = tuple(
            prefix + n
            for n, _ in module.named_parameters(recurse=False)
            if prefix + n in known_params and prefix + n not in seen
        )
        bs = tuple(
            prefix + n
            for n, b in module.named_buffers(recurse=False)
            if b is not None and torch.is_floating_point(b)
        )
        if ps or bs:
            seen.update(ps)
            groups.append(LayerGroup(path, ps, bs))
    return groups


def select_groups(groups: Sequence[LayerGroup], names: Iterable[str]) -> list[LayerGroup]:
    """The groups with the given module paths, in the order of ``groups``; unknown names raise."""
    wanted = set(names)
    by_name = {g.name for g in groups}
    missing = wanted - by_name
    if missing:
        raise ValueError(f"unknown layer group(s) {sorted(missing)}; known: {sorted(by_name)}")
    return [g for g in groups if g.name in wanted]


def flatten(ps: Mapping[str, Tensor], names: Sequence[str] | None = None) -> Tensor:
    """Concatenate the (selected) tensors of a parameter set into one flat vector."""
    keys = list(ps) if names is None else list(names)
    return torch.cat([ps[k].reshape(-1) for k in keys])


def unflatten(
    vec: Tensor, like: Mapping[str, Tensor], names: Sequence[str] | None = None
) -> ParamSet:
    """Inverse of :func:`flatten`: split ``vec`` into tensors shaped like ``like``."""
    keys = list(like) if names is None else list(names)
    out: ParamSet = {}
    i = 0
    for k in keys:
        n = like[k].numel()
        out[k] = vec[i : i + n].view_as(like[k]).to(like[k].dtype)
        i += n
    if i != vec.numel():
        raise ValueError(f"vector has {vec.numel()} entries, parameter set needs {i}")
    return out


def same_layout(like: Tensor, value: Tensor) -> Tensor:
    """``value`` with the strides of ``like`` (copied only where they differ).

    Element-wise results pick their own strides where a layout is ambiguous: a channels-last
    conv weight with one input channel, strides (9, 1, 3, 1), comes back contiguous,
    (9, 9, 3, 1), and the convolution then runs (and the ReLU and max-pool after it) in NCHW, up
    to 3x slower on a CPU. Sets built from a model's tensors keep that model's layout.
    """
    if value.stride() == like.stride() or value.shape != like.shape:
        return value
    return torch.empty_like(like, dtype=value.dtype).copy_(value)


def _lerp1(a: Tensor, b: Tensor, alpha: float) -> Tensor:
    # non-float tensors (e.g. num_batches_tracked in a full state_dict) are never interpolated;
    # the endpoints are the endpoints even when the other one is non-finite (0 · NaN = NaN)
    if not torch.is_floating_point(a) or alpha == 0:
        return a
    if alpha == 1:
        return b
    return same_layout(a, torch.lerp(a, b, float(alpha)))


def lerp(a: Mapping[str, Tensor], b: Mapping[str, Tensor], alpha: float) -> ParamSet:
    """θ_α = (1−α)θ_A + αθ_B on every tensor (exact at α=0 and α=1, ``torch.lerp``)."""
    return {k: _lerp1(a[k], b[k], alpha) for k in a}


def lerp_groups(
    a: Mapping[str, Tensor],
    b: Mapping[str, Tensor],
    alpha: float,
    group_names: Iterable[str],
    groups: Sequence[LayerGroup],
    rest: str = "a",
) -> ParamSet:
    """Interpolate only the named layer groups (Adilova et al. 2024); the rest stays ``rest``."""
    if rest not in ("a", "b"):
        raise ValueError(f"rest must be 'a' or 'b', got {rest!r}")
    chosen = {n for g in select_groups(groups, group_names) for n in g.names}
    base = a if rest == "a" else b
    out: ParamSet = dict(base)
    for k in chosen:
        if k in a:
            out[k] = _lerp1(a[k], b[k], alpha)
    return out


def affine(
    p0: Mapping[str, Tensor],
    p1: Mapping[str, Tensor],
    p2: Mapping[str, Tensor],
    c1: float,
    c2: float,
) -> ParamSet:
    """p0 + c1 (p1 − p0) + c2 (p2 − p0) on every tensor (a point in the plane of three sets)."""
    return {
        k: same_layout(p0[k], p0[k] + c1 * (p1[k] - p0[k]) + c2 * (p2[k] - p0[k]))
        if torch.is_floating_point(p0[k])
        else p0[k]
        for k in p0
    }


def delta(
    a: Mapping[str, Tensor], b: Mapping[str, Tensor], names: Iterable[str] | None = None
) -> ParamSet:
    """Δ = θ_B − θ_A over ``names`` (default: all keys of ``a``)."""
    keys = list(a) if names is None else list(names)
    return {k: same_layout(a[k], b[k] - a[k]) for k in keys}


def dot(
    u: Mapping[str, Tensor], v: Mapping[str, Tensor], names: Iterable[str] | None = None
) -> float:
    """⟨u, v⟩ summed over ``names`` (default: keys of ``u``), accumulated in float64."""
    keys = list(u) if names is None else list(names)
    return float(sum((u[k].double() * v[k].double()).sum() for k in keys))


def norm(u: Mapping[str, Tensor], names: Iterable[str] | None = None) -> float:
    """Euclidean norm ‖u‖ over ``names`` (default: all keys)."""
    return math.sqrt(max(dot(u, u, names), 0.0))


def distance(
    a: Mapping[str, Tensor], b: Mapping[str, Tensor], names: Iterable[str] | None = None
) -> float:
    """‖θ_B − θ_A‖ over ``names`` (default: all keys of ``a``)."""
    keys = list(a) if names is None else list(names)
    return norm(delta(a, b, keys))


def group_distances(
    a: Mapping[str, Tensor],
    b: Mapping[str, Tensor],
    groups: Sequence[LayerGroup],
    include_buffers: bool = False,
) -> dict[str, float]:
    """‖θ_B,ℓ − θ_A,ℓ‖ for every layer group ℓ (parameters only unless ``include_buffers``)."""
    return {
        g.name: distance(a, b, g.names if include_buffers else g.param_names)
        for g in groups
        if g.param_names or include_buffers
    }


def cosine(
    u: Mapping[str, Tensor], v: Mapping[str, Tensor], names: Iterable[str] | None = None
) -> float:
    """cos∠(u, v) = ⟨u, v⟩ / (‖u‖‖v‖); nan when either vector is zero."""
    keys = list(u) if names is None else list(names)
    nu, nv = norm(u, keys), norm(v, keys)
    if nu == 0.0 or nv == 0.0:
        return float("nan")
    return max(-1.0, min(1.0, dot(u, v, keys) / (nu * nv)))


def angle_at(
    base: Mapping[str, Tensor],
    a: Mapping[str, Tensor],
    b: Mapping[str, Tensor],
    names: Iterable[str] | None = None,
) -> float:
    """Angle in degrees at ``base`` between a − base and b − base (docs/design.md §5)."""
    keys = list(base) if names is None else list(names)
    c = cosine(delta(base, a, keys), delta(base, b, keys), keys)
    return math.degrees(math.acos(c)) if math.isfinite(c) else float("nan")


@dataclass
class LayerBlock:
    """One layer's block of Δ: Δ_ℓ and θ^{ℓ,½} = θ_A with layer ℓ moved halfway to θ_B."""

    group: LayerGroup
    delta: ParamSet
    point: ParamSet


def param_delta(
    model: nn.Module, theta_a: Mapping[str, Tensor], theta_b: Mapping[str, Tensor]
) -> ParamSet:
    """Δ = θ_B − θ_A over the parameters of ``model`` (buffers left out)."""
    names = set(param_names(model))
    return {k: v for k, v in delta(theta_a, theta_b).items() if k in names}


def layer_blocks(
    model: nn.Module,
    theta_a: Mapping[str, Tensor],
    theta_b: Mapping[str, Tensor],
    d: Mapping[str, Tensor],
    groups: Sequence[LayerGroup] | None = None,
) -> list[LayerBlock]:
    """The layers of ``groups`` (default: ``model``'s layers with parameters) on which Δ = ``d``
    is not empty, in order, each with Δ_ℓ and θ^{ℓ,½} (``lerp_groups(..., rest="a")``)."""
    if groups is None:
        groups = [g for g in layer_groups(model) if g.param_names]
    blocks = []
    for g in groups:
        dl = {k: d[k] for k in g.param_names if k in d}
        if dl:
            point = lerp_groups(theta_a, theta_b, 0.5, [g.name], groups, rest="a")
            blocks.append(LayerBlock(g, dl, point))
    return blocks
