"""``ridgeline-reproduce``: the published claims ridgeline reproduces, measured over seeds.

:mod:`experiments` runs the CPU-sized experiments (``conf/experiment/repro_*.yaml``) as one
``ridgeline-train`` multirun; :mod:`claims` is the registry of claims, each measured from the
runs' records (``ridgeline.load_run``) by :mod:`measures`; :mod:`table` writes the
claim-by-claim table; :mod:`figures` draws the second-order prediction against the
measurement, ReLU beside GELU.
"""
