"""The error raised when a dataset's files are not on disk."""

from ridgeline.errors import RidgelineError


class MissingDataError(RidgelineError, RuntimeError):
    """Dataset files are absent (or unreadable) and could not be downloaded."""
