"""The parent key is the name every stored parent lives under: a change that re-keys the
default config silently retrains every parent (and strands the stored ones)."""

import inspect

import pytest

from helpers.compose import compose_train
from ridgeline.job.plan import make_plan

# The key of `ridgeline-train` with no overrides, computed once (on 39b07da) and written here.
# If this test fails, the parent spec of the default config changed (a data, model, optim or
# schedule default, T, precision, seeds, checkpoint steps, or how the spec is hashed). If that is
# intended, every stored parent will be trained again under a new key: say so in the commit and
# the changelog, then write the new key here. If it is not intended, the change re-keys parents
# by accident: undo it (e.g. keep the old default, or leave evaluation-only keys out of the spec).
DEFAULT_PARENT_KEY = "24d1ca290d39963f"


def default_plan(*overrides: str):
    return make_plan(compose_train(*overrides))


def test_the_default_config_keeps_its_parent_key():
    plan = default_plan("paths.root_dir=/tmp/r", "paths.output_dir=/tmp/r/run")
    assert plan.parent_key == DEFAULT_PARENT_KEY, plan.parent_spec


@pytest.mark.slow  # composes many configs (over 3 s)
def test_the_key_ignores_paths_and_evaluation_settings_and_follows_the_weights():
    """Where the job runs and what the probes evaluate never re-key the parent; what the parent
    learns from does."""
    paths = ["paths.root_dir=/elsewhere", "paths.output_dir=/elsewhere/run"]
    same = [
        [],
        ["data.eval_train_size=100", "data.eval_seed=3", "data.eval_batch_size=7"],
        ["probe.every_n_steps=5", "spawn.children=3", "logger=none", "threads=1"],
    ]
    assert {default_plan(*paths, *o).parent_key for o in same} == {DEFAULT_PARENT_KEY}
    for changed in (["optim.lr=0.05"], ["seeds.init=1"], ["data.batch_size=64"]):
        assert default_plan(*paths, *changed).parent_key != DEFAULT_PARENT_KEY, changed


def test_data_modules_write_no_default_the_schema_writes():
    """The schema is the one place a data setting's default is written: a data module's
    arguments have none (``eval_train_size`` was 10000 in the schema and 1000 in the class)."""
    from ridgeline.config.schema import SCHEMAS, DataConfig
    from ridgeline.data import DATASETS
    from ridgeline.data.base import TensorDataModule

    typed = {
        f for s in SCHEMAS.values() if issubclass(s, DataConfig) for f in s.__dataclass_fields__
    }
    declared = {"name", "num_classes", "input_shape"}  # None: not declared (checked if given)
    found = []
    for cls in DATASETS.values():
        for klass in cls.__mro__:
            if not (issubclass(klass, TensorDataModule) and "__init__" in vars(klass)):
                continue
            for p in inspect.signature(klass.__init__).parameters.values():
                if p.name in typed - declared and p.default is not inspect.Parameter.empty:
                    found.append(f"{klass.__name__}({p.name}={p.default!r})")
    assert found == []
