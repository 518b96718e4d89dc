"""``ridgeline-train``: parent, spawned children and probes, as composed by Hydra from conf/."""

import logging
import shutil
import sys
from pathlib import Path

import hydra
import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig

from ridgeline.cli.config_tree import print_config_tree, save_config
from ridgeline.cli.resolvers import register_resolvers
from ridgeline.errors import RidgelineError
from ridgeline.training.phases import plan_phases, run_phase

log = logging.getLogger("ridgeline")

CONFIG_DIR = str(Path(__file__).resolve().parents[3] / "conf")
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


def train(cfg: DictConfig) -> Path:
    """Validate, then train every phase of the experiment; returns the run dir."""
    from ridgeline.cli.validate import validate_config
    from ridgeline.training.probes import build_probe_callbacks

    run_dir = Path(cfg.paths.output_dir)
    validate_config(cfg)
    datamodule = instantiate(cfg.data)
    datamodule.check_available()
    if cfg.get("print_config"):
        print_config_tree(cfg)
    save_config(cfg, run_dir)
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    group = run_group(cfg, run_dir)
    for phase in plan_phases(cfg, run_dir):
        callbacks = build_probe_callbacks(cfg, run_dir, phase)
        run_phase(cfg, phase, run_dir, datamodule, callbacks, group=group)
    if cfg.get("summary"):
        from ridgeline.report.summary import summarise_run

        summarise_run(run_dir)
    return run_dir


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def _hydra_main(cfg: DictConfig) -> None:
    try:
        train(cfg)
    except RidgelineError as exc:
        print(f"ridgeline: error: {exc}", file=sys.stderr)
        remove_if_unstarted(Path(cfg.paths.output_dir))
        sys.exit(2)


def main() -> None:
    """Console script entry point."""
    _hydra_main()


if __name__ == "__main__":
    main()
