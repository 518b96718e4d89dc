"""LMC modulo symmetry: the aligned components again on (θ_A, T(θ_B))."""

import dataclasses
from typing import Any

from torch import nn

from ridgeline.landscape import Evaluator, align, layer_groups
from ridgeline.landscape.permutation import PermutationSpec
from ridgeline.landscape.transformer_matching import align_transformer, symmetry_spec
from ridgeline.landscape.transformer_symmetry import TransformerSpec, fold_norms
from ridgeline.probes.component import PairComponent, ProbeContext


class AlignedPair:
    """LMC modulo symmetry: θ_B aligned to θ_A, then the ``aligned`` components (barrier,
    layer-wise, Taylor) again on (θ_A, T(θ_B)), recorded under ``aligned`` with how it was
    aligned (``ridgeline.landscape.alignment``). Models with derived permutation specs are
    aligned by hidden-unit permutations; transformers by the ``group`` of
    :mod:`ridgeline.landscape.transformer_symmetry`: ``permutation`` in the original weights,
    ``orthogonal`` in the reparameterised ones (both endpoints folded into gain-free RMSNorms,
    so every aligned component measures the straight line in those coordinates; the record's
    ``alignment.coordinates`` says which). Activation matching uses the train split's
    evaluation examples (sharded under DDP; the correlation sums go through ``reduce``).
    """

    key = "aligned"

    def __init__(
        self, method: str, spawned: bool = False, seed: int = 0, group: str = "permutation"
    ) -> None:
        self.method = method
        self.spawned = spawned
        self.seed = seed
        self.group = group
        self.spec: PermutationSpec | TransformerSpec | None = None
        self._twin: tuple[nn.Module, dict[str, Evaluator]] | None = None

    def applies_to(self, kind: str) -> bool:
        """Children of different initialisations always; spawned children when asked."""
        return kind == "independent" or (self.spawned and kind == "spawn")

    def compute(
        self, ctx: ProbeContext, i: int, j: int, components: list[PairComponent]
    ) -> dict[str, Any]:
        if self.spec is None:
            self.spec = symmetry_spec(ctx.template, self.group)
        data = ctx.evaluators.get("train") or next(iter(ctx.evaluators.values()))
        if isinstance(self.spec, PermutationSpec):
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
        else:
            model, a, aligned_b, how = align_transformer(
                ctx.template,
                ctx.states[i],
                ctx.states[j],
                self.method,
                self.group,
                x=data.x,
                spec=self.spec,
                chunk_size=data.chunk_size,
                reduce=ctx.reduce,
            )
            pair = dataclasses.replace(ctx, states=[a, aligned_b])
            if how.coordinates == "reparameterised":
                pair = self._reparameterised(pair, model)
        out: dict[str, Any] = {"alignment": how.to_dict()}
        for component in components:
            if component.aligned:
                out[component.key] = component.compute(pair, 0, 1)
        return out

    def _reparameterised(self, pair: ProbeContext, twin: nn.Module) -> ProbeContext:
        """The context on the gain-free RMSNorm twin: its evaluators (same data, built once),
        layer groups and the spawn point folded the same way."""
        assert isinstance(self.spec, TransformerSpec)
        if self._twin is None:
            evaluators = {
                split: Evaluator(
                    twin,
                    ev.x,
                    ev.y,
                    chunk_size=ev.chunk_size,
                    per_example_loss=ev.per_example_loss,
                    n_total=ev.n_total,
                )
                for split, ev in pair.evaluators.items()
            }
            self._twin = (twin, evaluators)
        template, evaluators = self._twin
        spawn = pair.spawn_state
        return dataclasses.replace(
            pair,
            template=template,
            evaluators=evaluators,
            groups=layer_groups(template),
            spawn_state=None if spawn is None else fold_norms(self.spec, spawn),
        )
