"""Damaged files and unwritable outputs: one line naming the file (and line), exit 2, nothing
written. ``ridgeline-report`` and ``ridgeline-collect`` in-process on synthetic run dirs; the
checks ``ridgeline-train`` runs before it resumes a run, on composed configs.
"""

import json
from pathlib import Path

import pytest

from helpers.records import make_run
from ridgeline.cli.collect import main as collect_main
from ridgeline.cli.report import main as report_main
from ridgeline.errors import ConfigError, RidgelineError
from ridgeline.store.record_store import RecordStore

CLIS = {"report": report_main, "collect": collect_main}


def run_cli(name: str, run: Path, capsys, *args: str) -> tuple[int, str]:
    code = CLIS[name]([str(run), *args])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) <= 1, err
    return code, err.strip()


def outputs(run: Path) -> list[Path]:
    return [p for p in (run / "report", run / "sweep.csv") if p.exists()]


def damage_line(path: Path, number: int, text: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    lines[number - 1] = text
    path.write_text("".join(lines))


@pytest.mark.parametrize("cli", sorted(CLIS))
@pytest.mark.parametrize(
    "line,text,reason",
    [
        (3, "garbage\n", "Expecting value"),
        (2, "[1, 2]\n", "not a JSON object"),
        (-1, '{"phase": "independent", "probe": "pa', "Unterminated string"),  # torn last line
        (4, "\xff\xfe\n", "Expecting value"),
    ],
    ids=["garbage", "not an object", "torn last line", "binary"],
)
def test_a_damaged_records_line_is_named(tmp_path, capsys, cli, line, text, reason):
    run = make_run(tmp_path / "run")
    records = run / "landscape" / "records.jsonl"
    n_lines = len(records.read_text().splitlines())
    number = n_lines if line == -1 else line
    damage_line(records, number, text)
    code, err = run_cli(cli, run, capsys)
    assert code == 2
    assert f"error: {records} line {number} is damaged ({reason}" in err
    assert f"delete line {number}" in err
    assert outputs(run) == []


@pytest.mark.parametrize("cli", sorted(CLIS))
def test_a_damaged_config_yaml_is_named_with_its_line(tmp_path, capsys, cli):
    run = make_run(tmp_path / "run")
    config = run / "config.yaml"
    text = config.read_text().splitlines()
    config.write_text("\n".join([*text[:3], "seed: [0, 1", *text[3:]]))
    code, err = run_cli(cli, run, capsys)
    assert code == 2
    assert f"error: {config} is damaged at line " in err and "ParserError" in err
    assert outputs(run) == []


@pytest.mark.parametrize("cli", sorted(CLIS))
def test_a_config_yaml_that_is_not_a_mapping_is_named(tmp_path, capsys, cli):
    run = make_run(tmp_path / "run")
    (run / "config.yaml").write_text("just some words\n")
    code, err = run_cli(cli, run, capsys)
    assert code == 2 and f"{run / 'config.yaml'} is damaged: not a YAML dict" in err


@pytest.mark.parametrize("cli", sorted(CLIS))
def test_an_empty_records_file_is_an_error(tmp_path, capsys, cli):
    run = make_run(tmp_path / "run")
    (run / "landscape" / "records.jsonl").write_text("")
    code, err = run_cli(cli, run, capsys)
    assert code == 2
    assert f"no probe records in {run / 'landscape' / 'records.jsonl'} (empty)" in err
    assert outputs(run) == []


@pytest.mark.parametrize("cli", sorted(CLIS))
def test_an_unwritable_out_is_one_line(tmp_path, capsys, cli):
    run = make_run(tmp_path / "run")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    out = blocker / "report" if cli == "report" else blocker / "sweep.csv"
    code, err = run_cli(cli, run, capsys, "--out", str(out))
    assert code == 2
    assert str(blocker) in err and "--out" in err
    assert "error: cannot write" in err or f"{blocker} is a file where a directory belongs" in err


def test_record_store_read_names_file_and_line(tmp_path):
    store = RecordStore(tmp_path / "records.jsonl")
    store.append([{"phase": "p", "probe": "pair", "step": s, "pair": [0, 1]} for s in range(3)])
    assert [r["step"] for r in store.read()] == [0, 1, 2]
    damage_line(store.path, 2, '{"phase": "p", "step": 1,,}\n')
    with pytest.raises(RidgelineError, match=r"records.jsonl line 2 is damaged \(Expecting"):
        store.read()


# --- the checks before ridgeline-train resumes a run dir ------------------------------------
@pytest.fixture
def resumed(tmp_path):
    """A composed config and a run dir holding its config.yaml and one probe record."""
    from omegaconf import OmegaConf

    from helpers.compose import compose_groups as compose_cfg

    cfg = compose_cfg(f"paths.parent_dir={tmp_path / 'parents'}")
    run = tmp_path / "run"
    run.mkdir()
    resolved = {
        k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
        for k, v in cfg.items()
        if k != "hydra"
    }
    (run / "config.yaml").write_text(OmegaConf.to_yaml(resolved))
    RecordStore(run / "landscape" / "records.jsonl").append(
        [{"phase": "independent", "probe": "pair", "step": 0, "pair": [0, 1]}]
    )
    return cfg, run


def validate_run_dir(cfg, run):
    from ridgeline.job.plan import make_plan
    from ridgeline.job.run_dir import check_run_dir

    check_run_dir(cfg, make_plan(cfg), run)


def validate_writable(cfg, run):
    from ridgeline.job.plan import make_plan
    from ridgeline.job.run_dir import check_writable_dirs

    check_writable_dirs(make_plan(cfg), run)


def test_resume_names_a_damaged_config_yaml(resumed):
    cfg, run = resumed
    validate_run_dir(cfg, run)  # whole files pass
    text = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(text[:200] + "\n  - [unclosed\nseed: 0\n")
    with pytest.raises(RidgelineError) as info:
        validate_run_dir(cfg, run)
    assert f"{run / 'config.yaml'} is damaged at line " in str(info.value)
    assert "choose a new hydra.run.dir" in str(info.value)


def test_resume_names_a_damaged_records_line(resumed):
    cfg, run = resumed
    records = run / "landscape" / "records.jsonl"
    records.write_text(records.read_text() + json.dumps({"step": 1})[:7] + "\n")
    with pytest.raises(RidgelineError, match=f"{records} line 2 is damaged"):
        validate_run_dir(cfg, run)


@pytest.mark.parametrize(
    "blocked,key",
    [
        ("parents", "paths.parent_dir"),  # the store itself
        ("store_file", "paths.parent_dir"),  # where the store would be created
        ("run/landscape", "hydra.run.dir"),
        ("run/figures", "hydra.run.dir"),
    ],
)
def test_unwritable_run_dir_or_parent_store_is_named(resumed, tmp_path, blocked, key):
    import shutil

    from omegaconf import open_dict

    cfg, run = resumed
    validate_writable(cfg, run)
    path = tmp_path / blocked
    shutil.rmtree(path, ignore_errors=True)
    path.write_text("a file where a directory should be")
    if blocked == "store_file":
        with open_dict(cfg):
            cfg.paths.parent_dir = str(path / "parents")
    with pytest.raises(ConfigError) as info:
        validate_writable(cfg, run)
    message = str(info.value)
    assert message.startswith(f"{key}=") and "a directory this job can write" in message
    assert f"{path} is a file, not a directory" in message


# --- a directory where a file belongs, or the reverse ----------------------------------------
@pytest.mark.parametrize("cli", sorted(CLIS))
@pytest.mark.parametrize("where", ["landscape/records.jsonl", "config.yaml"])
def test_a_directory_where_an_input_file_belongs_is_one_line(tmp_path, capsys, cli, where):
    run = make_run(tmp_path / "run")
    (run / where).unlink()
    (run / where).mkdir()
    code, err = run_cli(cli, run, capsys)
    assert code == 2
    assert f"error: {run / where} is a directory where a file belongs; remove or rename it" in err
    assert outputs(run) == []


@pytest.mark.parametrize("cli", sorted(CLIS))
def test_a_file_given_for_the_run_dir_is_one_line(tmp_path, capsys, cli):
    given = tmp_path / "records.jsonl"
    given.write_text("{}\n")
    code, err = run_cli(cli, given, capsys)
    assert code == 2 and f"{given} is not a directory (give a run dir or a sweep dir)" in err
    assert sorted(tmp_path.iterdir()) == [given]


def test_report_out_that_is_a_file_is_one_line(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    out = tmp_path / "out"
    out.write_text("a file where the report directory should be")
    code, err = run_cli("report", run, capsys, "--out", str(out))
    assert code == 2
    assert f"{out} is a file where a directory belongs" in err and "(--out)" in err
    assert out.read_text().startswith("a file") and outputs(run) == []


def test_collect_out_that_is_a_directory_is_one_line(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    out = tmp_path / "sweep.csv"
    out.mkdir()
    code, err = run_cli("collect", run, capsys, "--out", str(out))
    assert code == 2
    assert f"{out} is a directory where a file belongs" in err and "--out" in err
    assert list(out.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == [
        "run",
        out.name,
    ]


def test_resume_names_a_record_that_is_json_but_not_a_probe_record(resumed):
    cfg, run = resumed
    records = run / "landscape" / "records.jsonl"
    records.write_text(records.read_text() + json.dumps({"probe": "pair", "step": 1}) + "\n")
    with pytest.raises(RidgelineError, match=f"{records} line 2 has no 'phase'"):
        validate_run_dir(cfg, run)
