"""The examples of docs/extending.md (docs/examples/, included into the page as they are) run:
the model builds through its config, the dataset loads, the probe component computes on a tiny
pair, the claim decides fabricated records; and one ridgeline-train job uses all four."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from hydra.utils import instantiate
from markdown_blocks import DOCS
from omegaconf import OmegaConf
from torch import nn

from helpers.cli import train_ok
from helpers.compose import compose_train
from helpers.records import pair_record
from ridgeline.config.builds import check_model
from ridgeline.config.settings import complete_data, read_settings
from ridgeline.landscape import Evaluator, state_of
from ridgeline.probes import list_probes
from ridgeline.probes.component import ProbeContext
from ridgeline.records.probe_record import ProbeRecord

EXAMPLES = DOCS / "examples"
FILES = [
    "my_model.py",
    "ridgeline_conf/model/my_model.yaml",
    "my_dataset.py",
    "ridgeline_conf/data/my_dataset.yaml",
    "my_probe.py",
    "ridgeline_conf/probe/my_probe.yaml",
    "my_claim.py",
    "ridgeline_conf/experiment/ridge_sign.yaml",
]


@pytest.fixture(autouse=True)
def examples_project(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/examples as a user's project: its modules importable, its ridgeline_conf searched."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("RIDGELINE_CONFIG_DIR", str(EXAMPLES / "ridgeline_conf"))


def test_the_page_includes_every_example_file_and_the_files_exist():
    page = (DOCS / "extending.md").read_text()
    for name in FILES:
        assert (EXAMPLES / name).is_file(), name
        assert f"```{{literalinclude}} examples/{name}\n" in page, name


def test_the_model_builds_through_its_config_and_passes_validation():
    cfg = compose_train("model=my_model", job=True)  # on mnist_mini: 1×28×28, 10 classes
    check_model(cfg, read_settings(cfg))
    model = instantiate(cfg.model)
    assert [n for n, _ in model.named_children()] == ["flatten", "fc1", "act", "fc2"]
    assert sum(p.numel() for p in model.parameters()) == 784 * 32 + 32 + 32 * 10 + 10
    assert model(torch.zeros(5, 1, 28, 28)).shape == (5, 10)


def test_the_dataset_loads_rings_of_radius_class_plus_one():
    shipped = compose_train(job=True)
    before = OmegaConf.to_container(shipped.data)
    complete_data(shipped)  # a preset that starts from its schema is left as it is
    assert OmegaConf.to_container(shipped.data) == before
    cfg = compose_train("data=my_dataset", job=True)
    assert "eval_batch_size" not in cfg.data
    complete_data(cfg)
    assert cfg.data.batch_size == 64 and cfg.data.eval_batch_size == 1000  # own / schema's
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    from ridgeline.data import DATASETS

    assert DATASETS["rings"] is type(datamodule)
    x, y = datamodule.train_x, datamodule.train_y
    assert x.shape == (1000, 1, 1, 2) and datamodule.test_x.shape == (500, 1, 1, 2)
    radius = x.view(-1, 2).double().norm(dim=1)
    for c in range(3):  # noise 0.2 per coordinate: the mean radius is within a few % of c + 1
        assert abs(radius[y == c].mean().item() - (c + 1)) < 0.05
    assert set(y.tolist()) == {0, 1, 2}


def _pair_context() -> tuple[ProbeContext, nn.Module, nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    a, b = nn.Linear(4, 3), nn.Linear(4, 3)
    x, y = torch.randn(50, 4), torch.randint(0, 3, (50,))
    ctx = ProbeContext(
        template=a,
        states=[state_of(a), state_of(b)],
        spawn_state=None,
        evaluators={"test": Evaluator(a, x, y, chunk_size=16), "train": Evaluator(a, x, y)},
        groups=[],
        alphas=[0.0, 0.5, 1.0],
        profile_alphas=[0.0, 1.0],
        reduce=None,
    )
    return ctx, a, b, x


def test_the_probe_component_is_registered_and_counts_disagreements():
    from my_probe import DisagreementProbe

    assert "disagreement" in list_probes() and DisagreementProbe.key == "disagreement"
    ctx, a, b, x = _pair_context()
    with torch.no_grad():  # independently: the two models' float64 predictions
        expected = (a.double()(x.double()).argmax(1) != b.double()(x.double()).argmax(1)).sum()
    assert 0 < int(expected) < 50  # the pair disagrees on some examples, not all
    out = DisagreementProbe(splits=["test"]).compute(ctx, 0, 1)
    assert out == {"test": int(expected) / 50}
    assert DisagreementProbe().compute(ctx, 0, 0) == {"test": 0.0, "train": 0.0}


def test_the_probe_config_adds_the_component_to_the_default_probes():
    cfg = compose_train("probe=my_probe", job=True)
    components = read_settings(cfg).components
    assert list(components) == ["barrier", "layerwise", "curvature", "geometry", "parent"] + [
        "disagreement"
    ]
    assert type(instantiate(components["disagreement"])).__name__ == "DisagreementProbe"


def _runs(predicted_signs: list[list[float]]) -> dict:
    """One fabricated run per seed: a spawned pair's probes at steps 5, 10, ... (Δ ≠ 0, positive
    measured barrier), the prediction's sign set per probe; one probe at the spawn step (Δ = 0)
    and one with a negative barrier, which the claim leaves out."""
    runs = []
    for signs in predicted_signs:
        records = [ProbeRecord.from_dict(pair_record("spawn_k=0", "spawn", 0, 0, 0.3))]
        for n, sign in enumerate(signs):
            data = pair_record("spawn_k=0", "spawn", 5 * (n + 1), 0, 0.3)
            data["curvature"]["test"]["predicted_barrier"] *= sign
            records.append(ProbeRecord.from_dict(data))
        dip = pair_record("spawn_k=0", "spawn", 99, 0, -0.3)
        dip["curvature"]["test"]["predicted_barrier"] = 1.0  # no positive barrier: not counted
        records.append(ProbeRecord.from_dict(dip))
        runs.append(SimpleNamespace(records=records))
    return {"ridge_sign": runs}


def test_the_claim_decides_fabricated_records():
    from my_claim import RIDGE

    held = RIDGE.evaluate(_runs([[1] * 10, [1] * 9 + [-1]]), seeds=[0, 1])
    (fraction,) = held.quantities
    assert fraction.values == [1.0, 0.9] and math.isclose(fraction.mean, 0.95)
    assert held.holds and held.claim == "ridge"
    failed = RIDGE.evaluate(_runs([[1] * 10, [1] * 5 + [-1] * 5]), seeds=[0, 1])
    assert failed.quantities[0].values == [1.0, 0.5] and not failed.holds
    undefined = RIDGE.evaluate(_runs([[], []]), seeds=[0, 1])
    assert math.isnan(undefined.quantities[0].mean) and not undefined.holds


def test_the_claims_experiment_composes_the_user_model_data_and_probe():
    cfg = compose_train("experiment=ridge_sign", job=True)
    assert cfg.model._target_ == "my_model.tanh_mlp" and cfg.data.name == "rings"
    assert cfg.probe.layerwise is None and cfg.probe.curvature.layerwise is False
    assert cfg.probe.disagreement._target_ == "my_probe.DisagreementProbe"


@pytest.mark.slow
def test_one_job_runs_the_model_dataset_probe_and_claim(tmp_path: Path):
    """``python -m ridgeline experiment=ridge_sign`` in a copy of docs/examples (the cwd is
    importable), a few steps; the component's numbers are in the records and the claim reads
    the run."""
    project = tmp_path / "my_project"
    shutil.copytree(EXAMPLES, project)
    train_ok(
        project,
        "experiment=ridge_sign",
        "logger=none",
        "trainer.max_steps=20",
        "spawn.at=[0,10]",
        "probe.every_n_steps=10",
        env={"RIDGELINE_CONFIG_DIR": str(project / "ridgeline_conf"), "PYTHONPATH": str(project)},
    )
    from my_claim import RIDGE, ridge_fraction

    from ridgeline import load_run

    run = load_run(project / "run")
    pairs = [r for r in run.records if r.probe == "pair"]
    assert pairs and all(0.0 <= r.raw["disagreement"]["test"] <= 1.0 for r in pairs)
    at_spawn = [r for r in pairs if r.kind == "spawn" and r.step == r.spawn_step]
    assert at_spawn and all(r.raw["disagreement"]["test"] == 0.0 for r in at_spawn)  # θ_A = θ_B
    assert run.config.data.name == "rings" and run.config.model._target_ == "my_model.tanh_mlp"
    (fraction,) = RIDGE.evaluate({"ridge_sign": [run]}, seeds=[0]).quantities
    assert math.isclose(fraction.values[0], ridge_fraction(run), rel_tol=0, abs_tol=0) or all(
        math.isnan(v) for v in (fraction.values[0], ridge_fraction(run))
    )
