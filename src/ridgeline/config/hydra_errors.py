"""How ``ridgeline-train`` ends on an error: one line and exit 2 for what the user can fix.

Hydra's own config errors (an unknown group option, a key not in the config, an unparsable
override) and ridgeline's (:class:`~ridgeline.errors.RidgelineError`, a path that cannot be
written) end the same way: ``ridgeline: error: key=value is not valid: ...`` on stderr, exit
code 2, and no run dir left behind (nor the empty ``outputs/runs/<date>/`` above it). Any other
exception raised by the job is a bug: its traceback is printed and the exit code is 1.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeGuard

from ridgeline.errors import ConfigError, user_error_message

EXIT_USER_ERROR = 2
CONFIG_MODULE = "ridgeline.conf"
GRAMMAR = (
    "e.g. trainer.max_steps=5 (grammar: https://hydra.cc/docs/advanced/override_grammar/basic/)"
)
# Hydra's output directories: an empty value would put the run in the current directory.
OUTPUT_DIR_KEYS = ("hydra.run.dir", "hydra.sweep.dir", "hydra.sweep.subdir")


class _JobCrashed(Exception):
    """Wraps an unexpected exception raised inside the job, so it is re-raised as it is.

    ``exc`` is also its only argument: a launcher that pickles a job's exception (submitit)
    rebuilds it from ``args``."""

    def __init__(self, exc: Exception) -> None:
        super().__init__(exc)
        self.exc = exc


def error(message: str) -> None:
    """Print ``ridgeline: error: <message>`` as one line on stderr."""
    print(f"ridgeline: error: {' '.join(message.split())}", file=sys.stderr)


# Errors of creating or writing a path, or of a directory where a file belongs (read or
# written); a missing input file is not among them.
_WRITE_ERRNOS = {
    errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST, errno.ENOSPC,
    errno.EISDIR,
}  # fmt: skip


def is_write_error(exc: BaseException) -> TypeGuard[OSError]:
    """An OSError of creating or writing a named path, or of a directory where a file belongs."""
    return isinstance(exc, OSError) and exc.filename is not None and exc.errno in _WRITE_ERRNOS


TRAIN_PATHS = "paths.root_dir, paths.parent_dir or hydra.run.dir"


def os_error_message(exc: OSError, keys: str = TRAIN_PATHS) -> str:
    """One line naming the path that could not be created or written, and the fix."""
    path = getattr(exc, "filename2", None) or exc.filename  # a rename's destination
    if exc.errno == errno.EISDIR:
        return (
            f"{path} is a directory where a file belongs; remove or rename it (an output can "
            f"go elsewhere: {keys})"
        )
    if exc.errno == errno.EEXIST and os.path.isfile(exc.filename):
        return (
            f"{exc.filename} is a file where a directory belongs; remove or rename it, or "
            f"choose another location ({keys})"
        )
    reason = exc.strerror or type(exc).__name__
    return (
        f"cannot write {exc.filename} ({reason}); choose a writable location ({keys}) "
        "or fix its permissions"
    )


# Hydra's file in a multirun's sweep dir: a sweep whose first job is rejected leaves only it.
SWEEP_FILES = {"multirun.yaml"}


def remove_unstarted(run_dir: Path, stop: Path, own_files: set[str]) -> None:
    """Delete a run dir holding only Hydra's own files, then its parents up to ``stop`` that
    are empty (or hold only a sweep's ``multirun.yaml``)."""
    if run_dir.is_dir() and all(p.name in own_files for p in run_dir.iterdir()):
        shutil.rmtree(run_dir, ignore_errors=True)
    stop = stop.resolve()
    parent = run_dir.resolve().parent
    while parent != stop and stop in parent.parents:
        try:
            if {p.name for p in parent.iterdir()} <= SWEEP_FILES:
                for name in SWEEP_FILES:
                    (parent / name).unlink(missing_ok=True)
            parent.rmdir()  # only when empty
        except OSError:
            break
        parent = parent.parent


@contextlib.contextmanager
def job_errors(run_dir: Path, root_dir: Path) -> Iterator[None]:
    """Inside the Hydra job: a user error → one line, clean up, exit 2; anything else re-raised."""
    try:
        yield
    except Exception as exc:
        message = user_error_message(exc)  # also a RidgelineError raised in a DDP worker
        if message is None and is_write_error(exc):
            message = os_error_message(exc)
        if message is None:
            raise _JobCrashed(exc) from exc
        error(message)
        from hydra.core.hydra_config import HydraConfig

        own = {".hydra", f"{HydraConfig.get().job.name}.log"}
        remove_unstarted(run_dir, root_dir, own)
        sys.exit(EXIT_USER_ERROR)


def override_args(argv: list[str]) -> list[str]:
    """The overrides of a command line, as Hydra's own argument parser splits it."""
    from hydra._internal.utils import get_args_parser

    try:
        return list(get_args_parser().parse_known_args(argv)[0].overrides)
    except SystemExit:  # argparse's own error: Hydra reports it
        return []


def bad_override(argv: list[str]) -> str | None:
    """The message for an override Hydra cannot parse, or one without a key (``=5``)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    for arg in override_args(argv):
        try:
            (override,) = parser.parse_overrides([arg])
        except OverrideParseException as exc:
            reason = _one_line(exc).removeprefix(f"Error parsing override '{arg}'; ")
            return f"{arg!r} is not a valid override ({reason}); write key=value, {GRAMMAR}"
        if override.key_or_group == "":
            return f"{arg!r} is not a valid override: it has no key; write key=value, {GRAMMAR}"
        value = override.value()
        empty = not override.is_delete() and not str(value or "").strip()  # '', ' ' or null
        if override.key_or_group in OUTPUT_DIR_KEYS and empty:
            # Hydra would take '' as the current directory and write the run there, exit 0.
            return str(
                ConfigError(
                    override.key_or_group,
                    value,
                    "a directory for the outputs (e.g. outputs/runs/my-run), or leave it out for "
                    "the default",
                )
            )
    return None


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    cause = exc.__cause__
    if cause is not None and str(cause) and str(cause) not in text:
        text += f"\n{cause}"
    text = text.split("\nConfig search path:")[0].removeprefix("In 'train': ")
    text = re.sub(r":\s*\n\s*\t", ": ", text)  # "options in 'model':\n\tcnn\n\tmlp" → a list
    text = re.sub(r"\n\s*\t", ", ", text)
    text = re.sub(r"\s*See https://hydra\.cc\S*( for details)?", "", text)
    lines = [line.strip().rstrip(".") for line in text.splitlines()]
    return "; ".join(line for line in lines if line and not line.startswith("object_type="))


def known_keys(overrides: list[str]) -> list[str]:
    """Dotted keys of the config composed with the command line's group choices only."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    groups = [a for a in overrides if re.fullmatch(r"[\w/]+=[\w.\-/]+", a)]
    groups = [a for a in groups if "." not in a.split("=")[0]]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(CONFIG_MODULE, version_base="1.3"):
            cfg = compose("train", overrides=groups)
    except Exception:
        return []
    finally:
        GlobalHydra.instance().clear()
    keys: list[str] = []

    def walk(node: object, prefix: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                keys.append(f"{prefix}{k}")
                walk(v, f"{prefix}{k}.")

    walk(OmegaConf.to_container(cfg, resolve=False), "")
    return keys


def closest(name: str, candidates: list[str]) -> str | None:
    """The candidate most like ``name`` (difflib ratio >= 0.6), if any."""
    match = difflib.get_close_matches(name, candidates, n=1)
    return match[0] if match else None


def hydra_error_message(exc: BaseException, argv: list[str]) -> str:
    """Hydra's config error as one line, naming the override it is about and a likely fix."""
    from ridgeline.config.schema_errors import schema_error

    overrides = override_args(argv)
    typed = schema_error(exc, overrides)  # a type or choice the schema refuses
    if typed is not None:
        return str(typed)
    text = _one_line(exc)
    unknown = re.search(r"Key '\w+' is not in struct; full_key: ([\w.]+)", text)
    if unknown:
        key = unknown.group(1)
        prefix = key.rpartition(".")[0]
        siblings = [k for k in known_keys(overrides) if k.rpartition(".")[0] == prefix]
        guess = closest(key, siblings)
        text = f"{key} is not a config key" + (f" (did you mean {guess}?)" if guess else "")
        arg = next((a for a in overrides if a.split("=")[0].lstrip("~") == key), None)
        if arg:
            return f"{arg} is not valid: {text}; a key the config lacks is added with +{arg}"
    option = re.search(r"Could not find '([\w/]+)/([\w.\-]+)'", text)
    if option:
        group, name = option.groups()
        listed = re.search(r"Available options in '[\w/]+': ([\w, .\-]+)", text)
        choices = [c.strip() for c in listed.group(1).split(",")] if listed else []
        guess = closest(name, choices)
        text = f"no option {name} in config group {group}; available: {', '.join(choices)}"
        if guess:
            text += f" (did you mean {group}={guess}?)"
        for arg in overrides:  # the override naming the missing option, not an earlier one
            key, _, value = arg.lstrip("+~").partition("=")
            if key == group and name in re.split(r"[^\w.\-/]+", value):  # also a sweep's a,b
                return f"{arg} is not valid: {text}"
    for arg in overrides:
        key = arg.lstrip("+~").split("=")[0]
        if key and (f"{key} " in text or f"'{key}'" in text or f"group {key};" in text):
            return f"{arg} is not valid: {text}"
    return text


def run_hydra_app(app: Callable[[], None], argv: list[str] | None = None) -> None:
    """Run a ``@hydra.main`` function; config errors of Hydra or ridgeline exit 2 with one line."""
    argv = sys.argv[1:] if argv is None else argv
    message = bad_override(argv)
    if message:
        error(message)
        sys.exit(EXIT_USER_ERROR)
    # Hydra then raises its errors instead of printing them over several lines with exit 1.
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    try:
        app()
    except _JobCrashed as crash:
        raise crash.exc from None
    except Exception as exc:
        # Raised before the job started: Hydra could not compose the config or make the run dir.
        error(os_error_message(exc) if is_write_error(exc) else hydra_error_message(exc, argv))
        sys.exit(EXIT_USER_ERROR)
