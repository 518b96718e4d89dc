"""LMC modulo permutation: the aligned components again on (θ_A, P(θ_B))."""

import dataclasses
from typing import Any

from ridgeline.landscape import align, permutation_spec
from ridgeline.landscape.permutation import PermutationSpec
from ridgeline.probes.component import PairComponent, ProbeContext


class AlignedPair:
    """LMC modulo permutation: θ_B's hidden units aligned to θ_A's, then the ``aligned``
    components (barrier, layer-wise, Taylor) again on (θ_A, P(θ_B)), recorded under ``aligned``
    with how it was aligned (``ridgeline.landscape.alignment``). Activation matching uses the
    train split's evaluation examples (sharded under DDP; the correlation sums go through
    ``reduce``).
    """

    key = "aligned"

    def __init__(self, method: str, spawned: bool = False, seed: int = 0) -> None:
        self.method = method
        self.spawned = spawned
        self.seed = seed
        self.spec: PermutationSpec | None = None

    def applies_to(self, kind: str) -> bool:
        """Children of different initialisations always; spawned children when asked."""
        return kind == "independent" or (self.spawned and kind == "spawn")

    def compute(
        self, ctx: ProbeContext, i: int, j: int, components: list[PairComponent]
    ) -> dict[str, Any]:
        if self.spec is None:
            self.spec = permutation_spec(ctx.template)
        data = ctx.evaluators.get("train") or next(iter(ctx.evaluators.values()))
        aligned_b, how = align(
            ctx.template,
            ctx.states[i],
            ctx.states[j],
            self.method,
            x=data.x,
            spec=self.spec,
            seed=self.seed,
            chunk_size=data.chunk_size,
            reduce=ctx.reduce,
        )
        pair = dataclasses.replace(ctx, states=[ctx.states[i], aligned_b])
        out: dict[str, Any] = {"alignment": how.to_dict()}
        for component in components:
            if component.aligned:
                out[component.key] = component.compute(pair, 0, 1)
        return out
