"""Choices kept by the landscape core (``"module:name"``), read from its source without
importing it: the core imports torch, and a schema typo must fail before torch is imported.

A name kept as a tuple of string literals (``EVAL_PATH_CHOICES = ("auto", "vmap", "loop")``) or
as an Enum class whose members are string literals (``class BNPolicy(str, Enum)``) is read from
the module's syntax tree; anything else is None, and the caller imports the module.
"""

import ast
import importlib.util
from pathlib import Path


def module_file(module: str) -> Path | None:
    """The source file of ``module``, found from its top-level package without importing any
    package between (their ``__init__`` may import torch)."""
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        return None
    base = Path(next(iter(spec.submodule_search_locations))).joinpath(*rest)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _strings(node: ast.expr) -> tuple[str, ...] | None:
    if isinstance(node, (ast.Tuple, ast.List)) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts
    ):
        return tuple(e.value for e in node.elts)  # type: ignore[attr-defined]
    return None


def kept_choices(module: str, name: str) -> tuple[str, ...] | None:
    """The string choices ``module:name`` keeps, read from its source; None when they are not
    literals there (or the source cannot be found)."""
    path = module_file(module)
    if path is None:
        return None
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return _strings(node.value)
        if isinstance(node, ast.ClassDef) and node.name == name:
            values = [
                s.value.value
                for s in node.body
                if isinstance(s, ast.Assign) and isinstance(s.value, ast.Constant)
            ]
            if values and all(isinstance(v, str) for v in values):
                return tuple(str(v) for v in values)
            return None
    return None
