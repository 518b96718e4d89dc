"""``ridgeline-train``: parent, spawned children and probes, as composed by Hydra from conf/."""

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from ridgeline.config.env import check_env
from ridgeline.config.hydra_errors import (
    EXIT_USER_ERROR,
    error,
    hydra_error_message,
    job_errors,
    run_hydra_app,
)
from ridgeline.config.precheck import check_schema
from ridgeline.config.resolvers import register_resolvers
from ridgeline.config.settings import complete_data
from ridgeline.errors import ConfigError
from ridgeline.store.layout import ParentStoreLayout, RunLayout, remove_stale_temps
from ridgeline.tracking.config_tree import print_config_tree, save_config
from ridgeline.training.preemption import EXIT_PREEMPTED, Preempted

if TYPE_CHECKING:
    from ridgeline.data.base import TensorDataModule
    from ridgeline.job.plan import Phase, RunPlan
    from ridgeline.job.ranks import Ranks

log = logging.getLogger("ridgeline")

# The configs ship inside the package: found the same way in a checkout and after `pip install`.
CONFIG_DIR = "pkg://ridgeline.conf"
register_resolvers()


def run_group(cfg: DictConfig, run_dir: Path) -> str:
    """W&B group: the sweep dir for multirun jobs, else the run dir's name."""
    hc = HydraConfig.get()
    if hc.mode is not None and hc.mode.name == "MULTIRUN":
        return f"{cfg.task_name}-{Path(hc.sweep.dir).name}"
    return f"{cfg.task_name}-{run_dir.name}"


def copy_parent_records(store: ParentStoreLayout, key: str, run: RunLayout) -> None:
    """The stored parent's probe records, tagged with its key, into this run's records."""
    from ridgeline.store.record_store import RecordStore

    records = RecordStore(store.run(key).records).read()
    if records:
        RecordStore(run.records).append([{**r, "parent_key": key} for r in records])


def train_parent(
    cfg: DictConfig,
    plan: "RunPlan",
    phase: "Phase",
    datamodule: "TensorDataModule",
    group: str,
    ranks: "Ranks",
) -> None:
    """Train the parent into the store unless it is there; other jobs wait for the lock."""
    from ridgeline.job.parent_store import parent_lock, write_spec
    from ridgeline.probes import build_probe_callbacks
    from ridgeline.training.phases import run_phase

    store, key, parent = plan.store, plan.parent_key, plan.parent
    parent_run = store.run(key)
    with parent_lock(store, key, ranks):
        if ranks.is_zero:
            remove_stale_temps(parent_run.root)  # of a killed write; the lock is ours
        if ranks.decide(parent.done.exists):
            log.info("parent %s found in the store (%s); reusing it", key, parent.root)
            return
        log.info("training parent %s into the store (%s)", key, parent.root)
        if ranks.is_zero:
            write_spec(store, key, plan.parent_spec)
        callbacks = build_probe_callbacks(plan, parent_run, phase, parent)
        run_phase(cfg, plan, phase, parent_run, datamodule, callbacks, group, parent, ranks)


def train(cfg: DictConfig) -> Path:
    """Validate, then train every phase of the experiment; returns the run dir.

    Every process of a DDP job runs this whole function: global rank 0 makes each decision that
    touches the disk and writes; the other ranks follow its decisions (``job/ranks.py``).
    """
    from ridgeline.tracking.console import quiet_console

    quiet_console()  # libraries' chatter to the run's log file; ridgeline's lines and errors shown
    # The schema (types, choices, unknown keys) before the heavy imports: such a typo fails in
    # about a second.
    check_schema(cfg)
    complete_data(cfg)  # a user's data preset without the schema: the schema's defaults
    from ridgeline.job.validate import validate_config, validate_run

    plan = validate_config(cfg)
    # Heavy imports (Lightning, W&B) after the config's own checks: a config that Hydra or
    # ridgeline rejects fails in a few seconds, before Lightning is imported.
    import pytorch_lightning as pl
    from hydra.utils import instantiate

    from ridgeline.job.ranks import start_ranks, stop_ranks
    from ridgeline.probes import build_probe_callbacks
    from ridgeline.tracking.loggers import log_run_summary
    from ridgeline.training.phases import run_phase
    from ridgeline.training.preemption import SigtermNotice
    from ridgeline.training.threads import set_threads

    run, top = plan.run, plan.settings.top
    assert run is not None  # composed by Hydra's run: paths.output_dir is its run dir
    set_threads(top.threads)
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()  # downloads when data.download=true, then checks the files
    validate_run(cfg, plan, datamodule, run.root)
    pl.seed_everything(top.seed, workers=True, verbose=False)
    # Every rank has validated; from here rank 0 decides and writes.
    ranks = start_ranks(cfg.trainer)
    ranks.check_same("run dir", run.root.resolve())
    if ranks.is_zero:
        if top.print_config:
            print_config_tree(cfg)
        save_config(cfg, run.root)
        for stale in remove_stale_temps(run.root):  # a write killed before this resume
            log.info("removed %s, left by a killed write", stale)
    group = run_group(cfg, run.root)
    sigterm = SigtermNotice()
    try:
        for phase in plan.phases:
            if ranks.decide(lambda: sigterm.received):  # noted between phases
                raise Preempted(phase.name, None, None)
            if phase.kind == "parent":
                train_parent(cfg, plan, phase, datamodule, group, ranks)
                if ranks.is_zero:
                    copy_parent_records(plan.store, plan.parent_key, run)
                continue
            callbacks = build_probe_callbacks(plan, run, phase)
            run_phase(cfg, plan, phase, run, datamodule, callbacks, group=group, ranks=ranks)
    finally:
        sigterm.restore()
    if top.summary and ranks.is_zero:
        from ridgeline.report.summary import summarise_run

        rows = summarise_run(run.root)
        figures = sorted(run.figures.glob("*.png"))
        log_run_summary(cfg, run.root, group, rows, figures)
    stop_ranks(ranks)
    return run.root


class CheckSweep(Callback):
    """Hydra callback (conf/hydra/default.yaml): a multirun's jobs all checked before the first
    starts (:func:`ridgeline.job.sweep_check.check_sweep`); one line and exit 2 on a problem."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from ridgeline.errors import RidgelineError
        from ridgeline.job.sweep_check import check_sweep

        try:
            check_sweep(config, str(kwargs.get("config_name") or "train"))
        except RidgelineError as exc:
            error(str(exc))
            sys.exit(EXIT_USER_ERROR)
        except Exception as exc:  # Hydra cannot compose a job: its own config error
            if type(exc).__module__.split(".")[0] not in ("hydra", "omegaconf"):
                raise
            error(hydra_error_message(exc, sys.argv[1:]))
            sys.exit(EXIT_USER_ERROR)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def _hydra_main(cfg: DictConfig) -> None:
    # A W&B service inherited from the launching process (one that used W&B, e.g. a notebook)
    # would be shared: a killed run's stream outlives it there, and the resumed run could not
    # take back its W&B run id. Every job (also a sweep job started by a launcher) starts its own.
    os.environ.pop("WANDB_SERVICE", None)
    with job_errors(Path(cfg.paths.output_dir), Path(cfg.paths.root_dir)):
        try:
            train(cfg)
        except Preempted as stop:
            print(f"ridgeline: {stop}", file=sys.stderr)
            sys.exit(EXIT_PREEMPTED)


def main() -> None:
    """Console script entry point."""
    try:
        check_env()  # before Hydra writes a run dir
    except ConfigError as exc:
        error(str(exc))
        sys.exit(EXIT_USER_ERROR)
    run_hydra_app(_hydra_main)


if __name__ == "__main__":
    main()
