"""Faults: divergence, NaN probes, truncated checkpoints, kills mid-write, re-runs into a run dir.

Through the console script where a user meets them (a diverging run, a finished run dir run
again, a run dir refused before training); in-process for the mechanisms. Three damaged run
dirs (a torn records line, a truncated checkpoint, a deleted parent checkpoint) are refused by
the console script's entry point in one interpreter (helpers/train_batch.py); a re-run with
another config is refused by a ridgeline-train process.
"""

import json
import math
import re
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from helpers.cli import run_train, run_train_batch, train_ok
from ridgeline.errors import RidgelineError, TrainingDiverged
from ridgeline.job.run_dir import _first_difference
from ridgeline.store.record_store import RecordStore

# A small complete job: parent, children at 0 and 10, independent children, barrier probes
# (on few examples and α: no test reads their values).
FAST = [
    "debug=fast",
    "logger=none",
    "summary=false",
    "~probe.layerwise",
    "~probe.curvature",
    "~probe.geometry",
    "probe.alphas=[0,0.5,1]",
    "probe.profile_alphas=[0,0.5,1]",
    "data.eval_train_size=50",
    "data.eval_test_size=50",
    "checkpoint_every_n_steps=10",
    "threads=1",
]
PHASES = ("spawn_k=0000000", "spawn_k=0000010", "independent")


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def assert_whole_files(root: Path) -> None:
    """No temporary file left; every checkpoint loads with finite weights; JSON parses."""
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")]
    for path in root.rglob("*.ckpt"):
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        for key, value in ckpt["state_dict"].items():
            if value.is_floating_point():
                assert torch.isfinite(value).all(), f"{path}: {key} is not finite"
    for path in root.rglob("*.json"):
        json.loads(path.read_text())
    for path in root.rglob("*.jsonl"):
        RecordStore(path).read()


def no_traceback(result) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-3000:]


# --- a finished run, run again --------------------------------------------------------------
@pytest.fixture(scope="module")
def finished(tiny_run_factory) -> Path:
    job = tiny_run_factory("finished", *FAST, env={"OMP_NUM_THREADS": "2"})  # threads=1 must win
    cwd = job.cwd
    for phase in PHASES:
        assert (cwd / "run" / phase / "done.json").exists()
        assert (cwd / "run" / phase / "checkpoints" / "last.ckpt").exists()
    assert_whole_files(cwd)
    return cwd


@pytest.fixture
def copy_of(finished, tmp_path) -> Path:
    """A copy of the finished project dir (run dir and parent store) to damage."""
    cwd = tmp_path / "copy"
    shutil.copytree(finished, cwd)
    return cwd


@pytest.mark.slow  # uses a ridgeline-train run (a process)
def test_rerun_into_a_finished_run_dir_trains_nothing_and_says_so(copy_of):
    before = files(copy_of)
    result = train_ok(copy_of, *FAST)
    assert "ridgeline: note: the run dir" in result.stderr
    assert "already holds a finished run" in result.stderr
    assert "nothing is trained again" in result.stderr
    for phase in PHASES:
        assert f"phase {phase} already finished; skipping" in result.stdout
    assert "found in the store" in result.stdout
    assert "Trainer.fit" not in result.stdout + result.stderr
    after = files(copy_of)
    for name, content in before.items():
        if name.endswith(".ckpt") or name.endswith("done.json"):
            assert after[name] == content, f"{name} was rewritten"
    old, new = (yaml.safe_load(d["run/config.yaml"]) for d in (before, after))
    assert _first_difference(old, new) is None  # only paths differ: the copy lives elsewhere
    name = "run/landscape/records.jsonl"  # the same records; the parent's may move to the end
    assert sorted(after[name].splitlines()) == sorted(before[name].splitlines())
    assert_whole_files(copy_of)


@pytest.mark.slow  # uses a ridgeline-train run (a process)
def test_the_environment_is_in_config_yaml_and_every_record(finished):
    import pytorch_lightning

    env = yaml.safe_load((finished / "run" / "config.yaml").read_text())["environment"]
    assert env["threads"] == 1  # the threads key, not the OMP_NUM_THREADS=2 it started with
    assert env["torch"] == torch.__version__
    assert env["pytorch_lightning"] == pytorch_lightning.__version__
    assert env["device"] == "cpu" and env["deterministic_algorithms"] is False
    records = RecordStore(finished / "run" / "landscape" / "records.jsonl").read()
    assert {r["phase"] for r in records} == {"parent", *PHASES}
    assert all(r["environment"] == env for r in records)


@pytest.mark.slow  # uses a ridgeline-train run (a process)
def test_rerun_with_another_config_is_refused(copy_of):
    before = files(copy_of)
    result = run_train(copy_of, *FAST, "optim.lr=0.05")
    assert result.returncode == 2
    no_traceback(result)
    assert "ridgeline: error: optim.lr=0.05 is not valid" in result.stderr
    assert "already holds a run with optim.lr=0.1" in result.stderr
    assert "Trainer.fit" not in result.stdout + result.stderr
    after = files(copy_of)
    changed = [n for n in before if after.get(n) != before[n] and not n.startswith("run/.hydra")]
    assert changed in ([], ["run/train.log"]), changed
    assert (copy_of / "run" / "config.yaml").read_bytes() == before["run/config.yaml"]


# --- a damaged run dir, run again: refused before training --------------------------------
def tear_a_records_line(cwd: Path) -> dict:
    (cwd / "run" / "independent" / "done.json").unlink()  # as if killed before the end
    records = cwd / "run" / "landscape" / "records.jsonl"
    lines = records.read_text().splitlines(keepends=True)
    lines[1] = lines[1][: len(lines[1]) // 2] + "\n"  # a torn line in the middle
    records.write_text("".join(lines))
    return {"records": records, "text": "".join(lines)}


def truncate_a_checkpoint(cwd: Path) -> dict:
    phase = cwd / "run" / "independent"
    (phase / "done.json").unlink()  # as if killed before the end
    last = phase / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])
    return {"last": last}


def delete_a_parent_checkpoint(cwd: Path) -> dict:
    (cwd / "run" / "spawn_k=0000010" / "done.json").unlink()
    (parent,) = (cwd / "outputs" / "parents").glob("*/done.json")
    missing = parent.parent / "spawn_points" / "step=0000010.ckpt"
    missing.unlink()
    return {"missing": missing, "parent": parent.parent}


DAMAGES = (tear_a_records_line, truncate_a_checkpoint, delete_a_parent_checkpoint)


@pytest.fixture(scope="module")
def refused(finished, tmp_path_factory) -> dict:
    """Each damage on its own copy of the finished project dir, then ``ridgeline-train *FAST``
    there, the three run by the console script's entry point in one interpreter:
    ``{damage name: (result, what the damage returned)}``. Each refusal exits 2 with no
    traceback, trains nothing and leaves every file as it was but Hydra's own (``.hydra``, the
    log)."""
    cases = []
    for damage in DAMAGES:
        cwd = tmp_path_factory.mktemp(damage.__name__) / "copy"
        shutil.copytree(finished, cwd)
        cases.append((cwd, damage(cwd), files(cwd)))
    results = run_train_batch([(cwd, FAST, {}) for cwd, _, _ in cases])
    out = {}
    for damage, (cwd, facts, before), result in zip(DAMAGES, cases, results, strict=True):
        assert result.returncode == 2, result.stderr[-3000:]
        no_traceback(result)
        assert "Trainer.fit" not in result.stdout + result.stderr
        after = files(cwd)
        changed = [
            n for n in before if after.get(n) != before[n] and not n.startswith("run/.hydra")
        ]
        assert changed in ([], ["run/train.log"]), (damage.__name__, changed)
        out[damage.__name__] = (result, facts)
    return out


@pytest.mark.slow  # uses a ridgeline-train run (a process)
def test_a_damaged_records_line_is_named_before_a_resume(refused):
    result, facts = refused["tear_a_records_line"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("ridgeline: error:")]
    assert errors == [
        f"ridgeline: error: {facts['records']} line 2 is damaged ({errors[0].split('(', 1)[1]}"
    ], result.stderr[-3000:]
    assert "delete line 2" in errors[0]
    assert facts["records"].read_text() == facts["text"]  # left for the user to repair


@pytest.mark.slow  # uses a ridgeline-train run (a process)
def test_truncated_checkpoint_is_named_before_training(refused):
    result, facts = refused["truncate_a_checkpoint"]
    last = facts["last"]
    assert f"ridgeline: error: checkpoint {last} is truncated or corrupt" in result.stderr
    assert "delete it and re-run" in result.stderr
    assert len(last.read_bytes()) == 1000  # left for the user to inspect


@pytest.mark.slow  # uses a ridgeline-train run (a process)
def test_missing_parent_checkpoint_is_named_before_training(refused):
    result, facts = refused["delete_a_parent_checkpoint"]
    missing, parent = facts["missing"], facts["parent"]
    assert f"ridgeline: error: parent checkpoint {missing} is missing" in result.stderr
    assert f"delete {parent} to train it again" in result.stderr


# --- a diverging run ------------------------------------------------------------------------
@pytest.mark.slow  # starts ridgeline-train
def test_diverging_run_stops_with_a_message_and_keeps_good_checkpoints(tmp_path):
    # checkpoint every step: a checkpoint after the step that broke the weights must not exist
    result = run_train(tmp_path, *FAST, "optim.lr=1e6", "checkpoint_every_n_steps=1")
    assert result.returncode == 2
    no_traceback(result)
    lines = [line for line in result.stderr.splitlines() if line.startswith("ridgeline: error:")]
    assert len(lines) == 1, result.stderr[-3000:]
    assert "non-finite" in lines[0] and "optim.lr" in lines[0]
    kept = re.search(r"The last good checkpoint is kept: (\S+) \(step (\d+)\)\.$", lines[0])
    assert kept, lines[0]  # which checkpoint, where, and the step it holds
    ckpt = torch.load(kept.group(1), map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == int(kept.group(2))  # the parent: no step offset
    checkpoints = list(tmp_path.rglob("*.ckpt"))
    assert any(p.name == "step=0000000.ckpt" for p in checkpoints), checkpoints
    assert_whole_files(tmp_path)  # every checkpoint present loads, with finite weights
    assert not list((tmp_path / "outputs" / "parents").glob("*/done.json"))
    assert (tmp_path / "run" / "config.yaml").exists()  # the run is kept for a look


# --- in-process: the mechanisms -------------------------------------------------------------
def test_replica_classifier_refuses_to_checkpoint_non_finite_weights():
    from ridgeline.training.module import ReplicaClassifier

    module = ReplicaClassifier([nn.Linear(3, 2)], optimizer=torch.optim.SGD, num_classes=2)
    module.on_save_checkpoint({})
    with torch.no_grad():
        module.replicas[0].weight[0, 0] = float("inf")
    with pytest.raises(TrainingDiverged, match="weights became non-finite.*replicas.0.weight"):
        module.on_save_checkpoint({})


def test_non_finite_loss_stops_training_at_the_next_logging_step():
    import pytorch_lightning as pl

    from ridgeline.training.module import ReplicaClassifier

    model = nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.fill_(float("nan"))
    module = ReplicaClassifier([model], optimizer=torch.optim.SGD, num_classes=2)
    x, y = torch.ones(8, 1, 4, 3), torch.zeros(8, 1, 4, dtype=torch.long)  # 8 steps of [N=1, B=4]
    batches = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=None)
    trainer = pl.Trainer(
        accelerator="cpu",
        max_steps=8,
        log_every_n_steps=3,  # the flag is read (a host sync) on logging steps only
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    with pytest.raises(TrainingDiverged, match="after step 0 and by step 2.*lower optim.lr"):
        trainer.fit(module, train_dataloaders=batches)
    assert trainer.global_step == 2  # steps 0 and 1 ran without reading the flag


def test_probe_on_a_nan_model_records_null_and_a_flag(tmp_path):
    from ridgeline.landscape import Evaluator, layer_groups, state_of
    from ridgeline.probes import BarrierProbe, ProbeContext

    torch.manual_seed(0)
    good = nn.Sequential(nn.Flatten(), nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    bad = nn.Sequential(nn.Flatten(), nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    with torch.no_grad():
        bad[3].weight.fill_(float("nan"))
    x, y = torch.randn(20, 6), torch.randint(0, 3, (20,))
    ctx = ProbeContext(
        template=good,
        states=[state_of(good), state_of(bad)],
        spawn_state=None,
        evaluators={"test": Evaluator(good, x, y, chunk_size=8, bn_policy="reset")},
        groups=[g for g in layer_groups(good) if g.param_names],
        alphas=[0.0, 0.5, 1.0],
        profile_alphas=[0.0, 1.0],
        reduce=None,
    )
    record = {"phase": "p", "probe": "pair", "step": 3, "pair": [0, 1]}
    record["barrier"] = BarrierProbe().compute(ctx, 0, 1)
    store = RecordStore(tmp_path / "records.jsonl")
    store.append([record])
    text = store.path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    (back,) = store.read()
    curve = back["barrier"]["test"]
    assert curve["loss"][-1] is None and curve["loss_barrier"]["midpoint"] is None
    assert {"loss[2]", "loss_barrier.midpoint"} <= set(curve["non_finite"])
    assert curve["error"][-1] is not None  # the error rate of a NaN model is still a number


def test_record_store_writes_non_finite_as_null_plus_flag(tmp_path):
    store = RecordStore(tmp_path / "records.jsonl")
    nan, inf = float("nan"), float("inf")
    store.append(
        [
            {
                "phase": "p",
                "probe": "pair",
                "step": 0,
                "pair": [0, 1],
                "barrier": {"loss": [0.5, nan], "midpoint": inf},
                "ok": 1.0,
            }
        ]
    )
    assert "NaN" not in store.path.read_text() and "Infinity" not in store.path.read_text()
    (back,) = store.read()
    assert back["barrier"] == {"loss": [0.5, None], "midpoint": None} and back["ok"] == 1.0
    assert back["non_finite"] == ["barrier.loss[1]", "barrier.midpoint"]
    assert math.isfinite(back["ok"])


def test_load_checkpoint_names_a_truncated_or_missing_file(tmp_path):
    from ridgeline.store.checkpoints import load_checkpoint

    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": {"w": torch.ones(100)}}, path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(RidgelineError, match=f"checkpoint {path} is truncated or corrupt"):
        load_checkpoint(path)
    with pytest.raises(RidgelineError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.ckpt")


def test_atomic_checkpoint_io_leaves_the_old_file_when_killed_mid_write(tmp_path, monkeypatch):
    from ridgeline.store.checkpoints import AtomicCheckpointIO

    io, path = AtomicCheckpointIO(), tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"step": 1}, path)
    good = path.read_bytes()

    def dying_save(obj, f, *args, **kwargs):
        if isinstance(f, (str, Path)):
            Path(f).write_bytes(b"partial")
        else:
            f.write(b"partial")
        raise KeyboardInterrupt  # a kill in the middle of writing

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": 2}, path)
    assert path.read_bytes() == good
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]


def test_a_ridgeline_error_in_a_ddp_worker_becomes_one_line():
    from torch.multiprocessing import ProcessRaisedException

    from ridgeline.errors import user_error_message

    trace = (
        "\n\n-- Process 1 terminated with the following error:\n"
        "Traceback (most recent call last):\n"
        '  File "module.py", line 70, in training_step\n'
        "ridgeline.errors.TrainingDiverged: training loss became non-finite at step 7 (...)\n"
    )
    message = user_error_message(ProcessRaisedException(trace, 1, 1234))
    assert message == "training loss became non-finite at step 7 (...)"
    assert user_error_message(TrainingDiverged("x")) == "x"
    assert user_error_message(ValueError("ridgeline.nope.Error: y")) is None
    assert user_error_message(RuntimeError("boom")) is None
