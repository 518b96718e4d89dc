"""Figures of an instability analysis, drawn from probe records only (PNG, matplotlib Agg).

Every function takes a list of typed records (:class:`~ridgeline.records.ProbeRecord`, from
one run, or the records of a sweep with their ``job`` and ``setting``, see
:mod:`ridgeline.report.collect`) and a path, and returns the
path written or None when the records hold nothing to draw. Phases with the same spawn step in
different jobs of a sweep (seeds) are averaged; bands show ± 1 s.d. over seeds (over child
pairs within one run).

One module per figure family: :mod:`.barrier_figures` (instability, barrier over training,
barrier curves), :mod:`.mountainside_figure`, :mod:`.prediction_figures` (predicted against
measured, layer-wise heatmaps); what they share is in :mod:`.figure_style`.

Barrier definitions (docs/design.md §2): error barrier = endpoint-mean max_α E(θ_α) − ½(E_A + E_B)
(Frankle et al.), loss barrier = midpoint L(θ_½) − ½(L_A + L_B); predicted = −⅛ΔᵀH(θ_½)Δ.
"""

from ridgeline.report.barrier_figures import barrier_curves, barrier_over_training, instability
from ridgeline.report.mountainside_figure import mountainside
from ridgeline.report.prediction_figures import layerwise_heatmaps, predicted_vs_measured

__all__ = [
    "barrier_curves",
    "barrier_over_training",
    "instability",
    "layerwise_heatmaps",
    "mountainside",
    "predicted_vs_measured",
]
