"""A config that ridgeline rejects is one line before Lightning is imported (about 3 s of a
failing ``ridgeline-train``'s 6 s): ``validate_config`` runs the checks that need Lightning's
classes (trainer keys, loggers, the data module) last."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a fresh interpreter: sys.modules as ridgeline-train starts

TESTS = Path(__file__).resolve().parents[1]

# (overrides, the key the error names): each fails before any check that imports Lightning.
BEFORE_LIGHTNING = [
    (["trainer.max_steps=0"], "trainer.max_steps"),
    (["spawn.at=[5000]"], "spawn.at"),
    (["model.name=nosuch"], "model.name"),
    (["probe.bn_policy=batch"], "probe.bn_policy"),
]
# The control: a Trainer key is checked against Lightning's own signature.
NEEDS_LIGHTNING = (["+trainer.max_step=10"], "trainer.max_step")

SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from helpers.compose import compose_train
from ridgeline.errors import ConfigError
from ridgeline.job.validate import validate_config
out = []
for overrides in json.loads(sys.argv[2]):
    try:
        validate_config(compose_train(*overrides, job=True))
        out.append([None, "pytorch_lightning" in sys.modules])
    except ConfigError as exc:
        out.append([exc.key, "pytorch_lightning" in sys.modules])
print(json.dumps(out))
"""


def test_a_rejected_value_is_named_before_lightning_is_imported() -> None:
    cases = [*BEFORE_LIGHTNING, NEEDS_LIGHTNING]  # the control last: the import stays
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(TESTS), json.dumps([o for o, _ in cases])],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert [key for key, _ in seen] == [key for _, key in cases]
    assert [imported for _, imported in seen] == [False] * len(BEFORE_LIGHTNING) + [True]
