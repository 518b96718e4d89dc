"""Errors that ridgeline reports to the user as one clear message, without a traceback."""

from pathlib import Path
from typing import Any


class RidgelineError(Exception):
    """A problem the user can fix; the message names the key, the value and the fix."""


class ConfigError(RidgelineError, ValueError):
    """A configuration value that cannot work, detected before any compute."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r} is not valid: {allowed}")


class TrainingDiverged(RidgelineError):
    """The training loss became non-finite."""


def kept_checkpoint(module: Any) -> str:
    """Which checkpoint a diverged phase keeps, and where: its last.ckpt and the step it holds."""
    from ridgeline.run_layout import PhaseLayout

    trainer = getattr(module, "_trainer", None)
    if trainer is None:
        return "No checkpoint of this phase was written."
    last = PhaseLayout(Path(trainer.default_root_dir)).last_checkpoint  # the phase's directory
    if not last.is_file():
        return f"No checkpoint of this phase was written yet ({last} does not exist)."
    import torch

    try:  # mmap: reads the step, not the weights
        step = torch.load(last, map_location="cpu", mmap=True, weights_only=False)["global_step"]
    except Exception:
        return f"The last good checkpoint is kept: {last}."
    return f"The last good checkpoint is kept: {last} (step {module.step_offset + int(step)})."


def user_error_message(exc: BaseException) -> str | None:
    """The one-line message of a RidgelineError, or None for any other exception.

    An error raised inside a ``ddp_spawn`` worker reaches the main process as a
    ``ProcessRaisedException`` holding the worker's traceback as text; its last
    ``ridgeline.<module>.<Error>: message`` line is the message.
    """
    if isinstance(exc, RidgelineError):
        return str(exc)
    import importlib
    import re

    for path, message in reversed(re.findall(r"^(ridgeline(?:\.\w+)+): (.+)$", str(exc), re.M)):
        module, _, name = path.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        if isinstance(cls, type) and issubclass(cls, RidgelineError):
            return message
    return None
