"""Where numbers go besides the records: W&B, CSV, the console, figures, the environment."""
