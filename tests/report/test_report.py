"""ridgeline-report on synthetic record files: figures readable, CSV numbers = record numbers."""

import csv
import hashlib
import json
import math

import matplotlib.image
import pytest
import yaml

from helpers.records import close, make_run, make_sweep
from helpers.wandb_file import read_runs
from ridgeline.cli.report import main as report_main
from ridgeline.records.probe_record import ProbeRecord
from ridgeline.records.scalars import scalar_metrics
from ridgeline.report.build import ORDER, make_report
from ridgeline.report.collect import collect
from ridgeline.report.summary import summarise_run
from ridgeline.store.record_store import RecordStore

SPLITS = ("test", "train")
VARIANTS = ("midpoint", "chord", "endpoint_mean")


def expected_columns(raw: dict) -> dict[str, float | None]:
    """The metrics.csv columns of one stored record, read from its JSON by hand (not through
    ``scalar_metrics``): barrier variants, endpoints, predictions, layer-wise, geometry."""
    out: dict[str, float | None] = {}
    for split, curve in (raw.get("barrier") or {}).items():
        for quantity in ("loss", "error"):
            for variant in VARIANTS:
                out[f"barrier/{split}/{quantity}/{variant}"] = curve[f"{quantity}_barrier"][variant]
            out[f"endpoints/{split}/{quantity}_a"] = curve[quantity][0]
            out[f"endpoints/{split}/{quantity}_b"] = curve[quantity][-1]
    for split, rec in (raw.get("curvature") or {}).items():
        out[f"curvature/{split}/predicted_barrier"] = rec["predicted_barrier"]
        out[f"curvature/{split}/delta_norm"] = rec["delta_norm"]
        for layer in rec["layers"]:
            out[f"curvature/{split}/layer/{layer['name']}/predicted_barrier"] = layer[
                "predicted_barrier"
            ]
    for split, rec in (raw.get("layerwise") or {}).items():
        for e in rec["entries"]:
            if e["kind"] == "layer":
                out[f"layerwise/{split}/{e['name']}/{e['direction']}/loss_mid_own"] = e[
                    "loss_mid_own"
                ]
    geometry = raw.get("geometry") or {}
    for key in ("angle_deg", "dist_ab", "dist_as", "dist_bs"):
        if key in geometry:
            out[f"geometry/{key}"] = geometry[key]
    if raw["probe"] == "parent":
        out["parent/distance_from_init"] = raw["parent"]["distance_from_init"]
        out["parent/test/loss"] = raw["parent"]["profiles"]["test"]["loss"][-1]
    return out


def assert_row_is_record(row: dict[str, str], raw: dict) -> None:
    expected = expected_columns(raw)
    assert expected, raw
    for key, value in expected.items():
        if value is None:
            assert row[key] == "", key
        else:
            assert close(row[key], value), (key, row[key], value)


def _csv(path):
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def run_report(tmp_path_factory):
    run_dir = make_run(tmp_path_factory.mktemp("run") / "run")
    return run_dir, make_report(run_dir)


@pytest.fixture(scope="module")
def sweep_report(tmp_path_factory):
    sweep = make_sweep(tmp_path_factory.mktemp("sweep") / "multirun")
    out = tmp_path_factory.mktemp("sweep_out")
    assert report_main([str(sweep), "--out", str(out)]) == 0
    return sweep, out


# The figures the fixture's records support: they hold no loss plane and no bent paths.
DRAWN = tuple(n for n in ORDER if n not in ("loss_plane", "bent_paths"))


@pytest.mark.slow  # the run_report fixture draws a whole run report (over 3 s)
def test_run_report_has_every_figure_readable(run_report):
    _, report = run_report
    assert list(report.figures) == list(DRAWN)
    for path in report.figures.values():
        image = matplotlib.image.imread(path)
        assert image.shape[0] > 200 and image.shape[1] > 300
    md = report.markdown.read_text()
    for name in DRAWN:
        assert f"figures/{name}.png" in md
    assert "Not drawn (no such values in the records): loss_plane, bent_paths." in md


@pytest.mark.slow  # the run_report fixture draws a whole run report (over 3 s)
def test_run_csv_matches_records(run_report):
    run_dir, report = run_report
    records = RecordStore(run_dir / "landscape" / "records.jsonl").read()
    rows = _csv(report.tables["metrics"])
    assert len(rows) == len(records)
    for row, rec in zip(rows, records, strict=True):
        assert row["phase"] == rec["phase"] and int(row["step"]) == rec["step"]
        assert_row_is_record(row, rec)
    # curves: every α point of every barrier curve
    curves = _csv(report.tables["curves"])
    rec = next(r for r in records if r["phase"] == "spawn_k=0000010" and r["step"] == 20)
    mine = [
        c
        for c in curves
        if c["phase"] == rec["phase"]
        and c["step"] == "20"
        and c["curve"] == "barrier"
        and c["split"] == "test"
    ]
    assert [float(c["alpha"]) for c in mine] == rec["barrier"]["test"]["alphas"]
    assert all(
        close(c["loss"], v) for c, v in zip(mine, rec["barrier"]["test"]["loss"], strict=True)
    )


def test_sweep_varying_keys_and_jobs(tmp_path):
    sweep = make_sweep(tmp_path / "s")
    col = collect(sweep)
    assert [j.name for j in col.jobs] == ["0", "1", "2", "3"]  # parent store left out
    assert "spawn.at" in col.varying and "seed" in col.varying
    assert not any(k.startswith("paths.") for k in col.varying)
    assert col.setting_keys == []  # only seeds and spawn steps vary


@pytest.mark.slow  # the sweep_report fixture draws a whole sweep report (over 3 s)
def test_sweep_report_figures_and_csv(sweep_report):
    sweep, out = sweep_report
    for name in DRAWN:
        image = matplotlib.image.imread(out / "figures" / f"{name}.png")
        assert image.shape[0] > 200
    rows = _csv(out / "metrics.csv")
    assert {"config.seed", "config.spawn.at"} <= set(rows[0])
    assert not any(c.startswith("config.paths") for c in rows[0])
    assert {r["job"] for r in rows} == {"0", "1", "2", "3"}
    job3 = [r for r in rows if r["job"] == "3"]
    assert {r["config.seed"] for r in job3} == {"1"}
    assert {r["config.spawn.at"] for r in job3} == {"10"}
    recs = RecordStore(sweep / "3" / "landscape" / "records.jsonl").read()
    assert len(job3) == len(recs)
    for row, rec in zip(job3, recs, strict=True):
        assert_row_is_record(row, rec)


@pytest.mark.slow  # the sweep_report fixture draws a whole sweep report (over 3 s)
def test_sweep_instability_is_mean_and_sd_over_seeds(sweep_report):
    sweep, out = sweep_report
    rows = _csv(out / "instability.csv")
    row = next(
        r
        for r in rows
        if r["kind"] == "spawn"
        and r["spawn_step"] == "10"
        and r["split"] == "test"
        and r["quantity"] == "error"
        and r["barrier"] == "endpoint_mean"
    )
    values = []
    for job in ("2", "3"):  # spawn.at=10, seeds 0 and 1
        recs = RecordStore(sweep / job / "landscape" / "records.jsonl").read()
        final = max(r["step"] for r in recs if r["kind"] == "spawn")
        values += [
            r["barrier"]["test"]["error_barrier"]["endpoint_mean"]
            for r in recs
            if r["kind"] == "spawn" and r["step"] == final
        ]
    mean = sum(values) / 2
    sd = math.sqrt(sum((v - mean) ** 2 for v in values))
    assert row["n"] == "2" and row["over"] == "seeds"
    assert close(row["mean"], mean) and close(row["std"], sd)
    md = (out / "report.md").read_text()
    assert "| spawn step k |" in md and "different inits" in md


def test_cli_error_on_dir_without_records(tmp_path, capsys):
    assert report_main([str(tmp_path)]) == 2
    assert "no landscape/records.jsonl" in capsys.readouterr().err


@pytest.mark.slow  # draws a whole run report (over 3 s)
def test_summarise_run_keeps_its_figure_names(tmp_path):
    run_dir = make_run(tmp_path / "run")
    rows = summarise_run(run_dir)
    assert [r["spawn step"] for r in rows] == [0, 10, "indep. init"]
    for name in (
        "instability",
        "barrier_over_training",
        "predicted_vs_measured",
        "mountainside",
        "barrier_curves",
    ):
        assert (run_dir / "figures" / f"{name}.png").exists()


def test_scalar_metrics_names_and_values_against_a_hand_computed_curve():
    """The fixture's test curve at height h = 0.3 is L(α) = 0.5 + 0.3α + h(4α(1−α) + 4α²(1−α))
    on α = 0, ⅛, …, 1, so by hand: midpoint = L(½) − ½(L_0 + L_1) = 1.5h; chord = max_α of the
    hump = h(4·⅝·⅜ + 4·(⅝)²·⅜) at α = ⅝; endpoint-mean = 0.3·⅝ + chord − 0.15."""
    from helpers.records import pair_record

    h = 0.3
    chord = h * (4 * 5 / 8 * 3 / 8 + 4 * (5 / 8) ** 2 * 3 / 8)
    raw = pair_record("spawn_k=0000000", "spawn", 10, 0, h)
    metrics = scalar_metrics(ProbeRecord.from_dict(raw))
    hand = {
        "barrier/test/loss/midpoint": 1.5 * h,
        "barrier/test/loss/chord": chord,
        "barrier/test/loss/endpoint_mean": 0.3 * 5 / 8 + chord - 0.15,
        "endpoints/test/loss_a": 0.5,
        "endpoints/test/loss_b": 0.8,
        "curvature/test/predicted_barrier": 1.1 * h,
        "curvature/test/layer/fc1/predicted_barrier": 1.2 * h / 6,
        "layerwise/test/fc2/into_a/loss_mid_own": h * 2 / 6,
        "layerwise/test/fc2/into_b/loss_mid_own": h * 2 / 6 + 0.001,
        "geometry/angle_deg": 20.0 + 60.0 * h,
        "geometry/test/profile_a/bump": h / 2,
        "geometry/test/profile_b/bump": h / 3,
    }
    assert len({hand[f"barrier/test/loss/{v}"] for v in VARIANTS}) == 3  # a swap would show
    for key, value in hand.items():
        assert metrics[key] == pytest.approx(value, rel=1e-12), key
    # the independent children's only geometry is their distance; the spawn step has no angle
    ind = scalar_metrics(
        ProbeRecord.from_dict(pair_record("independent", "independent", 0, None, 0))
    )
    assert ind["geometry/dist_ab"] == 1.0 and "geometry/angle_deg" not in ind
    at_k = scalar_metrics(ProbeRecord.from_dict(pair_record("spawn_k=0000000", "spawn", 0, 0, 0)))
    assert at_k["geometry/angle_deg"] is None and at_k["curvature/test/delta_norm"] == 0.0


def _with_wandb_logger(job_dir, group=None):
    config = yaml.safe_load((job_dir / "config.yaml").read_text())
    config["logger"] = {
        "wandb": {
            "_target_": "pytorch_lightning.loggers.WandbLogger",
            "project": "ridgeline",
            "group": group,
            "offline": True,
        }
    }
    (job_dir / "config.yaml").write_text(yaml.safe_dump(config))


@pytest.mark.slow  # starts the W&B service process (wandb-core)
def test_report_logs_figures_and_tables_to_wandb_when_the_jobs_did(tmp_path):
    sweep = make_sweep(tmp_path / "multirun")
    for job in ("0", "1", "2", "3"):
        _with_wandb_logger(sweep / job)
    out = tmp_path / "report"
    assert report_main([str(sweep), "--out", str(out)]) == 0
    (run,) = read_runs(out)
    assert run.job_type == "report" and run.group == "multirun"
    run_files = next((out / "wandb").glob("offline-run-*/files"))
    logged: dict[str, dict] = {}  # media values arrive flattened: "<key>/<field>"
    for row in run.history:
        for key, value in row.items():
            name, _, part = key.rpartition("/")
            if name.startswith(("figures/", "report/")):
                logged.setdefault(name, {})[part] = value
    pngs = sorted((out / "figures").glob("*.png"))
    assert sorted(k for k in logged if k.startswith("figures/")) == sorted(
        f"figures/{p.stem}" for p in pngs
    )
    for png in pngs:
        media = logged[f"figures/{png.stem}"]
        assert media["_type"] == "image-file"
        stored = run_files / media["path"]
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == media["sha256"]
        height, width = matplotlib.image.imread(png).shape[:2]
        assert (media["height"], media["width"]) == (height, width)
    assert sorted(k for k in logged if k.startswith("report/")) == [
        "report/curves",
        "report/instability",
        "report/metrics",
    ]
    table = logged["report/instability"]
    assert table["_type"] == "table-file"
    stored = json.loads((run_files / table["path"]).read_text())
    rows = _csv(out / "instability.csv")
    assert stored["columns"] == list(rows[0])
    assert stored["data"] == [[r[c] for c in stored["columns"]] for r in rows]


@pytest.mark.slow  # over 3 s in the fast run: two full reports
def test_report_wandb_off_and_no_logger_write_no_wandb_run(tmp_path):
    run_dir = make_run(tmp_path / "run")
    assert report_main([str(run_dir), "--out", str(tmp_path / "auto")]) == 0
    assert not (tmp_path / "auto" / "wandb").exists()
    _with_wandb_logger(run_dir)
    assert report_main([str(run_dir), "--out", str(tmp_path / "off"), "--wandb", "off"]) == 0
    assert not (tmp_path / "off" / "wandb").exists()


@pytest.mark.slow  # draws a whole run report (over 3 s)
def test_figures_without_layer_predictions_drop_the_empty_panels(tmp_path):
    from helpers.records import run_records
    from ridgeline.report import figures

    full = run_records()
    bare = json.loads(json.dumps(full))
    for r in bare:
        for split in (r.get("curvature") or {}).values():
            split["layers"] = []
    widths = {}
    for name, raw in (("full", full), ("bare", bare)):
        recs = [ProbeRecord.from_dict(r) for r in raw]
        for fig in ("predicted_vs_measured", "layerwise_heatmaps"):
            path = getattr(figures, fig)(recs, tmp_path / f"{fig}_{name}.png")
            widths[fig, name] = matplotlib.image.imread(path).shape[1]
    for fig in ("predicted_vs_measured", "layerwise_heatmaps"):
        assert widths[fig, "bare"] < 0.65 * widths[fig, "full"], widths


def test_a_run_of_old_format_records_gives_the_same_tables(tmp_path):
    """Records written before the curvature component's rename (under ``taylor``) read as
    today's: the same metrics and prediction points as the same run written today."""
    from helpers.records import base_config, run_records, write_run
    from ridgeline.records.statistics import prediction_points
    from ridgeline.report.tables import metric_rows

    new = run_records()
    old = json.loads(json.dumps(new))
    for r in old:
        if "curvature" in r:
            r["taylor"] = r.pop("curvature")
    tables = {}
    for name, records in (("new", new), ("old", old)):
        run_dir = write_run(tmp_path / name, records, base_config(tmp_path / "run"))
        collection = collect(run_dir)
        tables[name] = metric_rows(collection)
        points = prediction_points(collection.records)
        # Δ ≠ 0: k = 0 at steps 10, 20; k = 10 at 20; different inits at 0, 10, 20
        assert [(p.record.phase, p.record.step) for p in points["network"]] == [
            ("spawn_k=0000000", 10),
            ("spawn_k=0000000", 20),
            ("spawn_k=0000010", 20),
            ("independent", 0),
            ("independent", 10),
            ("independent", 20),
        ]
    assert tables["old"] == tables["new"]
    assert any(k.startswith("curvature/test/") for k in tables["old"][-1])


@pytest.mark.slow  # draws a whole sweep report (over 3 s)
def test_a_non_finite_barrier_is_an_empty_cell_and_left_out_of_the_means(tmp_path):
    """A probe of a diverged child stores its midpoint barrier as null (flagged nan): the
    report still draws, metrics.csv has an empty cell, the final mean leaves it out."""
    from helpers.records import base_config, run_records, write_run

    records = run_records()
    (final,) = [r for r in records if r["phase"] == "spawn_k=0000010" and r["step"] == 20]
    curve = final["barrier"]["test"]
    curve["loss_barrier"]["midpoint"] = None
    curve["non_finite"], curve["non_finite_values"] = ["loss_barrier.midpoint"], ["nan"]
    run_dir = write_run(tmp_path / "run", records, base_config(tmp_path / "run"))
    report = make_report(run_dir)
    assert "instability" in report.figures and "predicted_vs_measured" in report.figures
    (row,) = [
        r
        for r in _csv(report.tables["metrics"])
        if r["phase"] == "spawn_k=0000010" and r["step"] == "20"
    ]
    assert row["barrier/test/loss/midpoint"] == ""
    assert close(row["barrier/test/loss/chord"], curve["loss_barrier"]["chord"])
    k10 = {
        (r["split"], r["quantity"], r["barrier"]): r
        for r in _csv(report.tables["instability"])
        if r["spawn_step"] == "10"
    }
    assert ("test", "loss", "midpoint") not in k10  # its only value was not a number
    assert close(k10["test", "loss", "chord"]["mean"], curve["loss_barrier"]["chord"])
    assert close(
        k10["train", "loss", "midpoint"]["mean"],
        final["barrier"]["train"]["loss_barrier"]["midpoint"],
    )
