"""``ridgeline-train``: parent, spawned children and probes, as composed by Hydra from conf/."""

import logging
import os
import shutil
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ridgeline.cli.config_tree import print_config_tree, save_config
from ridgeline.cli.resolvers import register_resolvers
from ridgeline.errors import user_error_message
from ridgeline.record_store import RecordStore
from ridgeline.sweep.parent_store import (
    is_global_zero_process,
    parent_key,
    parent_lock,
    parent_spec,
    write_spec,
)

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


def remove_if_unstarted(run_dir: Path) -> None:
    """Delete a run dir that holds only Hydra's own files: a failed start leaves nothing behind."""
    if not run_dir.is_dir():
        return
    own = {".hydra", f"{HydraConfig.get().job.name}.log"}
    if all(p.name in own for p in run_dir.iterdir()):
        shutil.rmtree(run_dir, ignore_errors=True)


def copy_parent_records(parent_dir: Path, run_dir: Path, key: str) -> None:
    """The stored parent's probe records, tagged with its key, into this run's records."""
    records = RecordStore(parent_dir / "landscape" / "records.jsonl").read()
    if records:
        RecordStore(run_dir / "landscape" / "records.jsonl").append(
            [{**r, "parent_key": key} for r in records]
        )


def train(cfg: DictConfig) -> Path:
    """Validate, then train every phase of the experiment; returns the run dir."""
    # A torchvision dataset's files are checked before Lightning is imported (seconds, not ten).
    from ridgeline.data.files import DATA_MODULES, check_files

    name, target = str(cfg.data.get("name")), str(cfg.data.get("_target_", ""))
    if not cfg.data.get("download", False) and target.endswith(f".{DATA_MODULES.get(name)}"):
        check_files(name, str(cfg.data.get("root")))
    # Heavy imports (torch, Lightning, W&B) after Hydra has composed the config: a config that
    # Hydra rejects fails in about a second.
    import pytorch_lightning as pl
    from hydra.utils import instantiate

    from ridgeline.cli.validate import validate_config, validate_run
    from ridgeline.training.loggers import log_run_summary
    from ridgeline.training.phases import parent_checkpoint_steps, plan_phases, run_phase
    from ridgeline.training.probes import build_probe_callbacks

    run_dir = Path(cfg.paths.output_dir)
    validate_config(cfg)
    datamodule = instantiate(cfg.data)
    datamodule.check_available()
    validate_run(cfg, datamodule, run_dir)
    if cfg.get("print_config"):
        print_config_tree(cfg)
    save_config(cfg, run_dir)
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    group = run_group(cfg, run_dir)
    spec = parent_spec(cfg, parent_checkpoint_steps(cfg))
    key = parent_key(spec)
    store = Path(cfg.paths.parent_dir)
    parent_dir = store / key
    for phase in plan_phases(cfg, parent_dir):
        if phase.kind == "parent":
            with parent_lock(store, key):
                if (parent_dir / "done.json").exists():
                    log.info("parent %s found in the store (%s); reusing it", key, parent_dir)
                else:
                    log.info("training parent %s into the store (%s)", key, parent_dir)
                    write_spec(parent_dir, spec)
                    callbacks = build_probe_callbacks(cfg, parent_dir, phase, parent_dir)
                    run_phase(cfg, phase, parent_dir, datamodule, callbacks, group, parent_dir)
            copy_parent_records(parent_dir, run_dir, key)
            continue
        callbacks = build_probe_callbacks(cfg, run_dir, phase)
        run_phase(cfg, phase, run_dir, datamodule, callbacks, group=group)
    if cfg.get("summary") and is_global_zero_process():
        from ridgeline.report.summary import summarise_run

        rows = summarise_run(run_dir)
        figures = sorted((run_dir / "figures").glob("*.png"))
        log_run_summary(cfg.get("logger"), run_dir, group, rows, figures)
    return run_dir


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def _hydra_main(cfg: DictConfig) -> None:
    # A W&B service inherited from the launching process (one that used W&B, e.g. a notebook)
    # would be shared: a killed run's stream outlives it there, and the resumed run could not
    # take back its W&B run id. Every job (also a sweep job started by a launcher) starts its own.
    os.environ.pop("WANDB_SERVICE", None)
    try:
        train(cfg)
    except Exception as exc:
        message = user_error_message(exc)  # also a RidgelineError raised in a DDP worker
        if message is None:
            raise
        print(f"ridgeline: error: {message}", file=sys.stderr)
        remove_if_unstarted(Path(cfg.paths.output_dir))
        sys.exit(2)


def main() -> None:
    """Console script entry point."""
    _hydra_main()


if __name__ == "__main__":
    main()
