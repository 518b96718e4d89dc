"""Checks shared by the toys: spawn steps inside the run, at least one child pair."""

from collections.abc import Sequence


def check_spawn_plan(spawn_steps: Sequence[int], total_steps: int, n_pairs: int) -> None:
    """Raise ValueError naming the bad value: spawn steps outside [0, T) (children need steps
    to train, as ridgeline-train's spawn.at) or n_pairs < 1."""
    if any(k < 0 or k >= total_steps for k in spawn_steps):
        raise ValueError(f"spawn steps must lie in [0, {total_steps}), got {list(spawn_steps)}")
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be >= 1, got {n_pairs}")
