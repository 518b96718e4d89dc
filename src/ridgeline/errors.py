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
