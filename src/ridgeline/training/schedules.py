"""Learning-rate schedules as multiplicative factors of the optimiser step.

Each schedule is a picklable callable ``f(step) -> factor`` for
``torch.optim.lr_scheduler.LambdaLR``; the unit is the optimiser step (iteration), because LMC
experiments spawn at iteration counts.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

Schedule = Callable[[int], float]


@dataclass(frozen=True)
class Constant:
    """factor(t) = 1."""

    def __call__(self, step: int) -> float:
        return 1.0


@dataclass(frozen=True)
class StepDecay:
    """factor(t) = gamma ** #{m in milestones : t >= m} (milestones in steps)."""

    milestones: tuple[int, ...]
    gamma: float = 0.1

    def __call__(self, step: int) -> float:
        return self.gamma ** sum(step >= m for m in self.milestones)


@dataclass(frozen=True)
class Cosine:
    """factor(t) = f + (1 − f)(1 + cos(π t/T))/2, held at f after T (Loshchilov & Hutter 2017)."""

    total_steps: int
    final_factor: float = 0.0

    def __call__(self, step: int) -> float:
        t = min(step, self.total_steps) / max(self.total_steps, 1)
        return self.final_factor + (1.0 - self.final_factor) * 0.5 * (1.0 + math.cos(math.pi * t))


@dataclass(frozen=True)
class WarmupCosine:
    """Linear warm-up (t+1)/W for t < W, then cosine from 1 to f over the remaining steps."""

    total_steps: int
    warmup_steps: int
    final_factor: float = 0.0

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        tail = Cosine(max(self.total_steps - self.warmup_steps, 1), self.final_factor)
        return tail(step - self.warmup_steps)


@dataclass(frozen=True)
class Shifted:
    """factor(t) = schedule(t + offset): children spawned at k continue the parent's schedule."""

    schedule: Schedule
    offset: int

    def __call__(self, step: int) -> float:
        return self.schedule(step + self.offset)


def constant() -> Schedule:
    return Constant()


def step_decay(milestones: Sequence[int], gamma: float = 0.1) -> Schedule:
    return StepDecay(tuple(sorted(int(m) for m in milestones)), gamma)


def cosine(total_steps: int, final_factor: float = 0.0) -> Schedule:
    return Cosine(int(total_steps), final_factor)


def warmup_cosine(total_steps: int, warmup_steps: int, final_factor: float = 0.0) -> Schedule:
    return WarmupCosine(int(total_steps), int(warmup_steps), final_factor)


def shifted(schedule: Schedule, offset: int) -> Schedule:
    return Shifted(schedule, int(offset))


# LambdaLR stores these objects in checkpoints; allow them when Lightning resumes with
# torch.load(weights_only=True).
torch.serialization.add_safe_globals([Constant, StepDecay, Cosine, WarmupCosine, Shifted])
