"""The ``parent`` component: the parent's loss profile θ_0 → θ_t and distance from θ_0."""

from typing import Any

from ridgeline.landscape import (
    distance,
    segment_profile,
)
from ridgeline.probes.component import ProbeContext, param_keys
from ridgeline.probes.registry import register_probe


@register_probe("parent", on_parent=True)
class ParentProbe:
    """On the parent: loss profile θ_0 → θ_t and distance from θ_0."""

    key: str = ""  # the registered name (register_probe)

    def __init__(self, splits: list[str] | None = None) -> None:
        self.splits = splits

    def compute(self, ctx: ProbeContext) -> dict[str, Any]:
        theta0, theta = ctx.extra["theta0"], ctx.states[0]
        return {
            "distance_from_init": distance(theta0, theta, param_keys(ctx.template)),
            "profiles": {
                split: segment_profile(
                    ev, theta0, theta, ctx.profile_alphas, reduce=ctx.reduce
                ).to_dict()
                for split, ev in ctx.splits(self.splits).items()
            },
        }
