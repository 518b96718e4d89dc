"""Sphinx configuration of ridgeline's documentation (MyST Markdown pages, autodoc API).

Built by ``make docs`` (``sphinx-build -W``: every warning is an error) after the generators in
``docs/gen/`` have written the generated pages.
"""

from __future__ import annotations

import re

project = "ridgeline"
author = "the ridgeline authors"
copyright = "the ridgeline authors"  # noqa: A001 (Sphinx's name)
release = "0.1.0"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "gen/**", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3
html_theme = "alabaster"
html_static_path: list[str] = []
html_title = "ridgeline"

# Broken cross-references, missing pages and unknown roles are errors (make docs builds with -W).
nitpicky = True
# Third-party types named in signatures and docstrings: not documented here.
nitpick_ignore_regex = [
    (r"py:.*", r"(torch|numpy|np|nn|omegaconf|hydra|pytorch_lightning|lightning|scipy)(\..*)?"),
    (r"py:.*", r"(Tensor|Module|Parameter|DictConfig|Generator|Path|Callable|Sequence)"),
    # the standard library (no intersphinx: the build runs offline)
    (r"py:.*", r"(abc|collections\.abc|typing|enum|pathlib|dataclasses)\..*"),
    # type variables in signatures (T, R, ...) have no page
    (r"py:class", r"ridgeline\.[\w.]+\.[A-Z]"),
]
# Targets that docstrings and annotations in src/ name but the API does not document (type
# variables, private aliases, a class not exported from a public path). Each is a problem in
# src/ to fix there; the entry goes when it is fixed.
nitpick_ignore = [
    ("py:class", "ridgeline.store.layout._Rooted"),  # a private base of PhaseLayout
    # TensorDataModule's docstring names what the API does not document
    ("py:data", "DATASETS"),
    ("py:meth", "load"),
    ("py:func", "ridgeline.config.builds.data_module"),
    ("py:mod", "ridgeline.config.schema"),
    ("py:mod", "ridgeline.report.collect"),  # ProbeRecord's docstring
]
# Docstrings in src/ whose reST is wrong, fixed up for the build (to fix in src/): |λ| reads as
# a substitution reference.
DOCSTRING_FIXES = {"|λ|": "\\|λ\\|", "(func(*primals)": "(func(\\*primals)"}

autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

CORE = "ridgeline.landscape"  # the API documents every public name of the core at the package

# docs/design.md anchors its sections with HTML (<a id="x"></a>, which GitHub renders and the
# repository's citations link to); for Sphinx each becomes a MyST target of the same name.
_ANCHOR = re.compile(r'^<a id="([\w-]+)"></a>$', re.M)


def _anchors_to_targets(app, docname: str, source: list[str]) -> None:
    source[0] = _ANCHOR.sub(r"(\1)=", source[0])


def _fix_docstrings(app, what, name, obj, options, lines: list[str]) -> None:
    for i, line in enumerate(lines):
        for bad, good in DOCSTRING_FIXES.items():
            line = line.replace(bad, good)
        lines[i] = line


def _is_type_alias(name: str) -> bool:
    """Whether a module of the core defines ``name`` as a type alias (``Chunk = tuple[...]``):
    shown as its name, as it has no page of its own."""
    import sys
    import typing

    for module_name, module in list(sys.modules.items()):
        if module_name == CORE or module_name.startswith(f"{CORE}."):
            value = getattr(module, name, None)
            origin = typing.get_origin(value)
            if value is not None and (origin is not None or type(value).__name__ in ALIASES):
                return True
    return False


ALIASES = {"TypeAliasType", "_GenericAlias", "_UnionGenericAlias", "UnionType", "GenericAlias"}


def _public_path(app, env, node, contnode):  # noqa: ANN001, ANN201 (Sphinx's hook)
    """Resolve a name the code spells by its defining module (``ridgeline.landscape.results.X``)
    or bare (``X``, ``Evaluator.run``) to where the API documents it: ``ridgeline.landscape.X``
    first, else the one object of the core whose name ends with it; a submodule of the core
    that the API does not document resolves to the package."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    py = env.get_domain("py")
    if node["reftype"] == "mod":
        if not target.startswith(f"{CORE}."):
            return None
        return py.resolve_xref(env, node["refdoc"], app.builder, "mod", CORE, node, contnode)
    if target.startswith(f"{CORE}."):
        tail = target.rsplit(".", 1)[-1]
    elif target.split(".")[0] in {"ridgeline", "torch", "numpy"}:
        return None
    else:
        tail = target
    public = f"{CORE}.{tail}"
    if public not in py.objects:
        found = [name for name in py.objects if name.startswith(CORE) and name.endswith(f".{tail}")]
        if len(found) != 1:
            return contnode if _is_type_alias(tail) else None
        public = found[0]
    return py.resolve_xref(env, node["refdoc"], app.builder, "obj", public, node, contnode)


def setup(app):  # noqa: ANN001, ANN201 (Sphinx's hook)
    app.connect("source-read", _anchors_to_targets)
    app.connect("autodoc-process-docstring", _fix_docstrings)
    app.connect("missing-reference", _public_path)
