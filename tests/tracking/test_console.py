"""The quiet console: ridgeline's lines and every error on the terminal, the rest in the file."""

import io
import logging
import warnings

from ridgeline.tracking.console import WANDB_TERMINAL_LOGGER, quiet_console


def test_library_lines_and_warnings_go_to_the_file_only(tmp_path):
    root, lightning = logging.getLogger(), logging.getLogger("pytorch_lightning")
    saved = (root.handlers[:], root.level, lightning.handlers[:], lightning.propagate)
    terminal, log_file = io.StringIO(), tmp_path / "train.log"
    file_handler = logging.FileHandler(log_file)
    root.handlers, root.level = [logging.StreamHandler(terminal), file_handler], logging.INFO
    # Lightning imported before logging was set up prints through a handler of its own
    lightning.handlers, lightning.propagate = [logging.StreamHandler(terminal)], False
    try:
        quiet_console()
        logging.getLogger("ridgeline.training.phases").info("phase parent: 1 replica(s)")
        logging.getLogger("pytorch_lightning.utilities.rank_zero").info("GPU available: False")
        logging.getLogger(WANDB_TERMINAL_LOGGER).info("wandb: Tracking run")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("`torch.jit.script` is deprecated", FutureWarning, stacklevel=1)
        logging.getLogger(WANDB_TERMINAL_LOGGER).error("wandb: ERROR No API key configured")
        logging.getLogger("ridgeline").warning("diverged")
    finally:
        file_handler.close()
        logging.captureWarnings(False)
        root.handlers, root.level = saved[0], saved[1]
        lightning.handlers, lightning.propagate = saved[2], saved[3]
    assert terminal.getvalue().splitlines() == [
        "phase parent: 1 replica(s)",
        "wandb: ERROR No API key configured",
        "diverged",
    ]
    written = log_file.read_text()
    for line in (
        "GPU available",
        "wandb: Tracking run",
        "torch.jit.script",
        "No API key",
        "diverged",
    ):
        assert line in written, line
