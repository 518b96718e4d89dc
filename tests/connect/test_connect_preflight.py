"""ridgeline-connect refuses what cannot work before its first fit (one line, exit 2, nothing
written): a damaged or misplaced curves file, an output it cannot write, an unfinished phase, a
batch larger than the training set, an estimated cost above --max-hours. A diverged fit exits
non-zero with nothing written; a phase named twice is fitted once. In-process on copies of the
tiny run (tests/connect/conftest.py)."""

import json
import os
import shutil
from pathlib import Path

import pytest

import ridgeline.connect.fit as fit_module
from ridgeline.cli.connect import main
from ridgeline.connect import read_curves
from ridgeline.store.layout import RunLayout

pytestmark = pytest.mark.slow  # the tiny run is a ridgeline-train process

FAST = ["--steps", "3", "--points", "3", "--train-batches", "1"]


@pytest.fixture
def run_copy(tiny_run, tmp_path) -> Path:
    _, pristine = tiny_run
    return Path(shutil.copytree(pristine, tmp_path / "run"))


def files(run: Path) -> dict[str, bytes | None]:
    """Every file under the run dir with its bytes (None for a directory)."""
    return {
        str(p.relative_to(run)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(run.rglob("*"))
    }


def no_fit(*args, **kwargs):
    raise AssertionError("a fit started before the checks")


def damaged_line(run: Path) -> None:
    RunLayout(run).curves.write_text('{"phase": "independent", "probe": "curve/bezier/test"}\n')


def bad_json(run: Path) -> None:
    RunLayout(run).curves.write_text("{not json\n")


REFUSED = {
    # name: (how the run is damaged, extra arguments, fragments of the one line)
    "curves.jsonl is a directory": (
        lambda run: RunLayout(run).curves.mkdir(),
        [],
        ["curves.jsonl is a directory where a file belongs"],
    ),
    "curves.jsonl damaged": (bad_json, [], ["curves.jsonl line 1 is damaged (Expecting"]),
    "curves.jsonl line missing keys": (
        damaged_line,
        [],
        ["curves.jsonl line 1 is damaged: field phase_kind is missing", "delete line 1"],
    ),
    "figures is a file": (
        lambda run: RunLayout(run).figures.write_text("x"),
        [],
        ["figures is a file, not a directory"],
    ),
    "unfinished phase": (
        lambda run: RunLayout(run).phase("independent").done.unlink(),
        ["--phase", "independent"],
        ["--phase=independent", "unfinished", "last.ckpt is at step 30", "done.json"],
    ),
    "unfinished phase by default": (
        lambda run: RunLayout(run).phase("spawn_k=0000000").done.unlink(),
        [],
        ["--phase=spawn_k=0000000", "unfinished"],
    ),
    "batch larger than the training set": (
        lambda run: None,
        ["--batch-size", "100000"],
        ["--batch-size=100000", "the training set has", "use at most"],
    ),
    "cost above --max-hours": (
        lambda run: None,
        ["--max-hours", "1e-9"],
        ["--max-hours=1e-09", "2 fit(s) of 3 steps", "is estimated at", "raise --max-hours"],
    ),
    "--max-hours not positive": (lambda run: None, ["--max-hours", "0"], ["--max-hours=0.0"]),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_before_the_first_fit_with_nothing_written(run_copy, capsys, monkeypatch, case):
    damage, args, fragments = REFUSED[case]
    damage(run_copy)
    before = files(run_copy)
    monkeypatch.setattr(fit_module, "connect", no_fit)
    assert main([str(run_copy), *FAST, *args]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("ridgeline: error: "), err
    for fragment in fragments:
        assert fragment in err[0], err[0]
    assert files(run_copy) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_a_read_only_run_dir_is_refused_before_the_first_fit(run_copy, capsys, monkeypatch):
    landscape = RunLayout(run_copy).records.parent
    monkeypatch.setattr(fit_module, "connect", no_fit)
    landscape.chmod(0o555)
    try:
        assert main([str(run_copy), *FAST]) == 2
    finally:
        landscape.chmod(0o755)
    (err,) = capsys.readouterr().err.strip().splitlines()
    assert f"{landscape} is not writable" in err and not RunLayout(run_copy).curves.exists()


def test_a_diverged_fit_exits_non_zero_and_writes_nothing(run_copy, capsys):
    before = files(run_copy)
    code = main([str(run_copy), *FAST, "--phase", "independent", "--lr", "1e30"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("ridgeline: error: the fit of independent pair 0-1 diverged")
    assert "-> nan at --lr=1e+30" in err[-1] and "use a smaller --lr" in err[-1]
    assert files(run_copy) == before  # no NaN curve stored as a record, no bend, no figure


def test_a_phase_named_twice_is_fitted_once(run_copy, capsys):
    assert main([str(run_copy), *FAST, "--phase", "independent", "--phase", "independent"]) == 0
    err = capsys.readouterr().err
    assert err.count("independent pair 0-1: fitted") == 1
    assert "1 fit(s) of 3 steps x 1 t x" in err and "estimated" in err  # said before the fit
    lines = [json.loads(s) for s in RunLayout(run_copy).curves.read_text().splitlines()]
    assert [(d["phase"], d["pair"]) for d in lines] == [("independent", [0, 1])]
    assert [r.phase for r in read_curves(run_copy)] == ["independent"]
