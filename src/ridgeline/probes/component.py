"""What a probe component sees at one probe point, and the pair component's interface."""

from dataclasses import dataclass, field
from typing import Any

from torch import nn

from ridgeline.landscape import (
    BNPolicy,
    Evaluator,
    LayerGroup,
    ParamSet,
)
from ridgeline.landscape.sums import Reduce


@dataclass
class ProbeContext:
    """Everything a component needs at one probe point."""

    template: nn.Module
    states: list[ParamSet]
    spawn_state: ParamSet | None
    evaluators: dict[str, Evaluator]
    groups: list[LayerGroup]
    alphas: list[float]
    profile_alphas: list[float]
    reduce: Reduce | None
    extra: dict[str, Any] = field(default_factory=dict)

    def splits(self, only: list[str] | None) -> dict[str, Evaluator]:
        """The evaluators of the probe's splits, restricted to ``only`` when given."""
        if only is None:
            return self.evaluators
        return {k: v for k, v in self.evaluators.items() if k in only}


class PairComponent:
    """Computes part of the record of one pair (i, j) of children, under its ``key``.

    ``splits`` restricts a component to some of the probe's splits (None: all of them);
    ``aligned`` components are computed again on (θ_A, P(θ_B)) when ``probe.align`` is set.
    """

    key: str = ""  # the registered name (register_probe), or a user's own
    splits: list[str] | None = None
    aligned: bool = False
    pair = True  # read by the config check (spawn.children >= 2) without importing probes

    def compute(self, ctx: ProbeContext, i: int, j: int) -> dict[str, Any]:
        raise NotImplementedError


def param_keys(model: nn.Module) -> list[str]:
    return [name for name, _ in model.named_parameters()]


def uncorrected(ev: Evaluator) -> Evaluator:
    """The same model, data, chunks and path as ``ev`` under ``bn_policy='interpolate'``.

    Under a ``repair`` probe (BN-free models) the loss plane and the Taylor terms are of the
    uncorrected parameter sets: REPAIR's targets interpolate two endpoints' statistics, and a
    plane point combines three points (``plane_slice`` refuses repair), while −⅛ΔᵀH(θ_½)Δ
    expands the loss of the straight path θ_α itself (docs/design.md §4, §7).
    """
    pinned = ev.pinned_path
    return Evaluator(
        ev.source,
        ev.x,
        ev.y,
        chunk_size=ev.chunk_size,
        bn_policy=BNPolicy.INTERPOLATE,
        use_vmap=None if pinned is None else pinned == "vmap",
        per_example_loss=ev.per_example_loss,
        path_cache=ev.path_cache,
        n_total=ev.n_total,
    )
