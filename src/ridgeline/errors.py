"""Errors that ridgeline reports to the user as one clear message, without a traceback."""


class RidgelineError(Exception):
    """A problem the user can fix; the message names the key, the value and the fix."""


class ConfigError(RidgelineError, ValueError):
    """A configuration value that cannot work, detected before any compute."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r} is not valid: {allowed}")


class TrainingDiverged(RidgelineError):
    """The training loss became non-finite."""


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
