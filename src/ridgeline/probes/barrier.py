"""The ``barrier`` component: whole-network barrier curves and variants (docs/design.md §2), and
the ridge on the path (§4)."""

from typing import Any

import torch

from ridgeline.landscape import (
    BNPolicy,
    ParamSet,
    barrier_curve,
)
from ridgeline.landscape.ridge import ridge_of_curve
from ridgeline.probes.component import PairComponent, ProbeContext, param_keys, uncorrected
from ridgeline.probes.registry import register_probe

RIDGE = "ridge"  # the ridge record's key inside a split's barrier record


def coincide(a: ParamSet, b: ParamSet, names: list[str]) -> bool:
    """θ_A = θ_B over the parameters ``names`` (Δ = 0: at the spawn point, before training)."""
    return all(torch.equal(a[k], b[k]) for k in names)


@register_probe("barrier")
class BarrierProbe(PairComponent):
    """Loss/error curves over the α-grid and the midpoint, chord and endpoint-mean barriers.

    With ``ridge`` each split's record (of ``ridge_splits``, default: every split of the
    component) also holds, under ``ridge``, where the loss curve peaks over its chord (α* =
    argmax_α L(α) − ((1−α)L_A + αL_B) on the probe's α-grid), its height and the curvature
    ΔᵀH(θ_α*)Δ there (one nested jvp per split; negative = a ridge on the path); none where the
    children coincide (Δ = 0: no path). Under ``bn_policy='repair'`` the ridge, like every
    Taylor term, is the uncorrected path's: its own curve (one more pass over the α-grid), α*,
    height and ΔᵀH(θ_α*)Δ, and it says ``bn_policy: interpolate`` (docs/design.md §7).
    """

    aligned = True

    def __init__(
        self,
        ridge: bool = True,
        ridge_splits: list[str] | None = None,
        splits: list[str] | None = None,
    ) -> None:
        self.ridge = ridge
        self.ridge_splits = ridge_splits
        self.splits = splits

    def compute(self, ctx: ProbeContext, i: int, j: int) -> dict[str, Any]:
        a, b = ctx.states[i], ctx.states[j]
        ridge = self.ridge and not coincide(a, b, param_keys(ctx.template))
        out = {}
        for split, ev in ctx.splits(self.splits).items():
            curve = barrier_curve(ev, a, b, ctx.alphas, reduce=ctx.reduce)
            out[split] = curve.to_dict()
            if ridge and (self.ridge_splits is None or split in self.ridge_splits):
                if ev.bn_policy is BNPolicy.REPAIR:  # the Taylor terms' path (§4, §7)
                    ev = uncorrected(ev)
                    curve = barrier_curve(ev, a, b, ctx.alphas, reduce=ctx.reduce)
                out[split][RIDGE] = ridge_of_curve(ev, a, b, curve, reduce=ctx.reduce).to_dict()
        return out
