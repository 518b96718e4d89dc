"""ridgeline's ``train`` config composed in-process, from the search path ridgeline-train uses.

That path is ``pkg://ridgeline.conf`` (the shipped configs, typed by the schema), with the
user's own config dir (``$RIDGELINE_CONFIG_DIR`` or ``./ridgeline_conf``) just before it.
"""

import contextlib
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

from hydra import compose, initialize_config_module
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ridgeline.config.resolvers import register_resolvers
from ridgeline.config.schema_errors import schema_error

CONF = Path(str(files("ridgeline.conf")))
_open_blocks: list[None] = []  # one entry per ridgeline_conf() block open now


@contextlib.contextmanager
def ridgeline_conf() -> Iterator[None]:
    """Hydra initialised on ridgeline's configs for the block, the resolvers registered; every
    :func:`compose_train` inside it composes without initialising again."""
    register_resolvers()
    with initialize_config_module("ridgeline.conf", version_base="1.3"):
        _open_blocks.append(None)
        try:
            yield
        finally:
            _open_blocks.pop()


def compose_train(
    *overrides: str, job: bool = False, as_written: list[str] | None = None
) -> DictConfig:
    """The ``train`` config with ``overrides`` (inside a :func:`ridgeline_conf` block, or in one
    of its own).

    ``job``: with Hydra's own config, set as the running job's, so ``${hydra:...}`` resolves
    whichever tests ran before in this process. ``as_written``: a value the schema refuses raises
    its one-line ConfigError, the value as written in these overrides (as ridgeline-train says
    it); without it, Hydra's own exception.
    """
    with contextlib.ExitStack() as stack:
        if not _open_blocks:
            stack.enter_context(ridgeline_conf())
        try:
            cfg = compose("train", overrides=list(overrides), return_hydra_config=job)
        except Exception as exc:
            error = None if as_written is None else schema_error(exc, as_written)
            if error is None:
                raise
            raise error from None
    if job:
        HydraConfig.instance().set_config(cfg)
    return cfg


def compose_groups(*overrides: str) -> DictConfig:
    """The config groups' own defaults (no experiment unless one is asked for), plus
    ``overrides``, as a job sees it; a value the schema refuses raises its ConfigError, as
    ridgeline-train reports it."""
    base = [] if any(o.startswith("experiment=") for o in overrides) else ["~experiment"]
    return compose_train(*base, *overrides, job=True, as_written=list(overrides))
