"""Hydra configs shipped with ridgeline (found as pkg://ridgeline.conf)."""
