"""The run dir's policy: resumed only with the config it holds, readable checkpoints and records
before anything is trained, writable before anything is written; says what a resume skips."""

import sys
import zipfile
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ridgeline.config.rules import plain
from ridgeline.errors import ConfigError, RidgelineError
from ridgeline.job.plan import RunPlan
from ridgeline.records.probe_record import read_records
from ridgeline.store.damaged import damaged_file
from ridgeline.store.layout import PhaseLayout, RunLayout

# Keys that may change between the runs of one run dir without changing its results.
RERUN_FREE_KEYS = (
    "print_config",
    "summary",
    "logger",
    "paths",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
    "trainer.log_every_n_steps",
    "data.root",
    "data.download",
    "data.device_resident",
    "threads",
    "environment",
)


def note(message: str) -> None:
    print(f"ridgeline: note: {message}", file=sys.stderr)


def _first_difference(old: Any, new: Any, prefix: str = "") -> tuple[str, Any, Any] | None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            path = f"{prefix}{key}"
            if any(path == k or path.startswith(k + ".") for k in RERUN_FREE_KEYS):
                continue
            diff = _first_difference(old.get(key, "<absent>"), new.get(key, "<absent>"), path + ".")
            if diff:
                return diff
        return None
    return None if old == new else (prefix.rstrip("."), old, new)


def check_checkpoint(path: Path) -> None:
    """A cheap integrity check of a torch zip checkpoint: a truncated file has no directory."""
    try:
        with zipfile.ZipFile(path) as archive:
            archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise RidgelineError(
            f"checkpoint {path} is truncated or corrupt ({type(exc).__name__}: {exc}); "
            "delete it and re-run to recreate it"
        ) from None


def check_theta0(layout: PhaseLayout, name: str) -> None:
    """The θ₀ file (``theta0.pt``) of an unfinished phase, read again when it resumes, is whole;
    the fix of a damaged one restarts the phase (θ₀ is written at step 0 only)."""
    if not layout.theta0.exists():
        return
    try:
        check_checkpoint(layout.theta0)
    except RidgelineError as exc:
        restart = f" and {layout.last_checkpoint}" if layout.last_checkpoint.exists() else ""
        raise RidgelineError(
            f"{str(exc).partition(';')[0]}: it holds phase {name}'s θ₀, written at step 0 only; "
            f"delete it{restart} and re-run, and the phase trains again from step 0"
        ) from None


def check_run_dir(cfg: DictConfig, plan: RunPlan, run_dir: Path) -> None:
    """A run dir that holds a run is resumed only with the same config; say what is skipped."""
    saved = RunLayout(run_dir).config
    if saved.exists():
        try:
            old = OmegaConf.to_container(OmegaConf.load(saved), resolve=False)
        except Exception as exc:
            raise damaged_file(saved, exc, "; restore it, or choose a new hydra.run.dir") from None
        if not isinstance(old, dict):
            raise RidgelineError(
                f"{saved} is damaged (not a config mapping); restore it, or choose a new "
                "hydra.run.dir"
            )
        new = {k: plain(v) for k, v in cfg.items() if k != "hydra"}
        diff = _first_difference(old, new)
        if diff:
            key, was, now = diff
            raise ConfigError(
                key,
                now,
                f"the run dir {run_dir} already holds a run with {key}={was!r}; re-run with the "
                "same config to resume or finish it, or choose a new hydra.run.dir",
            )
    run, parent = RunLayout(run_dir), plan.parent
    for records in (run.records, plan.store.run(plan.parent_key).records):
        read_records(records)  # names a damaged line before anything is trained
    done, todo = [], []
    for phase in plan.phases:
        layout = parent if phase.kind == "parent" else run.phase(phase.name)
        if layout.done.exists():
            done.append(phase.name)
        else:
            todo.append(phase.name)
            if layout.last_checkpoint.exists():
                check_checkpoint(layout.last_checkpoint)
            check_theta0(layout, phase.name)
        if phase.parent_checkpoint is not None and parent.done.exists():
            path = Path(phase.parent_checkpoint)
            if not run.phase(phase.name).done.exists():
                if not path.is_file():
                    raise RidgelineError(
                        f"parent checkpoint {path} is missing although the stored parent "
                        f"{parent.root} is finished; delete {parent.root} to train it again"
                    )
                check_checkpoint(path)
    if done and not todo:
        note(
            f"the run dir {run_dir} already holds a finished run (phases {', '.join(done)}); "
            "nothing is trained again. Choose a new hydra.run.dir for a new run."
        )
    elif done:
        note(
            f"resuming in {run_dir}: finished phases {', '.join(done)} are skipped; "
            f"training {', '.join(todo)}"
        )


def check_writable(key: str, directory: Path) -> None:
    """``directory`` (existing, or to be created) can be written: a temporary file is made in
    it, or in its nearest existing ancestor, and removed."""
    import tempfile

    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        problem = f"{existing} is a file, not a directory"
    else:
        try:
            with tempfile.TemporaryFile(dir=existing):
                problem = None
        except OSError as exc:
            problem = f"{existing} is not writable ({exc.strerror or exc})"
    if problem:
        raise ConfigError(key, str(directory), f"a directory this job can write; {problem}")


def check_writable_dirs(plan: RunPlan, run_dir: Path) -> None:
    """The run dir (with its landscape/ and figures/) and the parent store can be written."""
    check_writable("hydra.run.dir", run_dir)
    for sub in ("landscape", "figures"):
        if (run_dir / sub).exists():
            check_writable("hydra.run.dir", run_dir / sub)
    check_writable("paths.parent_dir", plan.store.root)
    check_lock_file(plan)


def check_lock_file(plan: RunPlan) -> None:
    """The parent's lock, ``<paths.parent_dir>/<key>.lock``, is a file or absent."""
    lock = plan.store.lock(plan.parent_key)
    if lock.exists() and not lock.is_file():
        raise ConfigError(
            "paths.parent_dir",
            str(plan.store.root),
            f"a parent store where the lock file {lock} can be made; a directory is there: "
            "remove it, or choose another paths.parent_dir",
        )
