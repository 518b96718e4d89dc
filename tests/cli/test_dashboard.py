"""``ridgeline-dashboard``: the workspace it builds, and one clear line when W&B is out of reach.

That the panels read keys real runs log is checked against a real sweep's offline run files in
``tests/tracking/test_loggers_wandb.py``.
"""

import os
import socket
import subprocess

import pytest

from helpers.cli import TRAIN
from ridgeline.cli.dashboard import main
from ridgeline.report.dashboard import DashboardTarget, build_workspace

DASHBOARD = TRAIN.replace("ridgeline-train", "ridgeline-dashboard")


def test_workspace_shows_one_group_or_the_whole_project():
    grouped = build_workspace(DashboardTarget("lmc", "someone", "train-12-00-00"))
    assert (grouped.entity, grouped.project) == ("someone", "lmc")
    assert grouped.runset_settings.filters == "Metric(\"Group\") == 'train-12-00-00'"
    assert [s.name for s in grouped.sections] == [
        "Instability: final barrier against spawn step",
        "Barrier over training, per spawn step",
        "Predicted against measured barrier",
        "Angle at the spawn point",
        "Tables: layer-wise barriers and the end-of-run table",
    ]
    assert build_workspace(DashboardTarget("lmc", "someone")).runset_settings.filters == ""


@pytest.mark.slow  # starts ridgeline-dashboard
def test_offline_machine_gets_one_line_and_exit_1():
    env = {**os.environ, "WANDB_MODE": "offline"}
    result = subprocess.run(
        [DASHBOARD, "--project", "lmc"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "ridgeline-dashboard: error: saving a workspace needs W&B online: WANDB_MODE=offline"
    ]


def test_no_login_gets_one_line_and_exit_1(monkeypatch, tmp_path, capsys):
    for var in ("WANDB_MODE", "WANDB_API_KEY", "NETRC"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc with W&B credentials
    assert main(["--project", "lmc"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "not logged in to W&B (run `wandb login` or set WANDB_API_KEY)" in line


def test_unreachable_server_gets_one_line_and_exit_1(monkeypatch, capsys):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{port}")
    assert main(["--project", "lmc"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(
        f"ridgeline-dashboard: error: saving a workspace needs W&B online: "
        f"cannot reach http://127.0.0.1:{port} ("
    )
