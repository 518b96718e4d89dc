"""A sweep through submitit's local executor (``hydra/launcher=local``, the rehearsal of the SLURM
path) is checked whole before its first job starts: an invalid later job ends it with one line,
exit 2, and no job submitted (no sweep dir, no ``.submitit`` logs, no parent store)."""

import os
import subprocess

import pytest

from helpers.cli import TRAIN

pytestmark = pytest.mark.slow  # starts processes (make test-fast leaves it out)


@pytest.mark.parametrize(
    "sweep,fragment",
    [
        ("probe.geometry.plane_resolution=11,0", "probe.geometry.plane_resolution=0 is not valid"),
        ("spawn.at=[0],[5000]", "spawn.at=[5000] is not valid"),
    ],
)
def test_an_invalid_second_job_is_refused_before_the_first_is_submitted(tmp_path, sweep, fragment):
    sweep_dir = tmp_path / "sweep"
    result = subprocess.run(
        [
            TRAIN,
            "-m",
            "hydra/launcher=local",
            "print_config=false",
            "logger=none",
            f"hydra.sweep.dir={sweep_dir}",
            f"paths.root_dir={tmp_path}",
            sweep,
        ],
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("ridgeline:")]
    assert len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith("ridgeline: error: sweep job 1 (") and fragment in lines[0]
    assert lines[0].endswith("no job was started")
    assert "Traceback" not in result.stderr + result.stdout
    assert list(tmp_path.iterdir()) == []  # no sweep dir, no .submitit logs, no parent store
