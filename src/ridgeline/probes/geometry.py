"""The ``geometry`` component: mountainside diagnostics at the spawn point, and the loss plane."""

import math
import time
from pathlib import Path
from typing import Any

import torch

from ridgeline.errors import ConfigError
from ridgeline.landscape import (
    BNPolicy,
    ParamSet,
    distance,
    lerp,
    plane_slice,
    segment_profile,
    spawn_geometry,
)
from ridgeline.probes.component import PairComponent, ProbeContext, param_keys, uncorrected
from ridgeline.probes.registry import register_probe
from ridgeline.store.layout import PhaseLayout

# probe.geometry.plane: "end" = at the phase's final probe only, "all" = at every probe point,
# "off" = never (true / false, the switch's old values, mean "all" / "off").
PLANE_CHOICES = ("end", "all", "off")


def plane_mode(value: str | bool) -> str:
    """The plane switch's value as one of :data:`PLANE_CHOICES`."""
    if isinstance(value, bool):
        return "all" if value else "off"
    if value not in PLANE_CHOICES:
        raise ConfigError("probe.geometry.plane", value, f"one of {', '.join(PLANE_CHOICES)}")
    return value


# The plane evaluates resolution² + 3 parameter sets over its split per pair and probe point;
# 101 × 101 (10,204 sets, 82 × the default 11 × 11) bounds it: a larger grid would run for hours.
MAX_PLANE_RESOLUTION = 101


def check_plane_size(resolution: int) -> None:
    """``2 <= resolution <= MAX_PLANE_RESOLUTION``; the refusal states the plane's cost."""
    if 2 <= resolution <= MAX_PLANE_RESOLUTION:
        return
    cost = f"{resolution**2 + 3:,} parameter sets" if resolution >= 2 else "no plane"
    raise ConfigError(
        "probe.geometry.plane_resolution",
        resolution,
        f"an integer from 2 to {MAX_PLANE_RESOLUTION}: the plane evaluates resolution² + 3 "
        f"parameter sets over its split at each probe point ({cost} here, against 124 for the "
        "default 11)",
    )


@register_probe("geometry")
class GeometryProbe(PairComponent):
    """Angle at the spawn point, distances, loss profiles θ_s → each child; the loss plane.

    The plane (docs/design.md §5) is the loss and error on a ``plane_resolution`` ×
    ``plane_resolution`` grid through θ_s, θ_A, θ_B (spawned children) or through the children's
    inits' midpoint ½(θ_0^A + θ_0^B), θ_A, θ_B (independent children), spanning the three points
    plus ``plane_margin`` of their extent on each side, on the first of the component's splits.
    ``plane``: "end" (the phase's final probe only), "all" (every probe point) or "off". With
    ``plane_trajectory`` the parent's saved points (θ_0, its spawn points, its end) or the
    independent children's inits are projected onto it. The three points are evaluated through
    the plane's own parametrisation (``point_loss``, ``point_error``) in the grid's pass over
    the data. The plane costs resolution² + 3 parameter sets over the split, so it is computed
    for the first pair (0, 1) of a phase only, unless ``plane_every_pair``.
    """

    def __init__(
        self,
        plane: str = "end",
        plane_resolution: int = 11,
        plane_margin: float = 0.25,
        plane_trajectory: bool = True,
        plane_every_pair: bool = False,
        splits: list[str] | None = None,
    ) -> None:
        self.plane = plane_mode(plane)
        check_plane_size(plane_resolution)
        if not (math.isfinite(plane_margin) and plane_margin >= 0):
            raise ConfigError(
                "probe.geometry.plane_margin", plane_margin, "a finite number >= 0, e.g. 0.25"
            )
        self.plane_resolution = plane_resolution
        self.plane_margin = float(plane_margin)
        self.plane_trajectory = plane_trajectory
        self.plane_every_pair = plane_every_pair
        self.splits = splits
        self._parent_path: tuple[str, list[int], list[ParamSet]] | None = None

    def compute(self, ctx: ProbeContext, i: int, j: int) -> dict[str, Any]:
        a, b, s = ctx.states[i], ctx.states[j], ctx.spawn_state
        names = param_keys(ctx.template)
        if s is None:  # independent children: no common spawn point
            out: dict[str, Any] = {"dist_ab": distance(a, b, names)}
        else:
            out = spawn_geometry(s, a, b, names=names, groups=ctx.groups).to_dict()
            out["profiles"] = {
                split: {
                    "a": segment_profile(ev, s, a, ctx.profile_alphas, reduce=ctx.reduce).to_dict(),
                    "b": segment_profile(ev, s, b, ctx.profile_alphas, reduce=ctx.reduce).to_dict(),
                }
                for split, ev in ctx.splits(self.splits).items()
            }
        if self.wants_plane(ctx) and (self.plane_every_pair or (i, j) == (0, 1)):
            out["plane"] = self._plane(ctx, i, j, names)
        return out

    def wants_plane(self, ctx: ProbeContext) -> bool:
        """Whether this probe point records the plane (``final``: set by the probe callback)."""
        if self.plane == "off":
            return False
        return self.plane == "all" or bool(ctx.extra.get("final", False))

    def _plane(self, ctx: ProbeContext, i: int, j: int, names: list[str]) -> dict[str, Any] | None:
        """The plane record of pair (i, j), or None where it is undefined (points collinear,
        e.g. at the spawn point, or independent children whose inits were not kept)."""
        start = time.perf_counter()
        split, ev = next(iter(ctx.splits(self.splits).items()))
        if ev.bn_policy is BNPolicy.REPAIR:
            ev = uncorrected(ev)  # plane_slice refuses repair; the record says interpolate
        a, b = ctx.states[i], ctx.states[j]
        trajectories: dict[str, list[ParamSet]] = {}
        steps: dict[str, list[int]] = {}
        if ctx.spawn_state is not None:
            p0, labels = ctx.spawn_state, ("spawn", "a", "b")
            parent = self._parent_trajectory(ctx) if self.plane_trajectory else None
            if parent is not None:
                steps["parent"], trajectories["parent"] = parent
        else:
            inits = ctx.extra.get("inits")
            if not inits:
                return None
            p0, labels = lerp(inits[i], inits[j], 0.5), ("inits' midpoint", "a", "b")
            if self.plane_trajectory:
                end = ctx.extra.get("step", 0)
                trajectories = {"init_a": [inits[i], a], "init_b": [inits[j], b]}
                steps = {"init_a": [0, end], "init_b": [0, end]}
        try:
            plane = plane_slice(
                ev,
                p0,
                a,
                b,
                resolution=self.plane_resolution,
                margin=self.plane_margin,
                names=names,
                reduce=ctx.reduce,
                trajectories=trajectories,
                trajectory_steps=steps,
                labels=labels,
                path_alphas=ctx.alphas,
            )
        except ValueError:  # the three points are collinear (e.g. at the spawn point)
            return None
        return {"split": split, **plane.to_dict(), "seconds": time.perf_counter() - start}

    def _parent_trajectory(self, ctx: ProbeContext) -> tuple[list[int], list[ParamSet]] | None:
        """The parent's saved points (θ_0, spawn points, its end once finished), by step;
        loaded once per phase from the parent's directory (``ctx.extra['parent_dir']``)."""
        root = ctx.extra.get("parent_dir")
        if root is None:
            return None
        if self._parent_path is None or self._parent_path[0] != str(root):
            found = parent_points(Path(root))
            device = next(iter(ctx.spawn_state.values())).device if ctx.spawn_state else None
            states = [{k: v.to(device) for k, v in st.items()} for st in found[1]]
            self._parent_path = (str(root), found[0], states)
        _, steps, states = self._parent_path
        return (steps, states) if states else None


def parent_points(root: Path) -> tuple[list[int], list[ParamSet]]:
    """(steps, model states) of a parent phase directory: ``theta0.pt`` (step 0), every
    ``spawn_points/step=<k>.ckpt`` and, once the phase is done, ``checkpoints/last.ckpt``;
    one state per step, in step order (what exists of them)."""
    # Lightning's checkpoint modules, imported here: ridgeline-train checks a config (building
    # this component) before it imports Lightning.
    from ridgeline.store.checkpoints import load_checkpoint
    from ridgeline.training.spawn import parent_model_state

    layout = PhaseLayout(root)
    points: dict[int, ParamSet] = {}
    if layout.theta0.is_file():
        points[0] = torch.load(layout.theta0, map_location="cpu", weights_only=True)
    for path in sorted(layout.spawn_points.glob("step=*.ckpt")):
        step = int(path.stem.split("=")[1])
        if step not in points:
            points[step] = parent_model_state(load_checkpoint(path))
    if layout.done.exists() and layout.last_checkpoint.is_file():
        ckpt = load_checkpoint(layout.last_checkpoint)
        points.setdefault(int(ckpt.get("global_step", -1)), parent_model_state(ckpt))
    points.pop(-1, None)
    order = sorted(points)
    return order, [points[k] for k in order]
