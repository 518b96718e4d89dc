"""``ridgeline-connect``: bent paths (Garipov et al. 2018) between a finished run's children.

:func:`connect_run` fits a quadratic Bezier curve or a one-bend polygonal chain between each
pair of children of the chosen phases, measures loss and error along it and along the straight
line, writes :class:`ConnectRecord` lines to ``landscape/curves.jsonl`` and draws
``figures/bent_paths.png``. Report layer: reads runs through :mod:`ridgeline.store`, computes with
:mod:`ridgeline.landscape`.
"""

from ridgeline.connect.bent_path_record import ConnectRecord, probe_name, read_curves, write_curves
from ridgeline.connect.figures import CAPTION, FIGURE_NAME, curve_figure
from ridgeline.connect.fit import (
    ConnectError,
    ConnectOptions,
    ConnectResult,
    check_options,
    connect_run,
    format_table,
    training_batches,
)

__all__ = [
    "CAPTION",
    "FIGURE_NAME",
    "ConnectError",
    "ConnectOptions",
    "ConnectRecord",
    "ConnectResult",
    "check_options",
    "connect_run",
    "curve_figure",
    "format_table",
    "probe_name",
    "read_curves",
    "training_batches",
    "write_curves",
]
