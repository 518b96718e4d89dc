"""2-process CPU (gloo) jobs as clusters launch them, and what every such job must satisfy.

Each launcher runs the whole ``ridgeline-train`` program in every process: Lightning's ``ddp``
(its launcher re-runs the command for rank 1), torchrun, and two processes started with the
variables srun gives its tasks. One short job (MLP, 20 steps, spawn at k = 1, 200 test examples)
serves every test.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
from hydra.utils import instantiate

from helpers.cli import TRAIN
from helpers.compose import compose_train
from ridgeline.landscape import BarrierRecord, Evaluator, barrier_curve, state_of
from ridgeline.store.layout import RunLayout

TORCHRUN = str(Path(sys.executable).with_name("torchrun"))
SPAWN_STEP = 1
PHASE = f"spawn_k={SPAWN_STEP:07d}"
JOB = [
    "trainer.max_steps=20",
    # The MLP, not the quickstart's CNN: max-pool ties turn float summation order into
    # different gradients, and 19 steps grow 1e-7 into 6e-3 (measured; docs/guide/multi-device.md).
    "model=mlp",
    f"spawn.at=[{SPAWN_STEP}]",
    "spawn.children=2",  # one pair per probe (the main job has three children)
    "spawn.independent=false",
    "checkpoint_every_n_steps=5",
    "probe=barrier_only",
    "probe.every_n_steps=10",
    "probe.splits=[test]",
    "probe.bn_policy=interpolate",
    # Runs are compared bit for bit: a measured path (auto) may differ between processes.
    "probe.eval_path=loop",
    "data.eval_test_size=200",
    "logger=none",
    "summary=false",
    "print_config=false",
]


def mlp_job(max_steps: int) -> list[str]:
    """The shared job on one process, ``max_steps`` long (for kills, SIGTERM and requeues)."""
    steps = [o for o in JOB if not o.startswith("trainer.max_steps=")]
    return [f"trainer.max_steps={max_steps}", *steps]


DDP = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"]
# Fields that describe the process, not the numbers: excluded when records are compared.
VOLATILE = ("probe_seconds", "world_size", "environment")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SUBMITIT_"))}
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "NODE_RANK"):
        env.pop(key, None)
    return {**env, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "COLUMNS": "200"}


def train_args(root: Path, *extra: str, run_dir: Path | None = None) -> list[str]:
    """``ridgeline-train`` arguments of the shared job under ``root`` (run dir ``root/run``)."""
    run = [f"hydra.run.dir={run_dir or root / 'run'}"] if run_dir is not False else []
    return [*run, f"paths.root_dir={root}", *JOB, *extra]


def start(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    """``args`` started in ``cwd`` with ``env``, its stdout and stderr captured as text."""
    return subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> None:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-4000:])


def lightning_ddp(root: Path, *extra: str) -> Path:
    """Lightning's ``ddp`` from one command: its launcher starts rank 1."""
    run([TRAIN, *train_args(root, *DDP, *extra)], root, base_env(root))
    return root / "run"


def slurm_env(root: Path, procid: int, ntasks: int, nodes: int, job_id: str, port: int) -> dict:
    """The variables srun gives task ``procid`` of a job of ``ntasks`` tasks on ``nodes`` nodes."""
    per_node = ntasks // nodes
    return {
        **base_env(root),
        "SLURM_JOB_ID": job_id,
        "SLURM_JOB_NAME": "ridgeline",
        "SLURM_STEP_ID": "0",
        "SLURM_NTASKS": str(ntasks),
        "SLURM_NTASKS_PER_NODE": str(per_node),
        "SLURM_NNODES": str(nodes),
        "SLURM_NODELIST": "localhost",
        "SLURM_PROCID": str(procid),
        "SLURM_LOCALID": str(procid % per_node),
        "SLURM_NODEID": str(procid // per_node),
        "MASTER_PORT": str(port),
    }


def srun(root: Path, args: list[str], nodes: int = 1, job_id: str = "4242") -> None:
    """Two tasks started as srun starts them (``nodes`` = 1: 2 devices; 2: 1 device per node)."""
    port = free_port()
    procs = [start(args, root, slurm_env(root, rank, 2, nodes, job_id, port)) for rank in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, (out[-2000:], err[-4000:])


def records(run_dir: Path) -> dict[tuple, dict]:
    """records.jsonl keyed by (phase, step, pair), each line exactly once."""
    lines = RunLayout(run_dir).records.read_text().splitlines()
    assert len(lines) == len(set(lines))
    out = {}
    for line in lines:
        r = json.loads(line)
        key = (r["phase"], r["step"], str(r["pair"]))
        assert key not in out, key
        out[key] = r
    return out


def numbers(run_dir: Path) -> dict[tuple, dict]:
    """The records without the fields that describe the processes."""
    return {
        k: {f: v for f, v in r.items() if f not in VOLATILE} for k, r in records(run_dir).items()
    }


def final_children(run_dir: Path) -> dict[str, torch.Tensor]:
    """The state dict of the spawn phase's children at T (its ``last.ckpt``)."""
    path = RunLayout(run_dir).phase(PHASE).last_checkpoint
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    assert checkpoint["global_step"] == 20 - SPAWN_STEP
    return checkpoint["state_dict"]


def single_process_barrier(root: Path, run_dir: Path) -> BarrierRecord:
    """The test barrier record between the run's final children, evaluated here in one process on
    all 200 examples with the landscape core (no Lightning, no sharding, no all-reduce)."""
    cfg = compose_train(f"paths.root_dir={root}", *JOB, job=True)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    x, y = datamodule.eval_tensors("test")
    state = final_children(run_dir)
    children = []
    for i in range(2):
        model = instantiate(cfg.model)
        prefix = f"replicas.{i}."
        model.load_state_dict(
            {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        )
        children.append(model)
    evaluator = Evaluator(children[0], x, y, bn_policy="interpolate")
    alphas = list(records(run_dir)[(PHASE, 20, "[0, 1]")]["alphas"])
    return barrier_curve(evaluator, state_of(children[0]), state_of(children[1]), alphas)
