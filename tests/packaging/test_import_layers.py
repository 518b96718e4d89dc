"""The package's imports go one way, down the layers of docs/design.md §9, with no circle."""

import ast
import functools
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[2] / "src"

# Lowest first; a module may import its own package and anything in a lower layer.
LAYERS = [
    ("errors", "_shim"),
    ("landscape", "models", "data"),
    ("config",),
    ("store",),
    ("records",),
    ("job",),
    ("tracking",),
    ("training",),
    ("probes",),
    ("report", "reproduce", "toy", "connect"),
    ("cli", "__main__"),
]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}
SHIMS = {  # old paths that forward to new ones
    "ridgeline.run",
    "ridgeline.training.probes",
    "ridgeline.landscape.curves",
    "ridgeline.landscape.records",
    "ridgeline.connect.records",
    "ridgeline.report.curves",
    "ridgeline.store.parent_store",
    "ridgeline.store.plan",
    "ridgeline.store.ranks",
    "ridgeline.store.records",
    "ridgeline.store.run",
    "ridgeline.store.run_dir",
    "ridgeline.store.scalars",
    "ridgeline.store.statistics",
    "ridgeline.store.typed",
    "ridgeline.store.validate",
}


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: pathlib.Path) -> set[str]:
    """Every ridgeline module this file imports, at the top or inside a function."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out |= {n for n in names if n == "ridgeline" or n.startswith("ridgeline.")}
    return out


@functools.cache
def graph() -> dict[str, set[str]]:
    files = [p for p in (SRC / "ridgeline").rglob("*.py") if "conf" not in p.parts]
    return {module_name(p): imports_of(p) for p in files}


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_top_level_module_is_in_a_layer():
    top = {layer(m) for m in graph() if layer(m) and m not in SHIMS}
    assert top <= set(RANK), f"not in a layer of this test (add it): {sorted(top - set(RANK))}"


@pytest.mark.parametrize("module", sorted(m for m in graph() if m not in SHIMS and layer(m)))
def test_imports_go_down(module):
    own = layer(module)
    up = sorted(
        dep
        for dep in graph()[module]
        if layer(dep) and layer(dep) != own and RANK.get(layer(dep), -1) > RANK[own]
    )
    assert not up, f"{module} imports from a higher layer: {up}"


def test_no_circle():
    g = {
        m: {d for d in deps if d in graph() and d != m}
        for m, deps in graph().items()
        if m not in SHIMS
    }
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for d in sorted(g.get(m, ())):
            if state.get(d) == 1:
                raise AssertionError("import circle: " + " -> ".join(path[path.index(d) :] + [d]))
            if d not in state:
                visit(d)
        path.pop()
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m)


def test_the_check_sees_a_planted_upward_import(tmp_path, monkeypatch):
    """The layer check is not vacuous: a config module importing training is caught."""
    bad = tmp_path / "ridgeline" / "config"
    bad.mkdir(parents=True)
    (bad / "bad.py").write_text("from ridgeline.training.phases import run_phase\n")
    deps = imports_of(bad / "bad.py")
    assert deps == {"ridgeline.training.phases"}
    assert RANK[layer("ridgeline.training.phases")] > RANK[layer("ridgeline.config.bad")]
