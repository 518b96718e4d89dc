"""Probe callbacks (placeholder until the landscape core lands)."""


def build_probe_callbacks(cfg, run_dir, phase):
    return []
