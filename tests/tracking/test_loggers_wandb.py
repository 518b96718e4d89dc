"""The W&B side of a real 2-job sweep, read back from its offline run files: the full config,
names and tags, probe metrics on the absolute step, wandb-osh sync triggers, a quiet console,
and the dashboard's panels against the keys the runs really log."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

from helpers.cli import TRAIN
from helpers.compose import compose_train
from helpers.wandb_file import read_runs
from ridgeline.errors import ConfigError
from ridgeline.job.validate import validate_config
from ridgeline.report.dashboard import DashboardTarget, build_workspace
from ridgeline.tracking.wandb_keys import PROBE_STEP, SPAWN_STEP

SPAWN_STEPS = (0, 10)
TASK = "review"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """``ridgeline-train -m spawn.at=0,10``: job 0 trains the parent, job 1 reuses it."""
    root = tmp_path_factory.mktemp("wandb_review")
    sweep_dir = root / "sweep"
    env = {
        **os.environ,
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "false",  # W&B's own lines must reach the log file, not vanish
        "COLUMNS": "200",
    }
    args = [
        TRAIN,
        "-m",
        f"spawn.at={','.join(str(k) for k in SPAWN_STEPS)}",
        "spawn.parent_checkpoints=[0,10]",
        "spawn.independent=false",
        "debug=fast",
        "probe.every_n_steps=20",
        "probe.layerwise.splits=[test,train]",
        "data.eval_train_size=100",
        "data.eval_test_size=100",
        "probe.geometry.plane_resolution=5",  # its keys do not depend on the grid; no test reads it
        f"task_name={TASK}",
        "logger.wandb.osh=true",
        f"logger.wandb.osh_command_dir={root / 'osh'}",
        "print_config=false",
        f"hydra.sweep.dir={sweep_dir}",
        f"paths.root_dir={root}",
    ]
    result = subprocess.run(
        args, cwd=root, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted(p for p in sweep_dir.iterdir() if p.name.isdigit())
    parents = [p for p in (root / "outputs" / "parents").iterdir() if p.is_dir()]
    runs = {j.name: read_runs(j) for j in jobs}
    return root, jobs, runs, read_runs(parents[0]), result


def _phase_runs(runs):
    return [(job, r) for job, rs in runs.items() for r in rs if r.job_type == "spawn"]


@pytest.mark.slow  # uses a ridgeline-train sweep (processes)
def test_every_run_holds_the_resolved_config_phase_environment_and_sweep_point(sweep):
    _, jobs, runs, parent_runs, _ = sweep
    assert [r.job_type for r in parent_runs] == ["parent"]
    for job_dir in jobs:
        saved = yaml.safe_load((job_dir / "config.yaml").read_text())
        job_runs = runs[job_dir.name]
        assert sorted(r.job_type for r in job_runs) == ["spawn", "summary"]
        k = saved["spawn"]["at"]
        for run in job_runs:
            for key, value in saved.items():
                if key != "environment":  # written by the same process; compared below
                    assert run.config[key] == value, key
            env = run.config["environment"]
            assert env["torch"] == torch.__version__ and env["threads"] >= 1
            assert run.config["sweep"] == {
                "name": "sweep",
                "job": int(job_dir.name),
                "varying": ["spawn.at"],
                "point": f"spawn.at={k}",
            }
            assert run.group == f"{TASK}-sweep"
            assert run.tags == [TASK, "quickstart"]  # task name, experiment
        (spawn,) = [r for r in job_runs if r.job_type == "spawn"]
        phase_dir = job_dir / f"spawn_k={k:07d}"
        done = json.loads((phase_dir / "done.json").read_text())["phase"]
        assert {key: spawn.config["phase"][key] for key in done} == done
        assert spawn.config["phase"]["kind"] == "spawn" and spawn.config["phase"]["spawn_step"] == k
        assert spawn.name == f"{TASK}-sweep#{job_dir.name} spawn.at={k}/spawn_k={k:07d}"
    # the dashboard's filters and groups: nested keys as the W&B UI shows them
    (job, spawn) = _phase_runs(runs)[0]
    assert spawn.config["optim"]["lr"] == 0.1 and spawn.config["model"]["name"] == "cnn"


@pytest.mark.slow  # uses a ridgeline-train sweep (processes)
def test_probe_metrics_are_declared_against_the_absolute_step(sweep):
    _, jobs, runs, parent_runs, _ = sweep
    records_steps = {0: [0, 20], 10: [10, 20]}
    job_dirs = {job.name: job for job in jobs}
    for job, run in _phase_runs(runs):
        k = run.config["phase"]["spawn_step"]
        probes = [h for h in run.history if PROBE_STEP in h]
        assert [h[PROBE_STEP] for h in probes] == records_steps[k]
        # the trainer's own step of a child counts from its spawn point
        assert [h["trainer/global_step"] for h in probes] == [s - k for s in records_steps[k]]
        for key in probes[-1]:
            if key.startswith(("barrier/", "curvature/", "geometry/")):
                assert run.step_metrics[key] == PROBE_STEP, key
        # the final values once more at x = k: barrier against spawn step across runs
        (series,) = [h for h in run.history if SPAWN_STEP in h]
        assert series[SPAWN_STEP] == k
        # the final value is the stored record's, read from records.jsonl as JSON
        stored = [
            json.loads(line)
            for line in (job_dirs[job] / "landscape" / "records.jsonl").read_text().splitlines()
        ]
        (last,) = [r for r in stored if r["kind"] == "spawn" and r["step"] == 20]
        value = last["barrier"]["test"]["error_barrier"]["endpoint_mean"]
        key = "barrier/test/error/endpoint_mean"
        assert series[f"instability/{key}"] == value == run.summary[f"final/{key}"]
        predicted = last["curvature"]["test"]["predicted_barrier"]
        assert run.summary["final/curvature/test/predicted_barrier"] == predicted
        assert run.step_metrics[f"instability/{key}"] == SPAWN_STEP
    parent = parent_runs[0]
    assert [h[PROBE_STEP] for h in parent.history if PROBE_STEP in h] == [0, 20]


@pytest.mark.slow  # uses a ridgeline-train sweep (processes)
def test_osh_option_leaves_a_sync_trigger_for_every_offline_run(sweep):
    root, jobs, _, _, _ = sweep
    triggers = sorted((root / "osh").glob("*.command"))
    targets = {Path(t.read_text()) for t in triggers}
    offline_runs = {p.parent.resolve() for p in root.rglob("offline-run-*/*.wandb")}
    # the parent (trained once), each job's spawn phase and each job's summary run
    assert len(offline_runs) == 1 + 2 * len(jobs)
    assert targets == offline_runs
    assert len(triggers) == len(targets)  # one trigger file per run dir (named by its hash)


@pytest.mark.slow  # uses a ridgeline-train sweep (processes)
def test_console_keeps_ridgeline_lines_and_the_log_file_gets_the_chatter(sweep):
    _, jobs, _, _, result = sweep
    console = (result.stdout + result.stderr).splitlines()
    logged = [re.match(r"^\[[^\]]+\]\[([^\]]+)\]\[(\w+)\]", line) for line in console]
    names = {m.group(1) for m in logged if m}
    assert names and all(n == "ridgeline" or n.startswith(("ridgeline.", "HYDRA")) for n in names)
    for noise in ("wandb:", "GPU available", "Tip:", "Warning", "weights_only", "Epoch"):
        assert not [line for line in console if noise in line], noise
    bars = [m.group(1) for m in (re.match(r"^(\S+) ━", line) for line in console) if m]
    assert sorted(bars) == ["parent", "spawn_k=0000000", "spawn_k=0000010"]
    assert len([line for line in console if "probes took" in line]) == 3
    log0 = (jobs[0] / "train.log").read_text()
    assert "GPU available" in log0 and "wandb: Tracking run" in log0 and "wandb sync" in log0


def _flat_keys(config: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in config.items():
        keys.add(prefix + key)
        if isinstance(value, dict):
            keys |= _flat_keys(value, f"{prefix}{key}.")
    return keys


def _typed(key: str, value, wandb_type: str) -> bool:
    return key.endswith("/_type") and wandb_type in str(value)


@pytest.mark.slow  # uses a ridgeline-train sweep (processes)
def test_dashboard_panels_read_keys_the_runs_log(sweep):
    import wandb_workspaces.reports.v2 as wr

    _, _, runs, parent_runs, _ = sweep
    all_runs = [r for rs in runs.values() for r in rs] + parent_runs
    history = {k for r in all_runs for h in r.history for k in h}
    summary = {k: v for r in all_runs for k, v in r.summary.items()}
    # a table's or image's fields arrive flattened: "<key>/_type", "<key>/path", ...
    tables = {k[: -len("/_type")] for k in summary if _typed(k, summary[k], "table-file")}
    images = {
        k[: -len("/_type")]
        for r in all_runs
        for h in r.history
        for k in h
        if _typed(k, h[k], "image")
    }
    config = {k for r in all_runs for k in _flat_keys(r.config)}
    workspace = build_workspace(DashboardTarget("ridgeline", "someone", f"{TASK}-sweep"))
    workspace._to_model()  # the library's own validation of the saved form
    used = 0
    for section in workspace.sections:
        for panel in section.panels:
            if isinstance(panel, wr.LinePlot):
                assert {panel.x, *panel.y} <= history, panel.title
                assert panel.groupby.name in config, panel.title
            elif isinstance(panel, wr.ScatterPlot):
                assert {panel.x.name, panel.y.name} <= summary.keys(), panel.title
            elif isinstance(panel, wr.WeavePanelSummaryTable):
                assert panel.table_name in tables, panel.table_name
            elif isinstance(panel, wr.MediaBrowser):
                assert set(panel.media_keys) <= images, panel.media_keys
            else:
                pytest.fail(f"unchecked panel {panel!r}")
            used += 1
    assert used == 16


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("logger.wandb.osh=maybe", "logger.wandb.osh='maybe' is not valid: true or false"),
        (
            "logger.wandb.osh_command_dir=''",
            "logger.wandb.osh_command_dir='' is not valid: a directory path, or null for "
            "wandb-osh's default",
        ),
    ],
)
def test_bad_osh_settings_are_named_before_compute(override, message):
    cfg = compose_train(override, job=True)
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    assert str(info.value) == message
