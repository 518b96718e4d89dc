"""The ``barrier`` component: whole-network barrier curves and variants (docs/design.md §2), and
the ridge on the path (§4)."""

from typing import Any

from ridgeline.landscape import (
    barrier_curve,
)
from ridgeline.landscape.ridge import ridge_of_curve
from ridgeline.probes.component import PairComponent, ProbeContext

RIDGE = "ridge"  # the ridge record's key inside a split's barrier record


class BarrierProbe(PairComponent):
    """Loss/error curves over the α-grid and the midpoint, chord and endpoint-mean barriers.

    With ``ridge`` each split's record also holds, under ``ridge``, where the loss curve peaks
    over its chord (α* = argmax_α L(α) − ((1−α)L_A + αL_B) on the probe's α-grid), its height and
    the curvature ΔᵀH(θ_α*)Δ there (one nested jvp per split; negative = a ridge on the path).
    """

    key = "barrier"
    aligned = True

    def __init__(self, ridge: bool = True, splits: list[str] | None = None) -> None:
        self.ridge = ridge
        self.splits = splits

    def compute(self, ctx: ProbeContext, i: int, j: int) -> dict[str, Any]:
        a, b = ctx.states[i], ctx.states[j]
        out = {}
        for split, ev in ctx.splits(self.splits).items():
            curve = barrier_curve(ev, a, b, ctx.alphas, reduce=ctx.reduce)
            out[split] = curve.to_dict()
            if self.ridge:
                out[split][RIDGE] = ridge_of_curve(ev, a, b, curve, reduce=ctx.reduce).to_dict()
        return out
