"""A sweep through submitit's local executor (``hydra/launcher=local``, the rehearsal of the SLURM
path) is checked whole before its first job starts: an invalid later job ends it with one line,
exit 2, and no job submitted (no sweep dir, no ``.submitit`` logs, no parent store).

One sweep through the console script; the other rule in-process, through the same Hydra
callback, called as Hydra's multirun calls it before the launcher (tests/cli/test_bad_input_more.py
checks every kind of rule that way with the basic launcher)."""

import os
import subprocess

import pytest

from helpers.cli import TRAIN
from helpers.sweep import sweep_refused


def local_sweep(tmp_path, sweep: str) -> list[str]:
    """The overrides of a sweep through the local launcher, its outputs under tmp_path."""
    return [
        "hydra/launcher=local",
        "print_config=false",
        "logger=none",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        f"paths.root_dir={tmp_path}",
        sweep,
    ]


def assert_one_refusal(stderr: str, fragment: str) -> None:
    lines = [line for line in stderr.splitlines() if line.startswith("ridgeline:")]
    assert len(lines) == 1, stderr[-2000:]
    assert lines[0].startswith("ridgeline: error: sweep job 1 (") and fragment in lines[0]
    assert lines[0].endswith("no job was started")
    assert "Traceback" not in stderr


@pytest.mark.slow  # starts a process (make test-fast leaves it out)
def test_an_invalid_second_job_is_refused_before_the_first_is_submitted(tmp_path):
    result = subprocess.run(
        [TRAIN, "-m", *local_sweep(tmp_path, "spawn.at=[0],[5000]")],
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert_one_refusal(result.stderr, "spawn.at=[5000] is not valid")
    assert "Traceback" not in result.stdout
    assert list(tmp_path.iterdir()) == []  # no sweep dir, no .submitit logs, no parent store


def test_a_build_time_rule_refuses_the_second_job_of_a_local_sweep(tmp_path, capsys):
    overrides = local_sweep(tmp_path, "probe.geometry.plane_resolution=11,0")
    line = sweep_refused(capsys, *overrides, launcher="LocalLauncher")
    assert_one_refusal(line, "probe.geometry.plane_resolution=0 is not valid")
    assert list(tmp_path.iterdir()) == []
