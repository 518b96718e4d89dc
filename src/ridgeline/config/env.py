"""Environment variables ``ridgeline-train`` reads, each parsed in one place and refused with one
line (the variable, its value and the fix) before anything is computed or written."""

import math
import os
import socket

from ridgeline.errors import ConfigError

RENDEZVOUS_ENV = "RIDGELINE_RENDEZVOUS_TIMEOUT"
# Seconds the processes of a job wait for each other when the process group forms (the
# rendezvous); collectives afterwards keep Lightning's timeout. A node that never comes, or a
# MASTER_PORT served by another job, then fails within this bound instead of hanging for
# Lightning's 30 minutes. RIDGELINE_RENDEZVOUS_TIMEOUT (seconds) overrides it.
RENDEZVOUS_SECONDS = 300.0
# timedelta(seconds=x) overflows from about 8.6e13 s on; a day is far beyond any rendezvous.
RENDEZVOUS_MAX_SECONDS = 86400.0


def rendezvous_seconds() -> float:
    """``$RIDGELINE_RENDEZVOUS_TIMEOUT`` (default 300): a finite number of seconds in (0, 86400];
    anything else (empty, ``abc``, ``nan``, ``inf``, 0, negative) is a ConfigError."""
    raw = os.environ.get(RENDEZVOUS_ENV)
    if raw is None:
        return RENDEZVOUS_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and 0 < seconds <= RENDEZVOUS_MAX_SECONDS):
        raise ConfigError(
            RENDEZVOUS_ENV,
            raw,
            f"a number of seconds > 0 and <= {RENDEZVOUS_MAX_SECONDS:.0f} (how long the "
            f"processes of a DDP job wait for each other), or unset for {RENDEZVOUS_SECONDS:.0f}",
        )
    return seconds


ROOT_ENV = "RIDGELINE_ROOT"


def check_root() -> None:
    """``$RIDGELINE_ROOT``, when set, names a directory: an empty value would put ``data/`` and
    ``outputs/`` at the file system's root (``/data``)."""
    raw = os.environ.get(ROOT_ENV)
    if raw is not None and not raw.strip():
        raise ConfigError(
            ROOT_ENV,
            raw,
            "a project directory (data/ and outputs/ go below it), or unset for the directory "
            "the command runs in",
        )


MASTER_ADDR_ENV = "MASTER_ADDR"


def check_master_addr() -> None:
    """``$MASTER_ADDR``, when set, names a host this machine resolves: the processes of a DDP job
    meet there, and an unresolvable name otherwise fails only at the rendezvous, after its
    timeout, with the error printed by every process."""
    raw = os.environ.get(MASTER_ADDR_ENV)
    if raw is None:
        return
    fix = (
        "the host name or address of the job's first node (for one process, unset it); "
        "export MASTER_ADDR=localhost on one machine"
    )
    if not raw.strip():
        raise ConfigError(MASTER_ADDR_ENV, raw, fix)
    try:
        socket.getaddrinfo(raw, None)
    except (OSError, UnicodeError):
        raise ConfigError(MASTER_ADDR_ENV, raw, f"a name this machine resolves: {fix}") from None


def check_env() -> None:
    """Every variable above, before Hydra makes a run dir: ConfigError on the first problem."""
    rendezvous_seconds()
    check_root()
    check_master_addr()
