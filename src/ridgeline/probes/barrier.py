"""The ``barrier`` component: whole-network barrier curves and variants (docs/design.md §2)."""

from typing import Any

from ridgeline.landscape import (
    barrier_curve,
)
from ridgeline.probes.component import PairComponent, ProbeContext


class BarrierProbe(PairComponent):
    """Loss/error curves over the α-grid and the midpoint, chord and endpoint-mean barriers."""

    key = "barrier"
    aligned = True

    def __init__(self, splits: list[str] | None = None) -> None:
        self.splits = splits

    def compute(self, ctx: ProbeContext, i: int, j: int) -> dict[str, Any]:
        a, b = ctx.states[i], ctx.states[j]
        return {
            split: barrier_curve(ev, a, b, ctx.alphas, reduce=ctx.reduce).to_dict()
            for split, ev in ctx.splits(self.splits).items()
        }
