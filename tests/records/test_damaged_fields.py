"""Damaged fields of stored records: every reader (read_records, load_run, read_curves,
ridgeline-report) names the file, the line and the field in one line, before anything is drawn
or written. Synthetic run dirs (helpers.records), in-process."""

import json
import math
from pathlib import Path

import pytest

from helpers.records import make_run
from ridgeline.cli.report import main as report_main
from ridgeline.connect import ConnectRecord, read_curves
from ridgeline.errors import RidgelineError
from ridgeline.landscape import RecordFieldError
from ridgeline.landscape.results import (
    BarrierValues,
    BentPathFitRecord,
    BentPathRecord,
    SliceRecord,
)
from ridgeline.records import read_records
from ridgeline.records.statistics import prediction_points

U, V = [-1.0, 0.0, 1.0, 2.0], [-1.0, 0.0, 1.0]


def plane() -> dict:
    """A whole loss plane (len(v) rows of len(u) values) as the geometry probe stores it."""
    grid = [[1.0 + 0.1 * i + 0.01 * j for j in range(len(U))] for i in range(len(V))]
    record = SliceRecord(
        u=U,
        v=V,
        loss=grid,
        error=[[0.1] * len(U) for _ in V],
        points=[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]],
        path_alphas=[0.0, 0.5, 1.0],
        path=[[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]],
        point_loss=[1.0, 1.1, 1.2],
        point_error=[0.1, 0.1, 0.1],
        resolution=4,
    ).to_dict()
    return {**record, "split": "test", "seconds": 0.5}


def run_with_plane(tmp_path: Path) -> tuple[Path, Path, int]:
    """A run dir whose last spawn record holds a plane: (run, records file, its line)."""
    run = make_run(tmp_path / "run")
    path = run / "landscape" / "records.jsonl"
    lines = [json.loads(s) for s in path.read_text().splitlines()]
    number = max(i for i, r in enumerate(lines, 1) if r.get("kind") == "spawn")
    lines[number - 1]["geometry"]["plane"] = plane()
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    return run, path, number


def edit_line(path: Path, number: int, edit) -> None:
    lines = [json.loads(s) for s in path.read_text().splitlines()]
    edit(lines[number - 1])
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))


def _plane_of(r: dict) -> dict:
    return r["geometry"]["plane"]


PLANE_DAMAGE = {
    # name: (edit of the plane dict, field named, what is said)
    "wrong shape": (lambda p: p["loss"].pop(), "geometry.plane.loss", "has 2 rows for 3 v"),
    "ragged rows": (lambda p: p["loss"][1].pop(), "geometry.plane.loss[1]", "3 values for 4 u"),
    "short u axis": (lambda p: p["u"].pop(), "geometry.plane.loss[0]", "4 values for 3 u"),
    "error grid": (lambda p: p["error"][0].append(0.1), "geometry.plane.error[0]", "5 values"),
    "string value": (
        lambda p: p["loss"][2].__setitem__(1, "high"),
        "geometry.plane.loss[2][1]",
        "is str 'high', not a number",
    ),
    "grid not a list": (lambda p: p.__setitem__("loss", 3.0), "geometry.plane.loss", "not a list"),
    "missing v": (lambda p: p.pop("v"), "geometry.plane.v", "is missing"),
    "point not a pair": (lambda p: p["points"][1].pop(), "geometry.plane.points[1]", "(u, v)"),
    "path points": (lambda p: p["path"].pop(), "geometry.plane.path", "2 points for 3"),
    "point values": (lambda p: p["point_loss"].pop(), "geometry.plane.point_loss", "2 values"),
    "split": (lambda p: p.pop("split"), "geometry.plane.split", "not a split name"),
}


@pytest.mark.parametrize("case", sorted(PLANE_DAMAGE))
def test_a_damaged_plane_is_named_by_file_line_and_field(tmp_path, capsys, case):
    run, path, number = run_with_plane(tmp_path)
    assert read_records(path)[number - 1].plane.slice.loss[1][2] == pytest.approx(1.12)
    edit, field, said = PLANE_DAMAGE[case]
    edit_line(path, number, lambda r: edit(_plane_of(r)))
    with pytest.raises(RidgelineError) as info:
        read_records(path)
    message = str(info.value)
    assert message.startswith(f"{path} line {number} is damaged: field {field} ")
    assert said in message and f"delete line {number}" in message and "\n" not in message
    # ridgeline-report says the same one line, exit 2, and writes nothing
    assert report_main([str(run), "--wandb", "off"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"ridgeline-report: error: {message}"
    assert not (run / "report").exists()


def test_line_numbers_count_blank_lines(tmp_path):
    _, path, number = run_with_plane(tmp_path)
    edit_line(path, number, lambda r: _plane_of(r)["loss"].pop())
    path.write_text("\n\n" + path.read_text())
    with pytest.raises(RidgelineError, match=f"line {number + 2} is damaged"):
        read_records(path)


def test_load_run_checks_the_plane_too(tmp_path):
    from ridgeline import load_run

    run, path, number = run_with_plane(tmp_path)
    edit_line(path, number, lambda r: _plane_of(r)["u"].pop())
    with pytest.raises(RidgelineError, match=f"line {number} is damaged: field geometry.plane"):
        load_run(run)


def test_a_damaged_barrier_curve_is_named_with_its_split(tmp_path):
    run = make_run(tmp_path / "run")
    path = run / "landscape" / "records.jsonl"
    edit_line(path, 4, lambda r: r["barrier"]["train"]["loss"].pop())
    with pytest.raises(RidgelineError, match=r"line 4 is damaged: field barrier.train.loss has 8"):
        read_records(path)


# --- null numbers: read as nan (left out of every statistic), never a crash ------------------
def _nulls(value):
    if isinstance(value, float):
        return None
    if isinstance(value, dict):
        return {k: _nulls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nulls(v) for v in value]
    return value


@pytest.mark.slow  # draws a whole report (over 3 s)
def test_records_whose_barrier_numbers_are_all_null_report_without_them(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    path = run / "landscape" / "records.jsonl"
    lines = [json.loads(s) for s in path.read_text().splitlines()]
    for r in lines:
        if "barrier" in r:
            r["barrier"] = _nulls(r["barrier"])
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    records = read_records(path)
    pair = next(r for r in records if r.probe == "pair")
    assert math.isnan(pair.barrier["test"].loss_barrier.midpoint)
    assert all(math.isnan(v) for v in pair.barrier["test"].loss)
    points = prediction_points(records)
    assert points["network"] == []  # every measured barrier is nan: no point
    assert len(points["layers"]) > 0  # the layer-wise ones are untouched
    assert report_main([str(run), "--wandb", "off"]) == 0
    markdown = (run / "report" / "report.md").read_text()
    assert "Not drawn (no such values in the records): barrier_curves" in markdown


def test_null_and_flagged_values_of_the_codec():
    values = {"midpoint": None, "chord": None, "endpoint_mean": 1.0}
    flagged = {**values, "non_finite": ["chord"], "non_finite_values": ["inf"]}
    read = BarrierValues.from_dict(values)
    assert math.isnan(read.midpoint) and math.isnan(read.chord) and read.endpoint_mean == 1.0
    assert BarrierValues.from_dict(flagged).chord == math.inf
    with pytest.raises(RecordFieldError, match=r"^field chord is bool True, not a number$"):
        BarrierValues.from_dict({**values, "chord": True})
    with pytest.raises(RecordFieldError, match=r"^field endpoint_mean is missing$"):
        BarrierValues.from_dict({"midpoint": 1.0, "chord": 1.0})


# --- curve lines of ridgeline-connect ---------------------------------------------------------
def curve_line(n: int = 3) -> dict:
    """A whole curves.jsonl line (a ConnectRecord over n t values)."""
    ts = [i / (n - 1) for i in range(n)]
    b = BarrierValues(midpoint=0.1, chord=0.1, endpoint_mean=0.1)
    fit = BentPathFitRecord(
        kind="bezier",
        steps=3,
        optimizer="adam",
        lr=0.01,
        schedule="constant",
        t_per_step=1,
        n_batches=1,
        seed=0,
        init_noise=0.0,
        window=1,
        initial_objective=1.0,
        final_objective=0.9,
        bend_offset=0.1,
        delta_norm=1.0,
    )
    curve = BentPathRecord(
        kind="bezier",
        ts=ts,
        loss=[1.0] * n,
        line_loss=[1.2] * n,
        loss_barrier=b,
        line_loss_barrier=b,
        fit=fit,
        error=[0.1] * n,
        line_error=[0.2] * n,
    )
    return ConnectRecord(
        phase="independent",
        phase_kind="independent",
        spawn_step=None,
        step=30,
        pair=[0, 1],
        split="test",
        probe="curve/bezier/test",
        train_batches=1,
        batch_size=8,
        data_seed=0,
        curve=curve,
    ).to_dict()


CURVE_DAMAGE = {
    # name: (edit of the line, field named, what is said)
    "missing keys": (
        lambda d: [d.pop(k) for k in ("phase_kind", "step", "curve")],
        "phase_kind",
        "is missing",
    ),
    "loss a string": (
        lambda d: d["curve"].__setitem__("loss", "low"),
        "curve.loss",
        "is str 'low', not a list",
    ),
    "loss value a string": (
        lambda d: d["curve"]["loss"].__setitem__(1, "x"),
        "curve.loss[1]",
        "not a number",
    ),
    "loss shorter than t": (
        lambda d: d["curve"]["loss"].pop(),
        "curve.loss",
        "has 2 values for the 3 of ts",
    ),
    "line error longer": (
        lambda d: d["curve"]["line_error"].append(0.3),
        "curve.line_error",
        "4 values",
    ),
    "fit not an object": (lambda d: d["curve"].__setitem__("fit", [1]), "curve.fit", "not an"),
    "step not whole": (lambda d: d.__setitem__("step", 2.5), "step", "not a whole number"),
}


def write_curves_file(run: Path, lines: list[dict]) -> Path:
    path = run / "landscape" / "curves.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in lines))
    return path


@pytest.mark.parametrize("case", sorted(CURVE_DAMAGE))
def test_a_damaged_curve_line_is_named_before_the_report_writes(tmp_path, capsys, case):
    run = make_run(tmp_path / "run")
    good = curve_line()
    path = write_curves_file(run, [good, good | {"phase": "spawn_k=0000000"}])
    assert [r.phase for r in read_curves(run)] == ["independent", "spawn_k=0000000"]
    edit, field, said = CURVE_DAMAGE[case]
    bad = curve_line()
    edit(bad)
    write_curves_file(run, [good, bad])
    with pytest.raises(RidgelineError) as info:
        read_curves(run)
    message = str(info.value)
    assert message.startswith(f"{path} line 2 is damaged: field {field} ") and said in message
    assert "delete line 2" in message and "\n" not in message
    assert report_main([str(run), "--wandb", "off"]) == 2
    assert capsys.readouterr().err.strip() == f"ridgeline-report: error: {message}"
    assert not (run / "report").exists()  # checked before the first file


def test_a_curves_file_that_is_a_directory_stops_the_report_before_it_writes(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    (run / "landscape" / "curves.jsonl").mkdir()
    assert report_main([str(run), "--wandb", "off"]) == 2
    err = capsys.readouterr().err.strip()
    assert "curves.jsonl is a directory where a file belongs" in err
    assert not (run / "report").exists()
