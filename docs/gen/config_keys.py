"""Generate docs/reference/config.md: every key of ridgeline's typed config groups with its type,
default, allowed values and meaning, read from the schema (``ridgeline.config.schema``): the
dataclasses, their :class:`Allowed` metadata and the comment above each field."""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any

from common import DOCS, ROOT, header, today, write_if_changed

OUT = DOCS / "reference" / "config.md"
COMMAND = "python docs/gen/config_keys.py"
FIELD = re.compile(r"^\s+(\w+)\s*:")


def comments(cls: type) -> dict[str, str]:
    """Field name → the comment lines right above it (or after it on its line)."""
    out: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(cls).splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        m = FIELD.match(line)
        if m and not stripped.startswith(("def ", "class ")):
            text = " ".join(pending)
            if "#" in line and not text:
                text = line.split("#", 1)[1].strip()
            if text:
                out[m.group(1)] = text
        pending = []
    return out


def fmt_default(f: dataclasses.Field) -> str:
    """The default as YAML would write it; MISSING as ``???`` (set by each preset)."""
    if f.default_factory is not dataclasses.MISSING:
        value: Any = f.default_factory()
    else:
        value = f.default
    if value is dataclasses.MISSING or value == "???":
        return "`???` (required)"
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if dataclasses.is_dataclass(value):
        return "(a group of keys, below)"
    return f"`{value}`".replace("|", "\\|")


def fmt_type(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", None)
    text = text or str(annotation).replace("typing.", "")
    return text.replace("NoneType", "None").replace("|", "\\|")


def rows(cls: type, prefix: str) -> list[str]:
    """One table row per field of ``cls``, keys written as ``prefix.name``."""
    from ridgeline.config.schema import allowed_of

    notes = comments(cls)
    out = []
    for f in dataclasses.fields(cls):
        if f.name.startswith("_"):
            continue
        found = allowed_of(cls, f.name)
        allowed = found[0].describe(found[1]) if found else ""
        meaning = notes.get(f.name, "")
        if f.type is Any and not prefix:
            meaning = meaning or f"the config group `{f.name}` (chosen with `{f.name}=<option>`)"
        key = f"{prefix}{f.name}"
        cells = [f"`{key}`", fmt_type(f.type), fmt_default(f), allowed, meaning]
        out.append("| " + " | ".join(c.replace("\n", " ") for c in cells) + " |")
    return out


def page() -> str:
    """The whole page: the top-level keys, then every schema in ``SCHEMAS``."""
    from ridgeline.config.schema import SCHEMAS, SeedsConfig

    parts = [header("Configuration keys", COMMAND, today(), "the config schema")]
    parts.append(
        "Every key of the typed config groups: its type, default, the values it accepts and what "
        "it means. A preset starts from its group's schema and writes only what differs, so the "
        "defaults below are the ones a preset inherits (`???`: each preset sets it). `model`, "
        "`trainer` and `logger` are open: a model takes its own keys, the Trainer's are "
        "Lightning's. See [configuration](../guide/configuration.md).\n\n"
    )
    head = "| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n"
    groups = {"train": ("Top-level keys", "")}
    for name in SCHEMAS:
        group = name.split("_")[0]
        title = f"`{group}`" + (f" ({name.split('_', 1)[1]})" if "_" in name else "")
        if name != "train":
            groups[name] = (title, f"{group}.")
    for name, (title, prefix) in groups.items():
        cls = SCHEMAS[name]
        doc = inspect.getdoc(cls) or ""
        parts.append(f"## {title}\n\n")
        parts.append(f"`/schema/{name}`" + (f": {doc.splitlines()[0]}" if doc else "") + "\n\n")
        body = rows(cls, prefix)
        if name == "train":
            body += rows(SeedsConfig, "seeds.")
        parts.append(head + "\n".join(body) + "\n\n")
    return "".join(parts).rstrip() + "\n"


if __name__ == "__main__":
    write_if_changed(OUT, page())
    print(f"wrote {OUT.relative_to(ROOT)}")
