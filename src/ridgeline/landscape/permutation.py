"""Permutation symmetries of a network: which tensor axes share a hidden-unit permutation.

Reordering the hidden units of a layer (its output axis, the next layer's input axis and the
BatchNorm parameters and running statistics in between) leaves the function unchanged (Entezari
et al. 2022; Ainsworth et al. 2023). The spec is derived by tracing the model with ``torch.fx``:
every Linear/Conv output starts a group of units, channel-wise modules (activations, pooling,
BatchNorm) carry it, ``Flatten`` turns C channels into C blocks of H·W features, and a residual
addition ties the groups of its two operands into one. Units that reach the output stay fixed.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, fx, nn

from ridgeline.landscape.params import ParamSet

Permutation = dict[str, Tensor]  # group name → index: unit i of the aligned set = unit perm[i]

PRODUCERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
ACTIVATIONS = (
    nn.ReLU, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.ELU, nn.Tanh, nn.Sigmoid, nn.Softplus, nn.Mish,
)  # fmt: skip
CHANNELWISE = (
    nn.Identity, nn.Dropout, nn.Dropout2d,
    nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d,
)  # fmt: skip
ADDS = (operator.add, torch.add)
MULS = (operator.mul, torch.mul)


class UnsupportedModelError(ValueError):
    """The model contains an operation whose effect on hidden units is not known."""


@dataclass(frozen=True)
class PermutedAxis:
    """Axis ``axis`` of tensor ``name`` is permuted in blocks of ``block`` consecutive entries."""

    name: str
    axis: int
    block: int = 1
    is_buffer: bool = False


@dataclass(frozen=True)
class PermutationGroup:
    """``size`` hidden units permuted together on every axis in ``axes``.

    ``activations``: the traced model's nodes whose output carries these units on dim 1
    (post-nonlinearity where there is one), the features of activation matching.
    """

    name: str
    size: int
    axes: tuple[PermutedAxis, ...]
    activations: tuple[str, ...]


@dataclass(frozen=True)
class PermutationSpec:
    """All permutation groups of a model, shallow to deep."""

    groups: tuple[PermutationGroup, ...]

    def group(self, name: str) -> PermutationGroup:
        """The group called ``name`` (its first producing module's path)."""
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(f"no permutation group {name!r}; known: {[g.name for g in self.groups]}")


@dataclass
class _Units:
    """Unit state of one traced value: group id and whether it was flattened into features."""

    group: int
    flat: bool = False


class _Builder:
    """Union-find over unit groups while walking the traced graph."""

    def __init__(self, gm: fx.GraphModule) -> None:
        self.gm = gm
        self.parent: list[int] = []
        self.sizes: list[int] = []
        self.names: list[str] = []
        self.axes: list[list[PermutedAxis]] = []
        self.activations: list[list[str]] = []
        self.producers: list[list[str]] = []
        self.fixed: set[int] = set()
        self.params = {n for n, _ in gm.named_parameters()}

    def new(self, name: str, size: int) -> int:
        gid = len(self.parent)
        self.parent.append(gid)
        self.sizes.append(size)
        self.names.append(name)
        self.axes.append([])
        self.activations.append([])
        self.producers.append([])
        return gid

    def find(self, gid: int) -> int:
        while self.parent[gid] != gid:
            self.parent[gid] = self.parent[self.parent[gid]]
            gid = self.parent[gid]
        return gid

    def union(self, a: int, b: int, where: str) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        if self.sizes[ra] != self.sizes[rb]:
            raise UnsupportedModelError(
                f"{where}: adds {self.sizes[ra]} units of {self.names[ra]!r} to "
                f"{self.sizes[rb]} units of {self.names[rb]!r}"
            )
        first, second = sorted((ra, rb))
        self.parent[second] = first
        self.axes[first].extend(self.axes[second])
        self.axes[second] = []
        for names in (self.activations, self.producers):
            names[first].extend(names[second])
            names[second] = []
        if second in self.fixed:
            self.fixed.add(first)
        return first

    def axis(self, gid: int, module: str, tensor: str, axis: int, block: int = 1) -> None:
        name = f"{module}.{tensor}"
        self.axes[self.find(gid)].append(
            PermutedAxis(name, axis, block, is_buffer=name not in self.params)
        )

    def spec(self) -> PermutationSpec:
        groups = []
        for gid in range(len(self.parent)):
            if self.find(gid) != gid or gid in self.fixed:
                continue
            acts = self.activations[gid] or self.producers[gid]
            groups.append(
                PermutationGroup(
                    self.names[gid], self.sizes[gid], tuple(self.axes[gid]), tuple(acts)
                )
            )
        return PermutationSpec(tuple(groups))


def trace(model: nn.Module) -> fx.GraphModule:
    """``torch.fx`` trace of the model; it shares the model's modules, so copy it before writing."""
    try:
        return fx.symbolic_trace(model)
    except Exception as exc:  # noqa: BLE001  (fx raises many types for untraceable code)
        raise UnsupportedModelError(
            f"cannot trace {type(model).__name__} with torch.fx ({type(exc).__name__}: {exc})"
        ) from exc


def _module_units(b: _Builder, node: fx.Node, units: _Units | None) -> _Units | None:
    """Unit state after a call_module node; records the permuted axes of its tensors."""
    path = str(node.target)
    m = b.gm.get_submodule(path)
    where = f"module {path!r} ({type(m).__name__})"
    if isinstance(m, PRODUCERS):
        if isinstance(m, nn.Linear):
            size, fan_in = m.out_features, m.in_features
        else:
            if m.groups != 1:
                raise UnsupportedModelError(f"{where}: grouped convolutions are not supported")
            size, fan_in = m.out_channels, m.in_channels
        if units is not None:
            n_in = b.sizes[b.find(units.group)]
            if units.flat and not isinstance(m, nn.Linear):
                raise UnsupportedModelError(f"{where}: convolution after Flatten")
            if fan_in % n_in:
                raise UnsupportedModelError(f"{where}: {fan_in} inputs from {n_in} units")
            b.axis(units.group, path, "weight", 1, fan_in // n_in)
        gid = b.new(path, size)
        b.axis(gid, path, "weight", 0)
        if m.bias is not None:
            b.axis(gid, path, "bias", 0)
        b.producers[gid].append(node.name)
        return _Units(gid)
    if units is None:  # input features are never permuted; nothing below changes that
        if isinstance(m, (*NORMS, *ACTIVATIONS, *CHANNELWISE, nn.Flatten)):
            return None
        raise UnsupportedModelError(f"{where}: no permutation rule for this module type")
    if isinstance(m, NORMS):
        if units.flat:
            raise UnsupportedModelError(f"{where}: BatchNorm after Flatten")
        for tensor, value in [*m.named_parameters(), *m.named_buffers()]:
            if value is not None and torch.is_floating_point(value):
                b.axis(units.group, path, tensor, 0)
        return units
    if isinstance(m, ACTIVATIONS):
        if not units.flat:
            b.activations[b.find(units.group)].append(node.name)
        return units
    if isinstance(m, CHANNELWISE):
        if units.flat and not isinstance(m, (nn.Identity, nn.Dropout)):
            raise UnsupportedModelError(f"{where}: pooling after Flatten")
        return units
    if isinstance(m, nn.Flatten):
        if m.start_dim != 1:
            raise UnsupportedModelError(f"{where}: only Flatten(start_dim=1) keeps units whole")
        return _Units(units.group, flat=True)
    raise UnsupportedModelError(f"{where}: no permutation rule for this module type")


def _function_units(
    b: _Builder, node: fx.Node, state: Mapping[fx.Node, _Units | None]
) -> _Units | None:
    """Unit state after a call_function node: residual additions and scalar gains."""
    where = f"operation {node.name!r} ({getattr(node.target, '__name__', node.target)})"
    args = [a for a in node.args if isinstance(a, fx.Node)]
    if node.target in ADDS and len(args) == 2 and not node.kwargs:
        u, v = (state.get(a) for a in args)
        if u is None and v is None:
            return None
        if u is None or v is None or u.flat != v.flat:
            raise UnsupportedModelError(f"{where}: adds permuted units to unpermuted values")
        return _Units(b.union(u.group, v.group, where), u.flat)
    if node.target in MULS and len(node.args) == 2 and not node.kwargs:
        scalars = [
            a
            for a in node.args
            if not isinstance(a, fx.Node)
            or (a.op == "get_attr" and operator.attrgetter(str(a.target))(b.gm).numel() == 1)
        ]
        if scalars:
            rest = [a for a in node.args if a is not scalars[0]]
            return state.get(rest[0]) if isinstance(rest[0], fx.Node) else None
    raise UnsupportedModelError(f"{where}: no permutation rule for this operation")


def permutation_spec(model: nn.Module) -> PermutationSpec:
    """The model's hidden-unit permutation groups, derived by tracing it (module docstring).

    Raises :class:`UnsupportedModelError` naming the first module or operation it cannot handle.
    """
    gm = trace(model)
    b = _Builder(gm)
    state: dict[fx.Node, _Units | None] = {}
    for node in gm.graph.nodes:
        if node.op == "placeholder" or node.op == "get_attr":
            state[node] = None
        elif node.op == "call_module":
            state[node] = _module_units(b, node, state[node.args[0]])
        elif node.op == "call_function":
            state[node] = _function_units(b, node, state)
        elif node.op == "output":
            out = node.args[0]
            if not isinstance(out, fx.Node):
                raise UnsupportedModelError("the model must return a single tensor")
            units = state[out]
            if units is not None:
                b.fixed.add(b.find(units.group))
        else:
            raise UnsupportedModelError(
                f"operation {node.name!r} ({node.op} {node.target}): no permutation rule"
            )
    return b.spec()


def _unit_index(perm: Tensor, block: int) -> Tensor:
    """Entry index along an axis of ``len(perm)`` units of ``block`` consecutive entries each."""
    if block == 1:
        return perm
    return (perm[:, None] * block + torch.arange(block, device=perm.device)).reshape(-1)


def permute_axis(t: Tensor, axis: int, perm: Tensor, block: int = 1) -> Tensor:
    """``t`` with entry i along ``axis`` taken from unit ``perm[i]`` (memory format kept)."""
    index = _unit_index(perm.to(t.device), block)
    out = torch.empty_like(t)
    out.copy_(t.index_select(axis, index))
    return out


def apply_permutation(
    spec: PermutationSpec, ps: Mapping[str, Tensor], perm: Mapping[str, Tensor]
) -> ParamSet:
    """A new parameter set: every axis of every group permuted by ``perm[group]``.

    Tensors outside the spec (and groups missing from ``perm``) are kept as they are (not copied).
    """
    out: ParamSet = dict(ps)
    for g in spec.groups:
        if g.name not in perm:
            continue
        for ax in g.axes:
            if ax.name in out:
                out[ax.name] = permute_axis(out[ax.name], ax.axis, perm[g.name], ax.block)
    return out


def identity_permutation(spec: PermutationSpec) -> Permutation:
    """The identity index of every group."""
    return {g.name: torch.arange(g.size) for g in spec.groups}


def random_permutation(spec: PermutationSpec, generator: torch.Generator) -> Permutation:
    """A uniformly random permutation of every group, drawn from ``generator``."""
    return {g.name: torch.randperm(g.size, generator=generator) for g in spec.groups}


def invert_permutation(perm: Mapping[str, Tensor]) -> Permutation:
    """The inverse of every group's permutation: applying both gives the identity."""
    return {k: torch.argsort(v) for k, v in perm.items()}
