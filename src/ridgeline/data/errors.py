"""The error raised when a dataset's files are not on disk."""


class MissingDataError(RuntimeError):
    """Dataset files are absent (or unreadable) and could not be downloaded."""
