"""Shared test settings: offline W&B, no stray output in the repo, no shared W&B service; the
tiny-run factory."""

import os
from collections.abc import Callable

import pytest

from helpers.cli import TinyRun, train_ok

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("WANDB_DISABLE_GIT", "true")
os.environ.setdefault("PYTHONWARNINGS", "ignore")


def pytest_configure(config: pytest.Config) -> None:
    """xdist hands out whole files (``make test``: ``--dist loadfile``) in the order below, not
    sorted by their number of tests (its default, which leaves the slow files, a few tests each,
    for the end: one worker idles while the other runs the last of them)."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files with a test marked slow first, each file's tests in their order: the last files
    handed out to the workers are quick ones, so neither waits long for the other at the end."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)  # stable: otherwise collection order


@pytest.fixture(autouse=True)
def _no_inherited_wandb_service():
    """A test that ran W&B in this process leaves its service's address in WANDB_SERVICE, and
    every ridgeline-train started later would join that service; a killed run's stream then
    stays registered there ("run ID ... is in use" on resume). Tear it down after such a test.
    """
    yield
    if "WANDB_SERVICE" in os.environ:
        import wandb

        wandb.teardown()
        os.environ.pop("WANDB_SERVICE", None)


@pytest.fixture(scope="session")
def tiny_run_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., TinyRun]:
    """``tiny_run_factory(name, *overrides, env=None)``: ``ridgeline-train <overrides>`` in a
    fresh temp dir ``name``, which must succeed (see :func:`helpers.cli.train_ok`)."""

    def make(name: str, *overrides: str, env: dict[str, str] | None = None) -> TinyRun:
        cwd = tmp_path_factory.mktemp(name)
        return TinyRun(cwd, train_ok(cwd, *overrides, env=env))

    return make
