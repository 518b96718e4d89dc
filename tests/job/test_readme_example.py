"""The ``load_run`` example of docs/guide/load-run.md runs as written on a run shaped like the
main job (spawn steps 0 and 40, three children): only the run dir is filled in."""

import re
from pathlib import Path

import pytest

from helpers.cli import train_ok

PAGE = Path(__file__).resolve().parents[2] / "docs" / "guide" / "load-run.md"
# The main job's spawn steps and children, at a few steps and a small test subset.
OVERRIDES = [
    "logger=none",
    "summary=false",
    "trainer.max_steps=50",
    "probe.every_n_steps=null",
    "data.eval_train_size=100",
    "data.eval_test_size=100",
    "~probe.layerwise",
    "~probe.curvature",
    "~probe.geometry",  # the example reads the barrier only
    "spawn.independent=false",
    "threads=1",
]


def example() -> str:
    (code,) = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
    return code


def test_the_example_is_the_main_jobs_shape():
    code = example()
    assert 'run.phases["spawn_k=0000040"]' in code and "assert curve.error_barrier" in code


@pytest.mark.slow  # starts ridgeline-train
def test_the_load_run_example_runs_on_a_main_job_shaped_run(tmp_path):
    train_ok(tmp_path, *OVERRIDES)
    code = example().replace("outputs/runs/<date>/<time>", str(tmp_path / "run"))
    scope: dict = {}
    exec(compile(code, str(PAGE), "exec"), scope)  # its own assert compares the barriers
    assert scope["record"].pair == (0, 1) and len(scope["children"]) == 3
