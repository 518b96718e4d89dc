"""Console entry points (Hydra applications) behind ridgeline's commands."""
