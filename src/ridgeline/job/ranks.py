"""The job's processes under DDP, and how they agree: global rank 0 decides, the others follow.

Every cluster launcher runs the whole program in every process: Lightning's ``ddp`` (its
subprocess launcher re-runs the command for ranks ≥ 1), torchrun, SLURM's srun and submitit
(local and SLURM executors). :func:`start_ranks` starts or joins the job's processes and its
process group *before* any disk decision, so that rank 0 can make each decision (reuse or train
the parent, skip or resume a phase) and broadcast it, every rank enters the same phases in the
same order, and only rank 0 writes. ``ddp_spawn`` is one program whose workers exist only inside
``fit``: there the program itself is the only rank that decides.
"""

import errno
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch.distributed as dist
from omegaconf import DictConfig

from ridgeline.config.env import rendezvous_seconds
from ridgeline.errors import ConfigError, RidgelineError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Ranks:
    """This process's place in the job; collectives are no-ops for a single process."""

    global_rank: int = 0
    world_size: int = 1

    @property
    def is_zero(self) -> bool:
        return self.global_rank == 0

    def _collective(self) -> bool:
        return self.world_size > 1 and dist.is_available() and dist.is_initialized()

    def decide(self, decision: Callable[[], T]) -> T:
        """``decision()`` on rank 0 (only there: it may read or write the disk), the same value
        on every rank."""
        value = decision() if self.is_zero else None
        if self._collective():
            box = [value]
            dist.broadcast_object_list(box, src=0)
            value = box[0]
        return value  # type: ignore[return-value]

    def barrier(self) -> None:
        """Wait until every rank is here (after rank 0 wrote what the others read)."""
        if self._collective():
            dist.barrier()

    def check_same(self, what: str, value: Any) -> None:
        """Fail on every rank when ranks disagree about ``value`` (e.g. the run dir)."""
        if not self._collective():
            return
        values: list[Any] = [None] * self.world_size
        dist.all_gather_object(values, value)
        if len(set(map(str, values))) > 1:
            from ridgeline.errors import RidgelineError

            raise RidgelineError(
                f"the {self.world_size} processes of this job disagree on the {what} "
                f"({', '.join(sorted(set(map(str, values))))}); pass it explicitly, "
                "e.g. hydra.run.dir=<dir>, so that every rank uses the same one"
            )

    def poll_until(self, attempt: Callable[[], bool], seconds: float, waiting: str) -> None:
        """Repeat ``attempt()`` on rank 0 until it succeeds; every rank waits with it.

        Short collectives every ``seconds`` instead of one long one: waiting for another job
        (the parent lock) may outlast the process group's collective timeout.
        """
        if self.decide(attempt):
            return
        log.info("%s", waiting)
        start = time.monotonic()
        while not self.decide(attempt):
            time.sleep(seconds)
        log.info("waited %.0f s", time.monotonic() - start)


def cluster_plugins() -> list:
    """Lightning plugins for the cluster this runs on: SLURM without Lightning's auto-requeue
    (submitit, or the user's sbatch script, owns the requeue signal)."""
    from pytorch_lightning.plugins.environments import SLURMEnvironment

    return [SLURMEnvironment(auto_requeue=False)] if SLURMEnvironment.detect() else []


def _export_submitit_environment() -> None:
    """Under submitit's local executor, tell torch (and so Lightning) each task's rank.

    On SLURM, Lightning reads SLURM's own variables; submitit's local executor has only its own,
    which ``TorchDistributedEnvironment`` turns into the standard RANK/WORLD_SIZE/MASTER_* ones.
    """
    import submitit
    from pytorch_lightning.plugins.environments import SLURMEnvironment

    if SLURMEnvironment.detect():
        return
    try:
        job = submitit.JobEnvironment()
    except RuntimeError:  # not a submitit job
        return
    if job.num_tasks > 1:
        submitit.helpers.TorchDistributedEnvironment().export(
            set_cuda_visible_devices=False, overwrite=True
        )


def _quiet_non_zero_rank() -> None:
    """Ranks ≥ 1 log warnings and errors only: the job's story is told once, by rank 0."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(lambda record: record.levelno >= logging.WARNING)


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def start_ranks(trainer_cfg: DictConfig) -> Ranks:
    """Start (Lightning ``ddp`` from one command) or join (torchrun, srun, submitit) the job's
    processes and initialise the process group Lightning will reuse in every phase."""
    from hydra.utils import instantiate
    from pytorch_lightning.strategies import DDPStrategy
    from pytorch_lightning.strategies.launchers.subprocess_script import (
        _SubprocessScriptLauncher,
    )

    _export_submitit_environment()
    quiet = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # the phases' trainers print the accelerator banner
    try:
        probe = instantiate(
            trainer_cfg,
            plugins=cluster_plugins(),
            logger=False,
            callbacks=[],
            enable_checkpointing=False,
            enable_progress_bar=False,
        )
    finally:
        quiet.setLevel(level)
    strategy = probe.strategy
    launcher = strategy.launcher
    if not isinstance(strategy, DDPStrategy) or not isinstance(launcher, _SubprocessScriptLauncher):
        return Ranks()  # one device, or ddp_spawn: this program alone decides
    if strategy.num_nodes * strategy.num_processes == 1:
        return Ranks()
    environment = strategy.cluster_environment
    assert environment is not None  # the Trainer gives every DDP strategy its environment
    if not environment.creates_processes_externally and _in_multirun():
        raise ConfigError(
            "trainer.strategy",
            trainer_cfg.get("strategy"),
            "in a Hydra multirun, Lightning's launcher would re-run the whole sweep in every "
            "rank; let submitit start one task per device (hydra/launcher=local or slurm with "
            "hydra.launcher.tasks_per_node=<trainer.devices>), or use trainer.strategy=ddp_spawn",
        )
    if not environment.creates_processes_externally:
        check_nodes(strategy.num_nodes)
        if environment.node_rank() == 0 and "LOCAL_RANK" not in os.environ:
            check_port()  # the launching process, before it starts the others
    _join(launcher, strategy)
    ranks = Ranks(global_rank=strategy.global_rank, world_size=strategy.world_size)
    if not ranks.is_zero:
        _quiet_non_zero_rank()
    log.info("rank %d of %d: process group up", ranks.global_rank, ranks.world_size)
    return ranks


def check_nodes(num_nodes: int) -> None:
    """More than one node under Lightning's own launcher: the other nodes must be started by
    the user with NODE_RANK and MASTER_ADDR (else this one would wait for nodes that never
    come)."""
    if num_nodes > 1 and not ("NODE_RANK" in os.environ and "MASTER_ADDR" in os.environ):
        raise ConfigError(
            "trainer.num_nodes",
            num_nodes,
            "1 on one machine (trainer.devices=N runs N processes here); more nodes need a "
            "launcher that starts a process per device on each node (SLURM's srun, torchrun, "
            "submitit), or the same command on each node with NODE_RANK and MASTER_ADDR set",
        )


def check_port() -> None:
    """A MASTER_PORT given by the user is free on this machine (the first rank listens on it)."""
    port = os.environ.get("MASTER_PORT")
    if port is None:
        return  # Lightning picks a free one
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError("MASTER_PORT", port, "a port number from 1 to 65535, or unset")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("", int(port)))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise ConfigError(
                "MASTER_PORT",
                int(port),
                "a free port: another process listens on it; choose another, or unset "
                "MASTER_PORT to let Lightning pick a free one",
            ) from None


def _join(launcher: Any, strategy: Any) -> None:
    """Start the other processes (Lightning's launcher) and form the process group, waiting at
    most :func:`rendezvous_seconds`; the group then keeps Lightning's collective timeout."""
    collective_timeout, seconds = strategy._timeout, rendezvous_seconds()
    strategy._timeout = timedelta(seconds=seconds)
    try:
        launcher.launch(strategy.setup_distributed)
    except (dist.DistError, RuntimeError) as exc:
        where = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
        reason = " ".join(str(exc).split())[:200]
        raise RidgelineError(
            f"the {strategy.world_size} processes of this job did not all join the process "
            f"group at {where} within {seconds:.0f} s ({type(exc).__name__}: {reason}); check "
            "that trainer.num_nodes and trainer.devices match the processes the launcher "
            "started and that MASTER_PORT is free (RIDGELINE_RENDEZVOUS_TIMEOUT sets the wait)"
        ) from None
    finally:
        strategy._timeout = collective_timeout
    if collective_timeout is not None and dist.is_initialized():
        dist.distributed_c10d._set_pg_timeout(collective_timeout)


def stop_ranks(ranks: Ranks) -> None:
    """Leave the job together: wait for every rank, then close the process group."""
    if ranks._collective():
        dist.barrier()
        dist.destroy_process_group()
