"""What a run reads back, damaged or incomplete, is one line naming the file and the fix: a
saved config without a group (load_run), a truncated θ₀ of an unfinished phase (the checks
before ridgeline-train resumes), a user's preset that leaves out what its group requires."""

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from helpers.compose import compose_groups, compose_train
from ridgeline.config.settings import read_settings
from ridgeline.errors import ConfigError, RidgelineError
from ridgeline.job.plan import make_plan
from ridgeline.job.run_dir import check_run_dir
from ridgeline.store.layout import RunLayout
from ridgeline.store.record_store import RecordStore


@pytest.fixture
def saved(tmp_path):
    """A composed config and a run dir holding it as config.yaml, with one probe record."""
    cfg = compose_groups(f"paths.parent_dir={tmp_path / 'parents'}")
    run = tmp_path / "run"
    run.mkdir()
    resolved = {
        k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
        for k, v in cfg.items()
        if k != "hydra"
    }
    (run / "config.yaml").write_text(OmegaConf.to_yaml(resolved))
    RecordStore(RunLayout(run).records).append(
        [{"phase": "independent", "probe": "pair", "step": 0, "pair": [0, 1]}]
    )
    return cfg, run


@pytest.mark.parametrize("group", ["spawn", "data", "model"])
def test_load_run_on_a_config_without_a_group_is_one_line(saved, group):
    from ridgeline import load_run

    _, run = saved
    assert "independent" in load_run(run).phases  # the whole config loads
    config = OmegaConf.load(run / "config.yaml")
    del config[group]
    OmegaConf.save(config, run / "config.yaml")
    with pytest.raises(RidgelineError) as info:
        load_run(run)
    message = str(info.value)
    assert message.startswith(f"{run / 'config.yaml'} has no {group} group")
    assert "restore it" in message and "\n" not in message


def test_load_run_names_the_file_of_a_value_the_schema_refuses(saved):
    from ridgeline import load_run

    _, run = saved
    config = OmegaConf.load(run / "config.yaml")
    config.spawn.children = "two"
    OmegaConf.save(config, run / "config.yaml")
    with pytest.raises(RidgelineError) as info:
        load_run(run)
    assert str(info.value).startswith(f"{run / 'config.yaml'}: spawn.children='two' is not valid")


def _truncated_copy(path: Path, state: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("phase", ["parent", "independent"])
def test_a_truncated_theta0_of_an_unfinished_phase_stops_the_restart(saved, phase):
    cfg, run = saved
    plan = make_plan(cfg)
    layout = plan.parent if phase == "parent" else RunLayout(run).phase(phase)
    layout.checkpoints.mkdir(parents=True)
    torch.save({"w": torch.ones(3)}, layout.theta0)  # whole: the restart goes ahead
    check_run_dir(cfg, plan, run)
    _truncated_copy(layout.theta0, {"w": torch.ones(1000)})
    torch.save({"step": 20}, layout.last_checkpoint)
    with pytest.raises(RidgelineError) as info:
        check_run_dir(cfg, plan, run)
    message = str(info.value)
    assert message.startswith(f"checkpoint {layout.theta0} is truncated or corrupt")
    assert f"phase {phase}'s θ₀" in message and f"delete it and {layout.last_checkpoint}" in message
    assert "\n" not in message


def test_a_users_preset_that_empties_its_group_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "ridgeline_conf" / "data").mkdir(parents=True)
    (tmp_path / "ridgeline_conf" / "data" / "empty.yaml").write_text("")
    monkeypatch.chdir(tmp_path)
    cfg = compose_train("paths.root_dir=/tmp/r", "paths.output_dir=/tmp/r/run", "data=empty")
    with pytest.raises(ConfigError) as info:
        read_settings(cfg)
    message = str(info.value)
    assert message.startswith("data._target_='???' is not valid: a value is required")
    assert "the data preset sets none" in message and "\n" not in message
