"""Print the resolved config as a rich tree and save it in the run dir."""

from pathlib import Path

import rich
import rich.syntax
import rich.tree
from omegaconf import DictConfig, OmegaConf

from ridgeline.store.layout import RunLayout, atomic_write_text
from ridgeline.tracking.environment import run_environment

ORDER = ("data", "model", "optim", "schedule", "spawn", "probe", "trainer", "logger", "paths")


def print_config_tree(cfg: DictConfig) -> None:
    """One branch per config group, in ORDER first, then the remaining keys."""
    tree = rich.tree.Tree("CONFIG", style="dim", guide_style="dim")
    keys = [k for k in ORDER if k in cfg] + [k for k in cfg if k not in ORDER]
    for key in keys:
        branch = tree.add(str(key), style="bold")
        node = cfg[key]
        text = OmegaConf.to_yaml(node, resolve=True) if isinstance(node, DictConfig) else str(node)
        branch.add(rich.syntax.Syntax(text, "yaml"))
    rich.print(tree)


def save_config(cfg: DictConfig, run_dir: Path) -> None:
    """The resolved config as ``config.yaml`` in the run dir, with this process's environment."""
    environment = OmegaConf.to_yaml({"environment": run_environment()})
    atomic_write_text(RunLayout(run_dir).config, OmegaConf.to_yaml(cfg, resolve=True) + environment)
