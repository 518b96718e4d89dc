"""The ``geometry`` component: mountainside diagnostics at the spawn point."""

from typing import Any

from ridgeline.landscape import (
    BNPolicy,
    distance,
    plane_slice,
    segment_profile,
    spawn_geometry,
)
from ridgeline.probes.component import PairComponent, ProbeContext, param_keys, uncorrected


class GeometryProbe(PairComponent):
    """Angle at the spawn point, distances, loss profiles θ_s → each child; optional 2-D slice."""

    key = "geometry"

    def __init__(
        self, plane: bool = False, plane_resolution: int = 11, splits: list[str] | None = None
    ) -> None:
        self.plane = plane
        self.plane_resolution = plane_resolution
        self.splits = splits

    def compute(self, ctx: ProbeContext, i: int, j: int) -> dict[str, Any]:
        a, b, s = ctx.states[i], ctx.states[j], ctx.spawn_state
        if s is None:  # independent children: no common spawn point
            return {"dist_ab": distance(a, b, param_keys(ctx.template))}
        names = param_keys(ctx.template)
        out: dict[str, Any] = spawn_geometry(s, a, b, names=names, groups=ctx.groups).to_dict()
        out["profiles"] = {
            split: {
                "a": segment_profile(ev, s, a, ctx.profile_alphas, reduce=ctx.reduce).to_dict(),
                "b": segment_profile(ev, s, b, ctx.profile_alphas, reduce=ctx.reduce).to_dict(),
            }
            for split, ev in ctx.splits(self.splits).items()
        }
        if self.plane:
            split, ev = next(iter(ctx.splits(self.splits).items()))
            if ev.bn_policy is BNPolicy.REPAIR:
                ev = uncorrected(ev)  # plane_slice refuses repair; the record says interpolate
            try:
                plane = plane_slice(
                    ev, s, a, b, resolution=self.plane_resolution, reduce=ctx.reduce
                ).to_dict()
                out["plane"] = {"split": split, **plane}
            except ValueError:  # θ_s, θ_A, θ_B collinear (e.g. at the spawn point): no plane
                out["plane"] = None
        return out
