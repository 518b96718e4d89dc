"""Generate docs/reference/cli.md: every console script's ``--help``, as the installed scripts
print it (the console scripts the installed ``ridgeline`` distribution declares)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from importlib.metadata import distribution

from common import BIN, DOCS, ROOT, header, today, write_if_changed

OUT = DOCS / "reference" / "cli.md"
COMMAND = "python docs/gen/cli_help.py"


def scripts() -> list[str]:
    """The console scripts of the installed distribution (pyproject's ``[project.scripts]``)."""
    eps = distribution("ridgeline").entry_points
    return sorted(ep.name for ep in eps if ep.group == "console_scripts")


def help_text(script: str) -> str:
    """``<script> --help`` run in an empty directory (nothing of the clone's cwd leaks in)."""
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    with tempfile.TemporaryDirectory() as cwd:
        done = subprocess.run(
            [str(BIN / script), "--help"], cwd=cwd, env=env, capture_output=True, text=True
        )
    if done.returncode != 0:
        raise SystemExit(f"{script} --help failed (exit {done.returncode}):\n{done.stderr}")
    return done.stdout.rstrip() + "\n"


def page() -> str:
    """The whole page."""
    parts = [header("Console scripts", COMMAND, today(), "the installed console scripts")]
    parts.append(
        "Each script's `--help`, verbatim. `python -m ridgeline` is `ridgeline-train`; its help "
        "is Hydra's: the config groups, the composed default config and Hydra's own flags.\n\n"
    )
    for script in scripts():
        parts.append(f"## `{script}`\n\n```text\n{help_text(script)}```\n\n")
    return "".join(parts).rstrip() + "\n"


if __name__ == "__main__":
    write_if_changed(OUT, page())
    print(f"wrote {OUT.relative_to(ROOT)}")
