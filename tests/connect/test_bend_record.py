"""A bent path can be recomputed from the records: each curve line names its fitted θ_bend's
file, and φ(t) through it, with the saved children, gives the recorded loss and error."""

import json
import shutil

import pytest

from ridgeline import load_run
from ridgeline.connect import ConnectOptions, ConnectRecord, connect_run, read_curves
from ridgeline.connect.bent_path_record import read_bend
from ridgeline.landscape import Evaluator
from ridgeline.landscape.bent_paths import bent_path_points
from ridgeline.store.layout import RunLayout

pytestmark = pytest.mark.slow  # trains the tiny run (a ridgeline-train process)


@pytest.fixture(scope="module")
def connected(tiny_run, tmp_path_factory):
    _, pristine = tiny_run
    run_dir = tmp_path_factory.mktemp("bend") / "run"
    shutil.copytree(pristine, run_dir)
    options = ConnectOptions(phases=["independent"], steps=20, points=5, kind="polychain")
    connect_run(run_dir, options, figure=False)
    return run_dir


def test_the_curve_is_recomputed_from_the_record_alone(connected):
    (record,) = read_curves(connected)
    assert record.bend == "landscape/bends/independent__0-1__polychain__test.pt"
    bend = read_bend(connected, record)
    run = load_run(connected)
    children = run.phases[record.phase].children()
    a, b = children[record.pair[0]], children[record.pair[1]]
    assert bend.keys() == a.keys()
    c = record.curve
    x, y = run.datamodule().eval_tensors(record.split)
    ev = Evaluator(
        run.model(),
        x,
        y,
        chunk_size=int(run.config.probe.chunk_size),
        bn_policy=c.bn_policy,
        use_vmap=c.eval_path == "vmap",
    )
    metrics = ev.evaluate(bent_path_points(a, bend, b, c.ts, c.kind))
    # the same path, the same sets, float64 sums: the recorded numbers bit for bit
    assert [m.loss for m in metrics] == c.loss
    assert [m.error for m in metrics] == c.error
    # not the line: the bend moved off θ_½
    assert c.loss[len(c.ts) // 2] != c.line_loss[len(c.ts) // 2]


def test_the_line_stays_readable_and_old_lines_still_read(connected):
    (line,) = RunLayout(connected).curves.read_text().splitlines()
    assert len(line) < 4000  # a parameter set would be ~100x longer: it lives in its own file
    old = json.loads(line)
    del old["bend"]  # a line written before the bend was recorded
    record = ConnectRecord.from_dict(old)
    assert record.bend is None
    with pytest.raises(ValueError, match="ridgeline-connect --phase independent"):
        read_bend(connected, record)
