"""OmegaConf resolvers for configs: ${logspace:first,last,count} and ${linspace:lo,hi,count}."""

from omegaconf import OmegaConf

from ridgeline.training.steps import log_spaced_steps


def linspace(lo: float, hi: float, count: int) -> list[float]:
    """``count`` evenly spaced values from lo to hi, both included (an α-grid)."""
    count = int(count)
    if count < 2:
        raise ValueError(f"linspace needs count >= 2, got {count}")
    return [round(lo + (hi - lo) * i / (count - 1), 10) for i in range(count)]


def register_resolvers() -> None:
    """Register once; safe to call again."""
    if not OmegaConf.has_resolver("logspace"):
        OmegaConf.register_new_resolver(
            "logspace",
            lambda first, last, count: log_spaced_steps(int(first), int(last), int(count)),
        )
    if not OmegaConf.has_resolver("linspace"):
        OmegaConf.register_new_resolver("linspace", linspace)
