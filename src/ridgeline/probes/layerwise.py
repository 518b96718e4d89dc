"""The ``layerwise`` component: single-layer and cumulative barriers (Adilova et al. 2024)."""

from typing import Any

from ridgeline.landscape import (
    layerwise_barriers,
)
from ridgeline.probes.component import PairComponent, ProbeContext
from ridgeline.probes.registry import register_probe


@register_probe("layerwise")
class LayerwiseProbe(PairComponent):
    """Single-layer barriers into A and into B, and cumulative groups (Adilova et al. 2024)."""

    aligned = True

    def __init__(
        self, curve: bool = False, cumulative: bool = True, splits: list[str] | None = None
    ) -> None:
        self.curve = curve
        self.cumulative = cumulative
        self.splits = splits

    def compute(self, ctx: ProbeContext, i: int, j: int) -> dict[str, Any]:
        alphas = ctx.alphas if self.curve else [0.0, 0.5, 1.0]
        return {
            split: layerwise_barriers(
                ev,
                ctx.states[i],
                ctx.states[j],
                groups=ctx.groups,
                alphas=alphas,
                cumulative=self.cumulative,
                reduce=ctx.reduce,
            ).to_dict()
            for split, ev in ctx.splits(self.splits).items()
        }
