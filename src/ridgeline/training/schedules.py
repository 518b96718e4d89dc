"""Learning-rate schedules as multiplicative factors of the optimiser step.

Each factory returns ``f(step) -> factor`` for ``torch.optim.lr_scheduler.LambdaLR``; the
unit is the optimiser step (iteration), because LMC experiments spawn at iteration counts.
"""

import math
from collections.abc import Callable, Sequence

Schedule = Callable[[int], float]


def constant() -> Schedule:
    """factor(t) = 1."""
    return lambda step: 1.0


def step_decay(milestones: Sequence[int], gamma: float = 0.1) -> Schedule:
    """factor(t) = gamma ** #{m in milestones : t >= m} (milestones in steps)."""
    marks = sorted(int(m) for m in milestones)
    return lambda step: gamma ** sum(step >= m for m in marks)


def cosine(total_steps: int, final_factor: float = 0.0) -> Schedule:
    """factor(t) = f + (1 - f)(1 + cos(pi t / T)) / 2, held at f after T (Loshchilov & Hutter 2017)."""

    def factor(step: int) -> float:
        t = min(step, total_steps) / max(total_steps, 1)
        return final_factor + (1.0 - final_factor) * 0.5 * (1.0 + math.cos(math.pi * t))

    return factor


def warmup_cosine(total_steps: int, warmup_steps: int, final_factor: float = 0.0) -> Schedule:
    """Linear warm-up (t+1)/W for t < W, then cosine from 1 to f over the remaining steps."""
    tail = cosine(max(total_steps - warmup_steps, 1), final_factor)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return tail(step - warmup_steps)

    return factor


def shifted(schedule: Schedule, offset: int) -> Schedule:
    """factor(t) = schedule(t + offset): children spawned at step k continue the parent's schedule."""
    return lambda step: schedule(step + offset)
