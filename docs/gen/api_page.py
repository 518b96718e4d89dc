"""Generate docs/reference/api.md: autodoc of ``ridgeline.landscape`` and of every module its
docstring names as the home of a topic's helpers (``:mod:`` references), so the reference
follows the package as it is split or moved. A submodule's section leaves out what the package
already documents, so every name is documented once."""

from __future__ import annotations

import importlib
import inspect
import re

from common import DOCS, ROOT, header, today, write_if_changed

OUT = DOCS / "reference" / "api.md"
COMMAND = "python docs/gen/api_page.py"
CORE = "ridgeline.landscape"
RUN_PACKAGES = ("ridgeline.job", "ridgeline.records")  # a run and its records
MOD = re.compile(r":mod:`~?([\w.]+)`")


def modules() -> list[str]:
    """The core's submodules its docstring names (its public structure), in order of mention."""
    core = importlib.import_module(CORE)
    seen: list[str] = []
    for name in MOD.findall(core.__doc__ or ""):
        if name.startswith(f"{CORE}.") and name not in seen:
            seen.append(name)
    return seen


def automodule(name: str, exclude: list[str]) -> str:
    options = "   :members:\n"
    if exclude:
        options += f"   :exclude-members: {', '.join(sorted(exclude))}\n"
    return f"```{{eval-rst}}\n.. automodule:: {name}\n{options}```\n\n"


def ridgeline_classes(annotation: object) -> list[type]:
    """The ridgeline classes (outside the core) an annotation names, generics unpacked."""
    if isinstance(annotation, type) and annotation.__module__.startswith("ridgeline."):
        return [] if annotation.__module__.startswith(CORE) else [annotation]
    found: list[type] = []
    for arg in getattr(annotation, "__args__", ()):
        found += ridgeline_classes(arg)
    return found


def run_classes() -> list[tuple[type, bool]]:
    """What ``load_run`` returns, the run's phases and its records: (class, with members)."""
    import typing

    import ridgeline

    def named(cls: type) -> list[type]:
        hints = list(typing.get_type_hints(cls).values())
        for _, member in inspect.getmembers(cls, inspect.isfunction):
            hints.append(inspect.signature(member, eval_str=True).return_annotation)
        out: list[type] = []
        for hint in hints:
            out += [c for c in ridgeline_classes(hint) if c not in out and c is not cls]
        return out

    run = inspect.signature(ridgeline.load_run, eval_str=True).return_annotation
    deep = [run] + [c for c in named(run) if c.__module__.startswith(RUN_PACKAGES)]
    for cls in list(deep[1:]):  # what the phases and records hold
        mine = [*named(cls), *cls.__mro__[1:]]
        deep += [c for c in mine if c.__module__ == cls.__module__ and c not in deep]
    shallow = [c for cls in deep for c in named(cls) if c not in deep]
    return [(c, True) for c in deep] + [(c, False) for c in dict.fromkeys(shallow)]


def page() -> str:
    core = importlib.import_module(CORE)
    exported = list(getattr(core, "__all__", []))
    parts = [header("API", COMMAND, today(), f"the docstrings of `{CORE}`")]
    parts.append(
        f"## `{CORE}`\n\nThe pure-PyTorch core: no Lightning, no Hydra; it works on any "
        f"`nn.Module` and parameter sets of your own. Every name in this section is importable "
        f"from `{CORE}`.\n\n" + automodule(CORE, [])
    )
    for name in modules():
        parts.append(f"## `{name}`\n\n" + automodule(name, exported))
    classes = "".join(
        f".. autoclass:: {c.__module__}.{c.__qualname__}\n"
        + ("   :members:\n" if deep else "   :no-members:\n")
        + "\n"
        for c, deep in run_classes()
    )
    parts.append(
        "## Reading a run back\n\n```{eval-rst}\n.. autofunction:: ridgeline.load_run\n\n"
        + classes
        + "```\n\n## Errors\n\n"
        + automodule("ridgeline.errors", [])
    )
    return "".join(parts).rstrip() + "\n"


if __name__ == "__main__":
    write_if_changed(OUT, page())
    print(f"wrote {OUT.relative_to(ROOT)}")
