"""Bad input that used to hang, crash after training or exit 0: one ConfigError naming the key,
the value and the fix, before compute (issue 31). In-process on composed configs, plus a few
cases through the console script (marked slow)."""

import math
import os
import re
import subprocess
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from helpers.cli import TRAIN, run_train
from helpers.compose import compose_groups
from helpers.sweep import sweep_refused
from ridgeline.config.env import (
    MASTER_ADDR_ENV,
    RENDEZVOUS_ENV,
    RENDEZVOUS_SECONDS,
    ROOT_ENV,
    check_env,
    rendezvous_seconds,
)
from ridgeline.config.precheck import check_schema
from ridgeline.config.resolvers import register_resolvers
from ridgeline.errors import ConfigError
from ridgeline.job.model_check import check_model_and_data
from ridgeline.job.validate import validate_config
from ridgeline.store.layout import remove_stale_temps

register_resolvers()
TESTS = str(Path(__file__).resolve().parents[1])


def refused(*overrides: str) -> ConfigError:
    """The ConfigError of the checks before training (config, then model and data)."""
    cfg = compose_groups(*overrides)
    with pytest.raises(ConfigError) as info:
        check_schema(cfg, list(overrides))
        plan = validate_config(cfg)
        check_model_and_data(cfg, plan.settings, instantiate(cfg.data))
    return info.value


# --- 1. a plane whose cost is absurd, and its margin ---------------------------------------
@pytest.mark.parametrize("resolution", [1, 0, 102, 1000, 100000])
def test_plane_resolution_is_bounded_and_the_refusal_states_the_cost(resolution):
    error = refused(f"probe.geometry.plane_resolution={resolution}")
    assert error.key == "probe.geometry.plane_resolution" and error.value == resolution
    assert "from 2 to 101" in error.allowed
    if resolution >= 2:  # the cost: resolution² + 3 parameter sets
        assert f"{resolution**2 + 3:,} parameter sets" in error.allowed


def test_the_largest_plane_allowed_is_accepted():
    validate_config(compose_groups("probe.geometry.plane_resolution=101"))


@pytest.mark.parametrize("margin", ["nan", "inf", "-inf", "-0.1"])
def test_plane_margin_must_be_finite_and_non_negative(margin):
    error = refused(f"probe.geometry.plane_margin={margin}")
    assert error.key == "probe.geometry.plane_margin" and "finite number >= 0" in error.allowed
    assert str(error.value) == str(float(margin)) or math.isnan(error.value)


# --- 5. a string where a component wants a number: the key, not the class and a TypeError ---
@pytest.mark.parametrize(
    "override,key,allowed",
    [
        ("probe.geometry.plane_resolution=abc", "probe.geometry.plane_resolution", "an integer"),
        ("probe.geometry.plane_margin=wide", "probe.geometry.plane_margin", "a number"),
        ("probe.barrier.ridge=maybe", "probe.barrier.ridge", "true or false"),
    ],
)
def test_a_wrongly_typed_component_option_names_its_key(override, key, allowed):
    error = refused(override)
    assert (error.key, error.allowed) == (key, allowed)
    assert "TypeError" not in str(error) and "GeometryProbe" not in str(error)


# --- 4. ridge_splits, and options of a component that is switched off ---------------------
@pytest.mark.parametrize(
    "overrides,value",
    [
        (["probe.barrier.ridge_splits=[val]"], ["val"]),
        (["probe.barrier.ridge_splits=testtrain"], "testtrain"),  # was matched by substring
        (["probe.barrier.ridge_splits=[]"], []),
        (["probe.splits=[test]", "probe.barrier.ridge_splits=[train]"], ["train"]),
        (["probe.barrier.splits=[test]", "probe.barrier.ridge_splits=[test,train]"], None),
    ],
)
def test_ridge_splits_are_drawn_from_the_components_splits(overrides, value):
    error = refused(*overrides)
    assert error.key == "probe.barrier.ridge_splits"
    if value is not None:
        assert error.value == value
    assert "null (every split of the component) or a non-empty list" in error.allowed


def test_valid_ridge_splits_are_accepted():
    validate_config(compose_groups("probe.barrier.ridge_splits=[test]"))
    validate_config(
        compose_groups("probe.barrier.splits=[train]", "probe.barrier.ridge_splits=[train]")
    )


@pytest.mark.parametrize(
    "overrides,key",
    [
        (["~probe.geometry", "probe.geometry.plane=all"], "probe.geometry.plane"),
        (["~probe.curvature", "probe.curvature.gauss_newton=true"], "probe.curvature.gauss_newton"),
        (["~probe.barrier", "probe.barrier.ridge_splits=[test]"], "probe.barrier.ridge_splits"),
        (["probe=barrier_only", "probe.layerwise.curve=true"], "probe.layerwise.curve"),
    ],
)
def test_an_option_of_a_switched_off_component_is_refused(overrides, key):
    error = refused(*overrides)
    assert error.key == key and "is switched off" in error.allowed and "drop it" in error.allowed


def test_a_preset_may_still_set_options_of_a_component_it_switched_off():
    cfg = compose_groups("probe=barrier_only")
    check_schema(cfg, ["probe=barrier_only"])  # no option typed for the switched-off ones


# --- 2. RIDGELINE_RENDEZVOUS_TIMEOUT --------------------------------------------------------
@pytest.mark.parametrize("raw", ["abc", "", " ", "nan", "inf", "-inf", "0", "-5", "1e300"])
def test_a_bad_rendezvous_timeout_is_one_config_error(monkeypatch, raw):
    monkeypatch.setenv(RENDEZVOUS_ENV, raw)
    with pytest.raises(ConfigError) as info:
        rendezvous_seconds()
    assert info.value.key == RENDEZVOUS_ENV and info.value.value == raw
    assert "a number of seconds > 0" in info.value.allowed


def test_a_good_rendezvous_timeout_is_read(monkeypatch):
    monkeypatch.delenv(RENDEZVOUS_ENV, raising=False)
    assert rendezvous_seconds() == RENDEZVOUS_SECONDS == 300.0
    monkeypatch.setenv(RENDEZVOUS_ENV, "2.5")
    assert rendezvous_seconds() == 2.5


@pytest.mark.parametrize("raw", ["", "  "])
def test_an_empty_ridgeline_root_is_refused(monkeypatch, raw):
    monkeypatch.setenv(ROOT_ENV, raw)
    with pytest.raises(ConfigError) as info:
        check_env()
    assert info.value.key == ROOT_ENV and "a project directory" in info.value.allowed


@pytest.mark.parametrize("raw", ["", "no-such-host.invalid", "bad host name"])
def test_an_unresolvable_master_addr_is_refused(monkeypatch, raw):
    monkeypatch.setenv(MASTER_ADDR_ENV, raw)
    with pytest.raises(ConfigError) as info:
        check_env()
    assert info.value.key == MASTER_ADDR_ENV and info.value.value == raw


@pytest.mark.parametrize("raw", ["localhost", "127.0.0.1"])
def test_a_resolvable_master_addr_is_accepted(monkeypatch, raw):
    monkeypatch.setenv(MASTER_ADDR_ENV, raw)
    check_env()


# --- 8. temp files of a killed write are removed on resume ----------------------------------
def test_stale_temp_files_of_a_killed_write_are_removed(tmp_path):
    checkpoints = tmp_path / "children_k=0" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "last.ckpt").write_text("the whole old file")
    stale = [checkpoints / ".last.ckpt.4242.tmp", tmp_path / ".records.jsonl.17.tmp"]
    own = tmp_path / f".config.yaml.{os.getpid()}.tmp"  # a write of this process, under way
    kept = [checkpoints / "last.ckpt", own, tmp_path / ".notes.tmp", tmp_path / "a.7.tmp"]
    for path in stale + kept[1:]:
        path.write_text("partial")
    assert sorted(remove_stale_temps(tmp_path)) == sorted(stale)
    assert all(p.exists() for p in kept) and not any(p.exists() for p in stale)
    assert remove_stale_temps(tmp_path / "missing") == []


# --- 3. user models and data modules on a real batch ----------------------------------------
SYNTHETIC = ["data=synthetic", "data.n_train=64", "data.n_test=32"]


def test_a_model_with_a_fixed_batch_size_is_refused_before_training():
    error = refused(*SYNTHETIC, "model._target_=helpers.user_code.fixed_batch")
    assert error.key == "model" and error.value == "helpers.user_code.fixed_batch"
    assert "gives [2, 4], not [3, 4]" in error.allowed


def test_a_model_without_forward_mode_ad_is_refused_naming_the_module():
    error = refused(*SYNTHETIC, "model._target_=helpers.user_code.custom_function_mlp")
    assert error.key == "model" and "forward-mode AD" in error.allowed
    assert "module 2 (CustomRelu)" in error.allowed and "setup_context" in error.allowed


def test_a_model_without_forward_mode_ad_is_fine_when_no_probe_differentiates():
    cfg = compose_groups(
        *SYNTHETIC,
        "model._target_=helpers.user_code.custom_function_mlp",
        "~probe.curvature",
        "probe.barrier.ridge=false",
    )
    plan = validate_config(cfg)
    check_model_and_data(cfg, plan.settings, instantiate(cfg.data))


def test_a_one_class_data_module_is_refused():
    error = refused(*SYNTHETIC, "data._target_=helpers.user_code.OneClassSynthetic")
    assert error.key == "data" and "at least 2 classes" in error.allowed
    assert "only class 0" in error.allowed


def test_non_finite_test_inputs_are_warned_about_once(capsys):
    cfg = compose_groups(*SYNTHETIC)
    plan = validate_config(cfg)
    datamodule = instantiate(cfg.data)
    train_x, train_y, test_x, test_y = datamodule.loaded()
    test_x[[1, 5, 7]] = torch.nan
    test_x[9, ..., 0] = torch.inf
    check_model_and_data(cfg, plan.settings, datamodule)
    warnings = [l for l in capsys.readouterr().err.splitlines() if "warning" in l]
    assert len(warnings) == 1, warnings
    assert "4 of 32 synthetic test examples have NaN or inf inputs" in warnings[0]


# --- through the console script -------------------------------------------------------------
def _one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("ridgeline:")]
    assert len(lines) == 1 and lines[0].startswith("ridgeline: error: "), result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("raw", ["abc", "", "nan", "inf", "0", "-5"])
def test_a_bad_rendezvous_timeout_leaves_nothing(tmp_path, raw):
    result = run_train(
        tmp_path, "logger=none", "trainer=ddp_sim", env={RENDEZVOUS_ENV: raw}, timeout=180
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"{RENDEZVOUS_ENV}={raw!r} is not valid" in _one_error_line(result)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_an_unresolvable_master_addr_leaves_nothing(tmp_path):
    result = run_train(
        tmp_path, "logger=none", "trainer=ddp_sim", env={MASTER_ADDR_ENV: "no-such-host.invalid"}
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"{MASTER_ADDR_ENV}='no-such-host.invalid' is not valid" in _one_error_line(result)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_an_empty_ridgeline_root_leaves_nothing(tmp_path):
    result = run_train(tmp_path, "logger=none", env={ROOT_ENV: ""}, timeout=180)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"{ROOT_ENV}='' is not valid" in _one_error_line(result)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_user_model_without_forward_mode_leaves_no_parent_store(tmp_path):
    result = run_train(
        tmp_path,
        "logger=none",
        "data=synthetic",
        "model._target_=helpers.user_code.custom_function_mlp",
        env={"PYTHONPATH": TESTS + os.pathsep + os.environ.get("PYTHONPATH", "")},
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "module 2 (CustomRelu)" in _one_error_line(result)
    assert list(tmp_path.iterdir()) == []  # neither the run dir nor the parent store


@pytest.mark.slow
@pytest.mark.parametrize("override", ["probe.bn_policy=foo", "spawn.at=[1.5]"])
def test_a_schema_error_comes_before_torch_is_imported(tmp_path, override):
    """Python's import log (PYTHONPROFILEIMPORTTIME) shows neither torch nor Lightning."""
    result = run_train(tmp_path, override, env={"PYTHONPROFILEIMPORTTIME": "1"}, timeout=180)
    assert result.returncode == 2, result.stderr[-2000:]
    _one_error_line(result)
    imported = set(re.findall(r"^import time:.*\|\s+(\S+)$", result.stderr, re.M))
    assert "hydra" in imported and "torch" not in imported
    assert "pytorch_lightning" not in imported
    assert list(tmp_path.iterdir()) == []


# --- 6. a sweep is checked whole before its first job ---------------------------------------
# One sweep through the console script: Hydra calls the check (the callback CheckSweep) before
# the launcher starts anything, and nothing is written. Every rule the check applies to a later
# job (schema, cross-key, build time), and a sweep of no job, in-process below: each is the
# same callback and the same one line and exit 2; only the rule that fires differs.
@pytest.mark.slow
def test_an_invalid_later_job_stops_the_sweep_before_any_job_starts(tmp_path):
    result = subprocess.run(
        [TRAIN, "-m", "print_config=false", "logger=none", "probe.geometry.plane_resolution=11,0"],
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    line = _one_error_line(result)
    assert line.startswith("ridgeline: error: sweep job 1 ("), line
    assert "probe.geometry.plane_resolution=0 is not" in line, line
    assert "Trainer.fit" not in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []  # no sweep dir, no multirun.yaml, no parent store


@pytest.mark.parametrize(
    "sweep,job,fragment",
    [
        # a build-time check (the probe built from the job's config)
        ("probe.geometry.plane_resolution=11,0", 1, "probe.geometry.plane_resolution=0 is not"),
        ("spawn.at=[0],[5000]", 1, "spawn.at=[5000] is not valid"),  # a cross-key rule
        ("probe.eval_path=loop,fast", 1, "probe.eval_path='fast' is not valid"),  # the schema
        ("model.name=cnn,nosuch", 1, "model.name='nosuch' is not valid"),  # the model's build
    ],
)
def test_each_rule_stops_a_sweep_at_its_job_before_any_job_starts(
    tmp_path, monkeypatch, capsys, sweep, job, fragment
):
    monkeypatch.chdir(tmp_path)
    line = sweep_refused(capsys, "print_config=false", "logger=none", sweep)
    assert line.startswith(f"ridgeline: error: sweep job {job} (") and fragment in line, line
    assert line.endswith("no job was started"), line
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_of_no_job_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    line = sweep_refused(capsys, "print_config=false", "logger=none", "seed=range(0)")
    assert "a sweep of at least one job" in line, line
    assert list(tmp_path.iterdir()) == []


# --- 7. the schema's choices read without importing the landscape core ---------------------
def test_choices_read_from_source_equal_the_imported_ones():
    import importlib
    from dataclasses import fields

    from ridgeline.config.kept import kept_choices
    from ridgeline.config.schema import GROUP_SCHEMAS

    lazy = {
        f.metadata["allowed"].choices
        for schema in GROUP_SCHEMAS.values()
        for f in fields(schema)
        if f.metadata.get("allowed") is not None and isinstance(f.metadata["allowed"].choices, str)
    }
    assert len(lazy) >= 4
    for spec in lazy:
        module, _, name = spec.partition(":")
        imported = tuple(
            getattr(c, "value", c) for c in getattr(importlib.import_module(module), name)
        )
        assert kept_choices(module, name) == imported, spec
