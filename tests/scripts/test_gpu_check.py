"""scripts/gpu_check.sh --cpu, the GPU check's dry run, as a real process (issue 25).

Every step runs with tiny sizes on the CPU (the install is skipped: the venv exists) and the
JSON it prints the path of has each section with finite numbers.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts processes (make test-fast leaves it out)

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gpu_check.sh"
SECTIONS = ("meta", "shell", "lockstep", "probe", "bf16", "channels_last")


def numbers(obj: object) -> list[float]:
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in numbers(v)]
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        return [float(obj)]
    return []


@pytest.mark.skipif(
    not Path(sys.executable).with_name("ridgeline-train").exists(), reason="no installed venv"
)
def test_gpu_check_cpu_dry_run(tmp_path):
    out = tmp_path / "check.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [str(SCRIPT), "--cpu", "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == str(out)  # the path, printed last
    result = json.loads(out.read_text())
    for section in SECTIONS:
        values = numbers(result[section])
        assert values, section
        assert all(math.isfinite(v) for v in values), section
    shell = result["shell"]
    assert shell["install_skipped"] == 1
    assert shell["tests_rc"] == 0 and shell["tests_passed"] > 0 and shell["tests_failed"] == 0
    assert shell["main_job_rc"] == 0 and shell["main_job_s"] > 0
    assert shell["failed_steps"] == 0
    assert set(result["lockstep"]["steps_per_s_per_child"]) == {"1", "2", "4", "8"}
    assert result["lockstep"]["per_child_rate_over_1"]["1"] == 1.0
    probe = result["probe"]
    assert probe["curve_loss_max_abs_diff"] < 1e-5  # loop and vmap agree
    for key in ("curve_loop_over_vmap", "curvature_per_layer_over_whole"):
        assert probe[key] > 0
    assert result["meta"]["tiny"] is True and result["all_finite"] is True
