"""probe.align end to end: aligned barrier, layer-wise and Taylor numbers next to the unaligned
ones in the records, the loggers' metrics, the summary table, the report's tables and the
instability figure; bad values rejected before compute."""

import csv
import math

import matplotlib.image
import pytest
from omegaconf import OmegaConf, open_dict
from torch import nn

from helpers.compose import compose_groups as compose_cfg
from ridgeline.config.builds import check_model
from ridgeline.config.settings import read_settings
from ridgeline.errors import ConfigError
from ridgeline.job.validate import validate_config
from ridgeline.records.probe_record import ProbeRecord
from ridgeline.records.scalars import scalar_metrics
from ridgeline.report import figures
from ridgeline.report.build import _summary_table
from ridgeline.report.summary import summary_rows
from ridgeline.report.tables import instability_rows

# The logged metrics are checked in the CSV logger's file: every logger gets the same
# scalar_metrics keys from log_record (the W&B path is covered by the main-job test).
ALIGN = [
    "debug=fast",
    "logger=csv",
    "summary=false",
    "data.eval_train_size=100",
    "data.eval_test_size=100",
    "trainer.max_steps=10",
    "spawn.at=[5]",
    "probe.every_n_steps=null",
    "probe.curvature.layerwise=false",
    "probe.align=activation",
    "probe.align_spawned=true",
    "probe.eval_path=loop",  # no timing of loop against vmap (the path choice has its own tests)
]


@pytest.fixture(scope="module")
def aligned_job(tiny_run_factory):
    job = tiny_run_factory("aligned_job", *ALIGN)
    return job.run_dir, [r for r in job.records() if r["probe"] == "pair"], job.result.stdout


@pytest.mark.slow  # uses a ridgeline-train run (a process)
def test_aligned_variant_sits_next_to_the_unaligned_numbers(aligned_job):
    _, records, _ = aligned_job
    assert {r["phase"] for r in records} == {"spawn_k=0000005", "independent"}
    for r in records:
        aligned = r["aligned"]
        assert aligned["alignment"]["method"] == "activation"
        assert aligned["alignment"]["n_examples"] == 100  # data.eval_train_size
        # the quickstart's components and splits: barrier on both, layer-wise and Taylor on test
        assert set(aligned) == {"alignment", "barrier", "layerwise", "curvature"}
        assert set(aligned["barrier"]) == {"train", "test"}
        assert set(aligned["curvature"]) == {"test"}
        for split in ("train", "test"):
            plain, perm = r["barrier"][split], aligned["barrier"][split]
            assert perm["loss"][0] == plain["loss"][0]  # θ_A is untouched
            # P(θ_B) is the same function as θ_B
            assert perm["loss"][-1] == pytest.approx(plain["loss"][-1], rel=1e-5)
            assert perm["error"][-1] == plain["error"][-1]


@pytest.mark.slow  # uses a ridgeline-train run (a process)
def test_identical_children_align_to_the_identity(aligned_job):
    _, records, _ = aligned_job
    start = [r for r in records if r["phase"] == "spawn_k=0000005" and r["reason"] == "start"]
    assert len(start) == 1
    aligned = start[0]["aligned"]
    assert aligned["alignment"]["moved_units"] == 0 and aligned["alignment"]["dist_after"] == 0.0
    assert aligned["barrier"] == start[0]["barrier"]


@pytest.mark.slow  # uses a ridgeline-train run (a process)
def test_alignment_brings_independent_children_closer(aligned_job):
    _, records, _ = aligned_job
    final = [r for r in records if r["phase"] == "independent" and r["reason"] == "end"][0]
    how = final["aligned"]["alignment"]
    assert how["moved_units"] > 0
    assert how["dist_after"] < how["dist_before"]
    assert how["dist_before"] == pytest.approx(final["geometry"]["dist_ab"], rel=1e-9)


@pytest.mark.slow  # uses a ridgeline-train run (a process)
def test_logged_metrics_summary_and_report_hold_the_aligned_numbers(aligned_job, tmp_path):
    run_dir, records, _ = aligned_job
    final = [r for r in records if r["phase"] == "independent" and r["reason"] == "end"][0]
    with (run_dir / "independent" / "csv" / "version_0" / "metrics.csv").open() as f:
        logged = [row for row in csv.DictReader(f) if row.get("aligned/dist_after")]
    assert [float(row["probe/absolute_step"]) for row in logged] == [0.0, 10.0]
    metrics = {
        k: v for k, v in scalar_metrics(ProbeRecord.from_dict(final)).items() if v is not None
    }
    aligned_keys = [k for k in metrics if k.startswith("aligned/")]
    assert "aligned/curvature/test/predicted_barrier" in aligned_keys
    assert any(k.startswith("aligned/layerwise/test/") for k in aligned_keys)
    for key in aligned_keys:
        assert float(logged[-1][key]) == pytest.approx(metrics[key], rel=1e-6), key
    err = final["aligned"]["barrier"]["test"]["error_barrier"]["endpoint_mean"]
    spawned = [r for r in records if r["phase"] == "spawn_k=0000005" and r["reason"] == "end"][0]
    err5 = spawned["aligned"]["barrier"]["test"]["error_barrier"]["endpoint_mean"]
    typed = [ProbeRecord.from_dict(r) for r in records]
    table = {row["spawn step"]: row for row in summary_rows(typed)}
    assert set(table) == {5, "indep. init", "indep. init, aligned", "5, aligned"}
    assert table["indep. init, aligned"]["err test"] == err
    assert table["indep. init, aligned"]["‖θA−θB‖"] == final["aligned"]["alignment"]["dist_after"]
    rows = [
        r
        for r in instability_rows(typed)
        if r["kind"] == "independent" and r["split"] == "test" and r["quantity"] == "error"
    ]
    by_variant = {(r["aligned"], r["barrier"]): r["mean"] for r in rows}
    assert by_variant[("activation", "endpoint_mean")] == err
    assert (
        by_variant[("", "endpoint_mean")]
        == (final["barrier"]["test"]["error_barrier"]["endpoint_mean"])
    )
    markdown = [line for line in _summary_table(typed) if "aligned (activation matching)" in line]
    assert [line.split(" | ")[1] for line in markdown] == [f"{100 * err5:.2f}", f"{100 * err:.2f}"]
    path = figures.instability(typed, tmp_path / "instability.png")
    assert matplotlib.image.imread(path).shape[0] > 100


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        (["probe.align=weights"], ["probe.align='weights'", "null (off) or one of weight"]),
        (["probe.align=weight", "probe.align_spawned=maybe"], ["probe.align_spawned='maybe'"]),
    ],
)
def test_bad_align_settings_are_rejected_before_compute(overrides, fragments):
    with pytest.raises(ConfigError) as info:
        validate_config(compose_cfg(*overrides))
    for fragment in fragments:
        assert fragment in str(info.value)


def layernorm_mlp(input_shape, num_classes) -> nn.Sequential:
    """A user's own model with a module that has no permutation rule (LayerNorm)."""
    width = math.prod(input_shape)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(width, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, num_classes)
    )


def test_a_model_without_permutation_rules_is_named_before_compute():
    cfg = compose_cfg("probe.align=weight")
    with open_dict(cfg):
        cfg.model = OmegaConf.create(
            {
                "_target_": f"{__name__}.layernorm_mlp",
                "input_shape": "${data.input_shape}",
                "num_classes": "${data.num_classes}",
            }
        )
    shipped = compose_cfg("probe.align=weight")
    check_model(shipped, read_settings(shipped))  # the shipped MLP passes
    with pytest.raises(ConfigError) as info:
        check_model(cfg, read_settings(cfg))
    message = str(info.value)
    assert message.startswith("probe.align='weight' is not valid: null for model")
    assert "module '2' (LayerNorm)" in message
