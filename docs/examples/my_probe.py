"""A probe component of your own: a ``PairComponent`` registered under a name, which is both
its config key (``probe.disagreement``) and its record key (``record.raw["disagreement"]``).

At each probe point ``compute(ctx, i, j)`` gets the children's parameter sets and the fixed
evaluation data of every split; what it returns (JSON-able) goes into the pair's record.
"""

from typing import Any

import torch
from torch.func import functional_call

from ridgeline.landscape.sums import exact_means
from ridgeline.probes import PairComponent, register_probe
from ridgeline.probes.component import ProbeContext


@register_probe("disagreement")
class DisagreementProbe(PairComponent):
    """Prediction disagreement of children i and j on each split:
    D = (1/N) Σ_n [argmax_c f(x_n; θ_i)_c ≠ argmax_c f(x_n; θ_j)_c]
    (Fort et al. 2020, "Deep ensembles: a loss landscape perspective"). Under DDP each process
    counts its shard and ``exact_means`` sums over processes before dividing by N.
    """

    def __init__(self, splits: list[str] | None = None) -> None:
        self.splits = splits  # None: every split of the probe

    def compute(self, ctx: ProbeContext, i: int, j: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for split, ev in ctx.splits(self.splits).items():
            differ, n = torch.zeros(1, dtype=torch.float64), 0
            with torch.no_grad():
                for x, _ in ev.chunks():
                    a = functional_call(ev.template, ctx.states[i], (x,)).argmax(dim=1)
                    b = functional_call(ev.template, ctx.states[j], (x,)).argmax(dim=1)
                    differ += (a != b).sum().item()
                    n += len(x)
            out[split] = float(exact_means(differ, n, ctx.reduce)[0])
        return out
