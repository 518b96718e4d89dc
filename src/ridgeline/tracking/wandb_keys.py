"""The W&B keys ridgeline logs besides the probe scalars (``records.scalars.scalar_metrics``).

One place for the names that the training runs log and the dashboard's panels read.
"""

# x axis of every probe scalar: the training step counted from θ_0 (parent and children alike)
PROBE_STEP = "probe/absolute_step"
# a spawn phase's final values, logged once at x = its spawn step: barrier against k
INSTABILITY = "instability/"
SPAWN_STEP = INSTABILITY + "spawn_step"
# a phase's final values in the run summary
FINAL = "final/"
# the end-of-run table (summary run) and the layer-wise tables and heatmap (phase runs)
SUMMARY_TABLE = "summary/table"
LAYERWISE_HEATMAP = "layerwise/heatmap"


def layerwise_table(split: str) -> str:
    """The table of single-layer midpoints on ``split`` (every probe of the phase)."""
    return f"layerwise/{split}"
