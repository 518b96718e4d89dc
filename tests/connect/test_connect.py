"""ridgeline-connect end to end: a real process on a tiny run, its records read back, and bad
input (one line, exit 2, nothing written)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import pytest
import torch

from ridgeline.cli.connect import main
from ridgeline.connect import ConnectRecord, read_curves
from ridgeline.landscape import BentPathRecord, Evaluator
from ridgeline.store.layout import RunLayout

pytestmark = pytest.mark.slow  # every test uses the tiny ridgeline-train run
CONNECT = str(Path(sys.executable).with_name("ridgeline-connect"))
PHASES = ["spawn_k=0000000", "independent"]
# How far the fitted curve's test chord barrier may lie above the line's. The bend is trained
# on training batches, so on the test split it is not bound to stay under the line; measured on
# this run (interpolate): curve 0.000 vs line 0.510 nats (spawn), 0.000 vs 1.561 (independent).
TOL = 0.05


@pytest.fixture(scope="module")
def connected(tiny_run):
    run_dir, _ = tiny_run
    result = subprocess.run(
        [CONNECT, str(run_dir), "--steps", "100", "--points", "9"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir, result


def test_one_record_per_phase_and_pair_read_back(connected):
    run_dir, result = connected
    lines = [json.loads(s) for s in RunLayout(run_dir).curves.read_text().splitlines()]
    assert [(d["phase"], d["pair"], d["probe"]) for d in lines] == [
        (p, [0, 1], "curve/bezier/test") for p in PHASES
    ]
    records = read_curves(run_dir)
    assert all(
        isinstance(r, ConnectRecord) and isinstance(r.curve, BentPathRecord) for r in records
    )
    assert [r.step for r in records] == [30, 30]
    assert [r.spawn_step for r in records] == [0, None]
    for r in records:
        c = r.curve
        assert len(c.ts) == 9 and c.ts[0] == 0.0 and c.ts[-1] == 1.0
        assert c.n_examples == 100 and c.fit.steps == 100 and c.fit.kind == "bezier"
        # a run trained under repair is measured uncorrected unless --bn-policy says otherwise
        assert c.bn_policy == "interpolate"
        assert c.fit.final_objective < c.fit.initial_objective  # the bend was trained
        # the printed table holds the records' numbers
        row = next(s for s in result.stdout.splitlines() if s.startswith(f"| {r.phase} |"))
        assert f"| {c.line_loss_barrier.chord:.4f} | {c.loss_barrier.chord:.4f} |" in row


def test_curve_and_line_share_their_endpoints_the_saved_children(connected):
    run_dir, _ = connected
    from ridgeline import load_run

    run = load_run(run_dir)
    x, y = run.datamodule().eval_tensors("test")
    ev = Evaluator(run.model(), x, y, bn_policy="interpolate", use_vmap=False)
    for r in read_curves(run_dir):
        c = r.curve
        assert c.loss[0] == c.line_loss[0] and c.loss[-1] == c.line_loss[-1]
        assert c.error[0] == c.line_error[0] and c.error[-1] == c.line_error[-1]
        assert c.loss[0] != c.loss[-1]  # two different children
        a, b = run.phases[r.phase].children()
        ma, mb = ev.evaluate([a, b])
        assert c.loss[0] == pytest.approx(ma.loss, rel=1e-6)
        assert c.loss[-1] == pytest.approx(mb.loss, rel=1e-6)
        # the curve really bends: its midpoint is not the line's
        mid = c.ts.index(0.5)
        assert c.loss[mid] != pytest.approx(c.line_loss[mid], rel=1e-3)


def test_the_curve_is_not_above_the_line(connected):
    run_dir, _ = connected
    for r in read_curves(run_dir):
        c = r.curve
        assert c.line_loss_barrier.chord > 0.2, r.phase  # a barrier to get around
        assert c.loss_barrier.chord <= c.line_loss_barrier.chord + TOL, r.phase


def test_the_figure_has_a_panel_per_phase(connected):
    run_dir, result = connected
    path = RunLayout(run_dir).figures / "bent_paths.png"
    assert f"figure: {path}" in result.stdout
    height, width, _ = matplotlib.image.imread(path).shape
    assert width > 1.6 * height  # two panels side by side


# --- bad input ---------------------------------------------------------------------------------


def one_child_copy(pristine: Path, tmp_path: Path) -> Path:
    """A copy of the run whose independent phase kept one child (replica 1 dropped)."""
    copy = tmp_path / "one_child"
    shutil.copytree(pristine, copy)
    last = RunLayout(copy).phase("independent").last_checkpoint
    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    ckpt["state_dict"] = {
        k: v for k, v in ckpt["state_dict"].items() if not k.startswith("replicas.1.")
    }
    torch.save(ckpt, last)
    return copy


BAD = [
    # (arguments after the run dir, fragments of the one line)
    (["--phase", "spawn_k=0000007"], ["--phase=spawn_k=0000007", "no such phase", "independent"]),
    (["--phase", "parent"], ["--phase=parent", "is the parent", "spawn_k=0000000"]),
    (["--kind", "spline"], ["--kind=spline", "bezier, polychain"]),
    (["--steps", "0"], ["--steps=0", "positive"]),
    (["--lr", "nan"], ["--lr=nan", "positive finite"]),
    (["--split", "val"], ["--split=val", "test, train"]),
    (["--bn-policy", "mean"], ["--bn-policy=mean", "repair"]),
    (["--bn-policy", "batch"], ["--bn-policy=batch", "no BatchNorm"]),
    (["--steps", "many"], ["--steps", "invalid int value", "--help"]),
]


@pytest.mark.parametrize(("args", "fragments"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_arguments_are_one_line_exit_2_and_nothing_written(tiny_run, capsys, args, fragments):
    _, pristine = tiny_run
    try:
        code = main([str(pristine), *args])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("ridgeline: error: "), err
    for fragment in fragments:
        assert fragment in err[0]
    assert not RunLayout(pristine).curves.exists()
    assert not (RunLayout(pristine).figures / "bent_paths.png").exists()


def test_not_a_run_dir_and_a_phase_with_one_child(tiny_run, tmp_path, capsys):
    _, pristine = tiny_run
    assert main([str(tmp_path / "nowhere")]) == 2
    (err,) = capsys.readouterr().err.strip().splitlines()
    assert err.startswith("ridgeline: error: ") and "config.yaml does not exist" in err
    assert "give a run dir of ridgeline-train" in err
    copy = one_child_copy(pristine, tmp_path)
    assert main([str(copy), "--phase", "independent"]) == 2
    (err,) = capsys.readouterr().err.strip().splitlines()
    assert "--phase=independent" in err and "has 1 child" in err and "spawn.children" in err
    assert not RunLayout(copy).curves.exists()


def test_bad_kind_through_the_console_script(tiny_run):
    _, pristine = tiny_run
    result = subprocess.run(
        [CONNECT, str(pristine), "--kind", "spline"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "ridgeline: error: --kind=spline is not valid: use one of bezier, polychain"
    ]
    assert result.stdout == ""
    assert not RunLayout(pristine).curves.exists()


def test_ridgeline_report_draws_the_bent_paths_of_a_connected_run(connected, tiny_run, tmp_path):
    from ridgeline.report.bent_path_figure import CURVE_CAPTION, draw_curves, read_job_curves
    from ridgeline.report.build import make_report
    from ridgeline.report.collect import collect

    run_dir, _ = connected
    report = make_report(run_dir, tmp_path / "report", wandb="off")
    assert report.figures["bent_paths"] == tmp_path / "report" / "figures" / "bent_paths.png"
    assert report.figures["bent_paths"].is_file()
    text = report.markdown.read_text()
    assert "![bent_paths](figures/bent_paths.png)" in text and CURVE_CAPTION in text
    _, pristine = tiny_run  # no ridgeline-connect records: no figure
    assert read_job_curves(collect(pristine).jobs) == []
    assert draw_curves([], tmp_path / "none") == {}
    assert not (tmp_path / "none").exists()
