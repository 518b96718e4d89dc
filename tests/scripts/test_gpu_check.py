"""scripts/gpu_check.sh --cpu, the GPU check's dry run, as a real process (issue 25).

Every step runs with tiny sizes on the CPU (the install is skipped: the venv exists) and the
JSON it prints the path of has each section with finite numbers.

Two knobs of the environment the script passes on keep its steps short: the tests step's pytest
reads PYTEST_ADDOPTS (a subset: the CUDA comparison, skipped here, and the power-iteration test,
the cheapest that passes; every curvature test runs in this suite anyway), and the main job's
ridgeline-train reads the user config dir $RIDGELINE_CONFIG_DIR (USER_CONFIG below: no figures,
3-point grids, a 3 x 3 plane, two children; every probe component still runs).
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
TESTS_SUBSET = "-k 'cuda or power_iteration'"
# local/default.yaml: loaded after the experiment, before the script's own overrides.
USER_CONFIG = """# @package _global_
summary: false
spawn:
  children: 2
probe:
  alphas: [0, 0.5, 1]
  profile_alphas: [0, 0.5, 1]
  eval_path: loop
  geometry:
    plane_resolution: 3
"""


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
    (tmp_path / "conf" / "local").mkdir(parents=True)
    (tmp_path / "conf" / "local" / "default.yaml").write_text(USER_CONFIG)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "TMPDIR": str(tmp_path),
        "PYTEST_ADDOPTS": f"{os.environ.get('PYTEST_ADDOPTS', '')} {TESTS_SUBSET}".strip(),
        "RIDGELINE_CONFIG_DIR": str(tmp_path / "conf"),
    }
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
    assert shell["tests_skipped"] == 1  # the CUDA comparison, with no CUDA device
    assert shell["main_job_rc"] == 0 and shell["main_job_s"] > 0
    assert shell["failed_steps"] == 0
    assert set(result["lockstep"]["steps_per_s_per_child"]) == {"1", "2", "4", "8"}
    assert result["lockstep"]["per_child_rate_over_1"]["1"] == 1.0
    probe = result["probe"]
    assert probe["curve_loss_max_abs_diff"] < 1e-5  # loop and vmap agree
    for key in ("curve_loop_over_vmap", "curvature_per_layer_over_whole"):
        assert probe[key] > 0
    assert result["meta"]["tiny"] is True and result["all_finite"] is True
