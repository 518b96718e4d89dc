"""The typed probe record and what is computed from records: the scalar view and statistics.

``from ridgeline.records import ProbeRecord, read_records`` is how every reader of
``records.jsonl`` reads it; :mod:`.scalars` names each number, :mod:`.statistics` computes the
statistics every table, figure and claim prints.
"""

from ridgeline.records.probe_record import (
    AlignedResults,
    PairResults,
    Plane,
    ProbeRecord,
    read_records,
    typed_records,
)
from ridgeline.records.scalars import pair_prefix, scalar_metrics
from ridgeline.records.statistics import final_probe, mean_sd, pearson, prediction_points, slope

__all__ = [
    "AlignedResults",
    "PairResults",
    "Plane",
    "ProbeRecord",
    "final_probe",
    "mean_sd",
    "pair_prefix",
    "pearson",
    "prediction_points",
    "read_records",
    "scalar_metrics",
    "slope",
    "typed_records",
]
