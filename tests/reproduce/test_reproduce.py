"""ridgeline-reproduce on its tiny setting (real ridgeline-train jobs, 2 seeds): the table's
numbers are the records' numbers, recomputed here from ``load_run`` records independently."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from ridgeline import load_run
from ridgeline.cli.reproduce import main

SEEDS = [0, 1]
EXPERIMENTS = (
    "repro_lenet_mnist_mini",
    "repro_cnn_relu",
    "repro_cnn_gelu",
    "repro_cnn_maxpool",
    "repro_vit_alignment",
)


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    out = tmp_path_factory.mktemp("reproduce") / "out"
    exe = shutil.which("ridgeline-reproduce") or str(
        Path(sys.executable).with_name("ridgeline-reproduce")
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [exe, "--tiny", "--seeds", str(len(SEEDS)), "--out", str(out), "--threads", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "claims hold" in proc.stdout
    return out, json.loads((out / "reproduce.json").read_text()), proc.stdout


def runs(out: Path, experiment: str):
    return [load_run(out / "runs" / experiment / f"seed_{s}") for s in SEEDS]


def finals(run, kind: str, k: int | None = None) -> list:
    """Pair records at the phase's last probe, selected here without the package's helpers."""
    recs = [
        r
        for r in run.records
        if r.probe == "pair" and r.kind == kind and (k is None or r.spawn_step == k)
    ]
    last = max(r.step for r in recs)
    return [r for r in recs if r.step == last]


def claim(doc: dict, cid: str) -> dict[str, dict]:
    (c,) = [c for c in doc["claims"] if c["claim"] == cid]
    return c


def check(q: dict, per_seed: list[float]) -> None:
    """The quantity's per-seed values, mean and s.d. against an independent computation."""
    assert q["values"] == pytest.approx(per_seed, rel=1e-12, abs=1e-15)
    assert q["mean"] == pytest.approx(statistics.mean(per_seed), rel=1e-12, abs=1e-15)
    assert q["sd"] == pytest.approx(statistics.stdev(per_seed), rel=1e-9, abs=1e-12)


@pytest.mark.slow  # uses a ridgeline-reproduce --tiny process
def test_error_barriers_and_layerwise_numbers_are_the_records(reproduced) -> None:
    out, doc, _ = reproduced
    assert doc["seeds"] == SEEDS and doc["tiny"] is True
    lenet = runs(out, "repro_lenet_mnist_mini")
    k0, indep = claim(doc, "1")["quantities"]
    for q, kind, k in ((k0, "spawn", 0), (indep, "independent", None)):
        check(
            q,
            [
                statistics.mean(
                    100 * r.barrier["test"].error_barrier.endpoint_mean
                    for r in finals(run, kind, k)
                )
                for run in lenet
            ],
        )
    holds = k0["mean"] < 2 <= indep["mean"]
    assert claim(doc, "1")["holds"] is holds
    cnn = runs(out, "repro_cnn_maxpool")  # claims 2, 3 and 5: the quickstart's CNN
    qs = claim(doc, "2")["quantities"]
    assert [q["name"] for q in qs] == ["k = 0", "k = 5", "different inits"]
    for q, k in zip(qs[:2], (0, 5), strict=True):
        check(
            q,
            [
                statistics.mean(
                    100 * r.barrier["test"].error_barrier.endpoint_mean
                    for r in finals(run, "spawn", k)
                )
                for run in cnn
            ],
        )
    whole, layer = claim(doc, "3")["quantities"]
    check(
        whole,
        [
            statistics.mean(
                r.barrier["test"].loss_barrier.midpoint for r in finals(run, "spawn", 0)
            )
            for run in cnn
        ],
    )
    check(
        layer,
        [
            max(
                abs(e.loss_mid_own)
                for r in finals(run, "spawn", 0)
                for e in r.layerwise["test"].entries
                if e.kind == "layer"
            )
            for run in cnn
        ],
    )
    angle0, angle5, mono0, mono5 = claim(doc, "5")["quantities"]
    for q, k in ((angle0, 0), (angle5, 5)):
        check(
            q,
            [statistics.mean(r.geometry.angle_deg for r in finals(run, "spawn", k)) for run in cnn],
        )
    for q, k in ((mono0, 0), (mono5, 5)):
        flags = [
            [p.monotone for r in finals(run, "spawn", k) for p in r.profiles["test"].values()]
            for run in cnn
        ]
        assert all(len(f) == 2 for f in flags)  # one pair of children, both profiles
        check(q, [sum(f) / len(f) for f in flags])


@pytest.mark.slow  # uses a ridgeline-reproduce --tiny process
@pytest.mark.parametrize(
    ("cid", "experiment"),
    [("4a", "repro_cnn_maxpool"), ("4b", "repro_cnn_relu"), ("4c", "repro_cnn_gelu")],
)
def test_prediction_fit_is_pearson_and_slope_of_the_records(reproduced, cid, experiment) -> None:
    out, doc, _ = reproduced
    r_q, slope_q, n_q = claim(doc, cid)["quantities"]
    rs, slopes, ns = [], [], []
    for run in runs(out, experiment):
        pts = [
            (r.barrier["test"].loss_barrier.midpoint, r.curvature["test"].predicted_barrier)
            for r in run.records
            if r.probe == "pair"
            and r.kind == "spawn"
            and "test" in r.curvature
            and r.curvature["test"].delta_norm > 0
        ]
        xs, ys = zip(*pts, strict=True)
        rs.append(statistics.correlation(xs, ys))
        slopes.append(statistics.linear_regression(xs, ys).slope)
        ns.append(float(len(pts)))
    assert ns == [3.0, 3.0]  # k = 0 probed at 5 and 10, k = 5 at 10 (at 5 the children coincide)
    check(r_q, rs)
    check(slope_q, slopes)
    check(n_q, ns)


@pytest.mark.slow  # uses a ridgeline-reproduce --tiny process
def test_markdown_csv_and_figure_agree_with_the_json(reproduced) -> None:
    out, doc, _ = reproduced
    md = (out / "reproduce.md").read_text().splitlines()
    rows = [line for line in md[2:] if line.startswith("| ")]
    assert len(rows) == len(doc["claims"]) == 12
    with (out / "reproduce.csv").open() as f:
        table = list(csv.DictReader(f))
    for c, row in zip(doc["claims"], rows, strict=True):
        assert row.startswith(f"| {c['claim']} |")
        assert row.endswith("| **yes** |" if c["holds"] else "| **no** |")
        mine = [t for t in table if t["claim"] == c["claim"]]
        assert [t["quantity"] for t in mine] == [q["name"] for q in c["quantities"]]
        for t, q in zip(mine, c["quantities"], strict=True):
            mean = float(t["mean"])
            assert (math.isnan(mean) and q["mean"] is None) or mean == q["mean"]
            assert t["holds"] == str(c["holds"])
    figure = out / "predicted_vs_measured_relu_gelu.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert doc["figures"] == [str(figure)]
    assert sorted(doc["runs"]) == sorted(EXPERIMENTS)
    assert all(len(dirs) == len(SEEDS) for dirs in doc["runs"].values())


@pytest.mark.slow
def test_aligned_vit_barriers_are_the_stored_tables(reproduced) -> None:
    """Claim 6's per-seed values are each run's alignment.json rows; its vanilla row is the
    independent pair's test chord loss barrier that the run's own probe recorded."""
    out, doc, _ = reproduced
    tables = [
        {r["key"]: r for r in json.loads((run.root / "alignment.json").read_text())["rows"]}
        for run in runs(out, "repro_vit_alignment")
    ]
    quantities = claim(doc, "6")["quantities"]
    keys = [
        "vanilla",
        "activation",
        "weight_permutation",
        "weight_orthogonal",
        "learned_orthogonal",
    ]
    for q, key in zip(quantities, keys, strict=True):
        check(q, [t[key]["loss_barrier"] for t in tables])
    for run, table in zip(runs(out, "repro_vit_alignment"), tables, strict=True):
        (record,) = finals(run, "independent")
        assert table["vanilla"]["loss"] == pytest.approx(record.barrier["test"].loss, rel=1e-4)
        assert table["weight_orthogonal"]["coordinates"] == "reparameterised"


@pytest.mark.parametrize(
    ("args", "key"),
    [(["--seeds", "1"], "--seeds=1"), (["--threads", "0"], "--threads=0")],
)
def test_bad_arguments_exit_2_in_one_line_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], key: str
) -> None:
    out = tmp_path / "never"
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"ridgeline: error: {key} is not valid: ")
    assert not out.exists()


def test_unwritable_out_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["--out", str(blocker / "out")]) == 2
    assert "--out=" in capsys.readouterr().err


@pytest.mark.slow  # uses a ridgeline-reproduce --tiny process
def test_the_table_describes_the_setup_that_ran(reproduced) -> None:
    """--tiny trains T = 10 steps with children at k = 0 and 5, probed at 5 and 10 (TINY in
    ridgeline.reproduce.experiments): the printed table says so, not the full-size setup."""
    _, doc, stdout = reproduced
    experiments = {c["claim"]: c["experiment"] for c in doc["claims"]}
    for cid in ("1", "2"):
        assert "T = 10; children at k = 0, 5" in experiments[cid], experiments[cid]
    for cid in ("4a", "4b", "4c", "4d", "4e", "4f"):
        assert "Δ ≠ 0 (at steps 5 and 10)" in experiments[cid], experiments[cid]
    assert "T = 10; children at k = 0, 5" in stdout
    for full_size in ("T = 500", "T = 250", "k = 0, 10, 40", "125 and 250"):
        assert full_size not in stdout
