"""The ``curvature`` component: the Taylor barrier prediction −⅛ΔᵀH(θ_½)Δ and its blocks, and
their Gauss-Newton split."""

from typing import Any

from ridgeline.landscape import (
    BNPolicy,
    model_top_eigenvalue,
    taylor_prediction,
)
from ridgeline.landscape.gauss_newton import gauss_newton_split
from ridgeline.probes.barrier import coincide
from ridgeline.probes.component import PairComponent, ProbeContext, param_keys, uncorrected
from ridgeline.probes.registry import register_probe

GAUSS_NEWTON = "gauss_newton"  # the split's key inside a split's curvature record


@register_probe("curvature")  # records written before the rename used "taylor"
class CurvatureProbe(PairComponent):
    """−⅛ΔᵀH(θ_½)Δ, its layer-wise blocks and cross-checks; optionally the top eigenvalue and
    the Gauss-Newton split ΔᵀHΔ = ΔᵀGΔ + ΔᵀRΔ (``gauss_newton``: at θ_½, and per layer at
    θ^{ℓ,½} when ``layerwise``; recorded under ``gauss_newton`` in each split's record, except
    where the children coincide)."""

    aligned = True

    def __init__(
        self,
        layerwise: bool = True,
        endpoints: bool = True,
        top_eigenvalue: bool = False,
        gauss_newton: bool = False,
        splits: list[str] | None = None,
    ) -> None:
        self.layerwise = layerwise
        self.endpoints = endpoints
        self.top_eigenvalue = top_eigenvalue
        self.gauss_newton = gauss_newton
        self.splits = splits

    def compute(self, ctx: ProbeContext, i: int, j: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        a, b = ctx.states[i], ctx.states[j]
        same = coincide(a, b, param_keys(ctx.template))  # Δ = 0: the split is 0 = 0 + 0
        for split, ev in ctx.splits(self.splits).items():
            if ev.bn_policy is BNPolicy.REPAIR:
                ev = uncorrected(ev)  # the Taylor terms expand the uncorrected path θ_α (§4)
            rec = taylor_prediction(
                ev,
                a,
                b,
                groups=ctx.groups,
                layerwise=self.layerwise,
                endpoints=self.endpoints,
                reduce=ctx.reduce,
            ).to_dict()
            if self.top_eigenvalue:
                mid = {k: 0.5 * (a[k] + b[k]) if a[k].is_floating_point() else a[k] for k in a}
                rec["top_eigenvalue_mid"] = model_top_eigenvalue(
                    ev, mid, reduce=ctx.reduce
                ).to_dict()
            if self.gauss_newton and not same:
                rec[GAUSS_NEWTON] = gauss_newton_split(
                    ev, a, b, groups=ctx.groups, layerwise=self.layerwise, reduce=ctx.reduce
                ).to_dict()
            out[split] = rec
        return out
