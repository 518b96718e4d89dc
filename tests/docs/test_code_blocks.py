"""Every shell command and Python block in README.md and docs/ is run by a test or marked as not
run, with a reason; the cheap ones are run here."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_blocks import MARKER, ROOT, RUNNABLE, all_blocks, block_under

BIN = Path(sys.executable).parent


def test_every_runnable_block_is_tested_or_marked_not_run():
    unmarked = [b.where() for b in all_blocks() if b.lang in RUNNABLE and b.marker is None]
    assert not unmarked, f"blocks with neither a not-run nor a tested-by marker: {unmarked}"


def test_every_block_names_its_language():
    bare = [b.where() for b in all_blocks() if not b.lang]
    assert not bare, f"fenced blocks without a language (use text for output): {bare}"


def test_not_run_markers_give_a_reason():
    empty = [b.where() for b in all_blocks() if b.marker and b.marker == ("not-run", "")]
    assert not empty, f"not-run markers without a reason: {empty}"


def test_tested_by_markers_name_an_existing_test():
    missing = []
    for b in all_blocks():
        if b.marker and b.marker[0] == "tested-by":
            path, _, name = b.marker[1].partition("::")
            source = ROOT / path
            if not (source.is_file() and re.search(rf"^def {name}\(", source.read_text(), re.M)):
                missing.append(f"{b.where()}: {b.marker[1]}")
    assert not missing, f"tested-by markers naming no test: {missing}"


def test_the_marker_convention_is_what_the_checker_reads():
    assert MARKER.match("<!-- not-run: needs a GPU -->")
    assert MARKER.match("<!-- tested-by: tests/docs/test_code_blocks.py::test_x -->")
    assert not MARKER.match("<!-- a comment -->")


def test_readme_landscape_example_runs(capsys):
    block = block_under(ROOT / "README.md", "## The landscape core in Python", "python")
    exec(compile(block.code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.split()
    assert len(printed) == 3 and all(float(x) == float(x) for x in printed)  # finite numbers


def console_sessions():
    """(block, command, the output it shows) of every console block tested here."""
    here = "tests/docs/test_code_blocks.py::test_console_sessions_print_what_they_show"
    out = []
    for b in all_blocks():
        if b.lang == "console" and b.marker == ("tested-by", here):
            for chunk in re.split(r"^\$ ", b.code, flags=re.M)[1:]:
                command, _, shown = chunk.partition("\n")
                out.append(pytest.param(command, shown, id=f"{b.where()} {command}"))
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("command", "shown"), console_sessions())
def test_console_sessions_print_what_they_show(command, shown, tmp_path):
    """The command fails as shown: exit 2, and every part of the shown message between the
    ``...`` elisions appears in order in its stderr (the page wraps the one-line message)."""
    argv = shlex.split(command)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    done = subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 2, done.stderr[-2000:]
    actual = " ".join(done.stderr.split())
    position = 0
    for part in " ".join(shown.split()).split("..."):
        part = part.strip(" ,")
        found = actual.find(part, position)
        assert found >= 0, f"{part!r} not in {actual!r}"
        position = found + len(part)
    assert not any(tmp_path.iterdir()), "a refused command left files behind"
