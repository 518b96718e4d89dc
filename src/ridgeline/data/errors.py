"""The errors raised when a dataset's files are not on disk, or damaged."""

from ridgeline.errors import RidgelineError


class MissingDataError(RidgelineError, RuntimeError):
    """Dataset files are absent (or unreadable) and could not be downloaded."""


class DamagedDataError(MissingDataError):
    """A dataset file is there but corrupt or of the wrong size; the message names it."""
