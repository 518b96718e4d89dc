"""``ridgeline-connect``: bent paths (Garipov et al. 2018) between a finished run's children.

:func:`connect_run` fits a quadratic Bezier curve or a one-bend polygonal chain between each
pair of children of the chosen phases, measures loss and error along it and along the straight
line, writes :class:`ConnectRecord` lines to ``landscape/curves.jsonl`` and draws
``figures/bent_paths.png``. Report layer: reads runs through :mod:`ridgeline.store`, computes with
:mod:`ridgeline.landscape`.

The names below are imported on first use (PEP 562): ``ridgeline-connect`` parses its arguments
(:mod:`ridgeline.connect.options`) before torch and Lightning are imported.
"""

from typing import TYPE_CHECKING

from ridgeline._shim import on_first_use

if TYPE_CHECKING:
    from ridgeline.connect.bent_path_record import ConnectRecord as ConnectRecord
    from ridgeline.connect.bent_path_record import probe_name as probe_name
    from ridgeline.connect.bent_path_record import read_curves as read_curves
    from ridgeline.connect.bent_path_record import write_curves as write_curves
    from ridgeline.connect.figures import CAPTION as CAPTION
    from ridgeline.connect.figures import FIGURE_NAME as FIGURE_NAME
    from ridgeline.connect.figures import curve_figure as curve_figure
    from ridgeline.connect.fit import ConnectResult as ConnectResult
    from ridgeline.connect.fit import check_options as check_options
    from ridgeline.connect.fit import connect_run as connect_run
    from ridgeline.connect.fit import format_table as format_table
    from ridgeline.connect.fit import training_batches as training_batches
    from ridgeline.connect.options import ConnectOptions as ConnectOptions
    from ridgeline.connect.preflight import ConnectError as ConnectError

# Each exported name and the module that defines it.
_HOMES = {
    "ConnectRecord": "ridgeline.connect.bent_path_record",
    "probe_name": "ridgeline.connect.bent_path_record",
    "read_curves": "ridgeline.connect.bent_path_record",
    "write_curves": "ridgeline.connect.bent_path_record",
    "CAPTION": "ridgeline.connect.figures",
    "FIGURE_NAME": "ridgeline.connect.figures",
    "curve_figure": "ridgeline.connect.figures",
    "ConnectError": "ridgeline.connect.preflight",
    "ConnectResult": "ridgeline.connect.fit",
    "check_options": "ridgeline.connect.fit",
    "connect_run": "ridgeline.connect.fit",
    "format_table": "ridgeline.connect.fit",
    "training_batches": "ridgeline.connect.fit",
    "ConnectOptions": "ridgeline.connect.options",
}
__all__ = sorted(_HOMES)
__getattr__ = on_first_use(__name__, _HOMES)
