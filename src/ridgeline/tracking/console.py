"""A quiet console: ridgeline's own lines, the progress bar, the probe timing line, the table.

Everything other libraries report below ERROR (Lightning's banners and tips, W&B's run header,
history and sync hints, warnings of any library) goes to the run's log file only: Hydra's
``<run dir>/<job name>.log`` gets every record, the terminal only ridgeline's and errors.
"""

import logging

OWN_LOGGER = "ridgeline"
# W&B's terminal lines (run header, history, sync hints) are logged here instead of printed;
# outside the "wandb" hierarchy, which W&B keeps from reaching the root logger.
WANDB_TERMINAL_LOGGER = "wandb_terminal"
# Libraries that print through a console handler of their own when imported before logging
# was set up; their records are sent to the root handlers (file and filtered console) instead.
OWN_HANDLER_LOGGERS = ("pytorch_lightning", "lightning_fabric", "lightning")


class OwnLinesAndErrors(logging.Filter):
    """Passes ridgeline's records and any record at ERROR or above."""

    def filter(self, record: logging.LogRecord) -> bool:
        own = record.name == OWN_LOGGER or record.name.startswith(OWN_LOGGER + ".")
        return own or record.levelno >= logging.ERROR


def _is_console(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and not isinstance(
        handler, logging.FileHandler
    )


def quiet_console() -> None:
    """Filter the root logger's console handlers; warnings and library loggers reach the file.

    Call it in the job, after Hydra has configured logging (Hydra configures it again for
    every job of a multirun, so every job calls it).
    """
    logging.captureWarnings(True)
    for handler in logging.getLogger().handlers:
        if _is_console(handler) and not any(
            isinstance(f, OwnLinesAndErrors) for f in handler.filters
        ):
            handler.addFilter(OwnLinesAndErrors())
    for name in OWN_HANDLER_LOGGERS:
        library = logging.getLogger(name)
        for handler in [h for h in library.handlers if _is_console(h)]:
            library.removeHandler(handler)
        library.propagate = True


def route_wandb_terminal(offline: bool) -> None:
    """W&B's terminal output as records of the ``wandb_terminal`` logger (its silent mode).

    W&B loads its settings (and sets up its terminal) once per process, in ``wandb.setup``;
    after that ``wandb.termsetup`` points its silent mode at our logger. The mode is set here
    too: W&B ignores a WANDB_MODE set after setup (Lightning's WandbLogger sets one). Call it
    before each ``wandb.init``, on global rank 0 only (it starts W&B's service).
    """
    import wandb

    wandb.setup(wandb.Settings(mode="offline") if offline else None)
    wandb.termsetup(wandb.Settings(silent=True), logging.getLogger(WANDB_TERMINAL_LOGGER))
