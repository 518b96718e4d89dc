"""Every dotted ``ridgeline.*`` path a user can copy resolves: the ``_target_`` of each shipped
config (to its current module, without a moved-module warning) and each ``ridgeline.<...>`` name
written in the README and the docs (current or kept by a warning shim)."""

import pathlib
import re
import warnings

import pytest
from hydra.utils import get_object
from omegaconf import OmegaConf

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONF = ROOT / "src" / "ridgeline" / "conf"
# A dotted name that starts at the package: ridgeline.landscape.barrier_curve, ridgeline.cli.train.
DOTTED = re.compile(r"\bridgeline(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def _targets(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["_target_"]] if isinstance(node.get("_target_"), str) else []
        return own + [t for v in node.values() for t in _targets(v)]
    if isinstance(node, list):
        return [t for v in node for t in _targets(v)]
    return []


def shipped_targets() -> list[str]:
    out: set[str] = set()
    for path in CONF.rglob("*.yaml"):
        out |= set(_targets(OmegaConf.to_container(OmegaConf.load(path))))
    return sorted(t for t in out if t.startswith("ridgeline."))


def documented_names() -> list[str]:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    names: set[str] = set()
    for page in pages:
        if "_build" in page.parts:
            continue
        names |= {m.rstrip(".") for m in DOTTED.findall(page.read_text())}
    return sorted(names)


def test_configs_ship_targets() -> None:
    assert len(shipped_targets()) >= 10  # the collector found the configs' targets


@pytest.mark.parametrize("target", shipped_targets())
def test_every_shipped_target_resolves_without_a_moved_warning(target: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        assert get_object(target) is not None


@pytest.mark.parametrize("name", documented_names())
def test_every_documented_name_resolves(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # an old path kept by a shim still works
        assert get_object(name) is not None
