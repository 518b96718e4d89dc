"""``python -m ridgeline``: the same as ``ridgeline-train``."""

from ridgeline.cli.train import main

if __name__ == "__main__":
    main()
