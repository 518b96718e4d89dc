"""Run every page generator (``make docs`` calls this before Sphinx): the console scripts'
``--help``, the config keys, the reproduction table, the aligned-ViT table and the benchmarks
page."""

from __future__ import annotations

import runpy
from pathlib import Path

HERE = Path(__file__).resolve().parent
GENERATORS = (
    "api_page.py",
    "cli_help.py",
    "config_keys.py",
    "reproduction.py",
    "vit_alignment.py",
    "benchmarks.py",
)

if __name__ == "__main__":
    for name in GENERATORS:
        runpy.run_path(str(HERE / name), run_name="__main__")
