"""ΔᵀHΔ and ⟨∇L, Δ⟩ under sharding: two gloo processes give one process's numbers bit for bit.

Every per-example loss and its directional derivatives are summed in float64 (the sums of
:mod:`ridgeline.landscape.sums`), so neither the chunk boundaries nor the shard boundaries
round differently; a float32 sum per chunk (the old ridge) differed in the last digits.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ddp_ridge
from helpers.ddp import free_port

WORKER = Path(ddp_ridge.__file__)


def test_chunking_does_not_change_the_ridge_or_the_taylor_terms():
    """Chunks of 64 (4 of them) and of 7 (29): the same float64 sums, bit for bit."""
    assert ddp_ridge.numbers(0, 1, None) == ddp_ridge.numbers(0, 1, None, chunk=7)


@pytest.mark.slow
def test_two_gloo_processes_give_the_one_process_ridge_bit_for_bit(tmp_path):
    out = tmp_path / "ddp.json"
    port = str(free_port())
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(rank), "2", port, str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    sharded = json.loads(out.read_text())
    one = json.loads(json.dumps(ddp_ridge.numbers(0, 1, None)))
    ridge = one["ridge"]
    assert 0 < ridge["alpha"] < 1 and ridge["dHd"] != 0 and ridge["grad_dot_delta"] != 0
    # exact equality of every number: α*, L, ⟨∇L, Δ⟩, ΔᵀHΔ, the curve, every Taylor term
    for key in ("alpha", "loss", "grad_dot_delta", "dHd", "curvature", "predicted_height"):
        assert sharded["ridge"][key] == ridge[key], key
    assert sharded["curve"] == one["curve"]
    taylor = {k: v for k, v in one["taylor"].items() if k != "eval_path"}
    assert {k: v for k, v in sharded["taylor"].items() if k != "eval_path"} == taylor
