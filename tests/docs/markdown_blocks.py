"""The fenced code blocks of the project's Markdown (README.md and docs/) and the marker each
carries: ``<!-- not-run: reason -->`` or ``<!-- tested-by: tests/<file>.py::<test> -->`` on the
last non-blank line before the fence."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# Pages generated from the code: their blocks are captured output (``text``), not commands.
GENERATED = {DOCS / "reference" / f"{name}.md" for name in ("api", "cli", "config")}
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<info>[^`]*)$")
MARKER = re.compile(r"^\s*<!--\s*(?P<kind>not-run|tested-by):\s*(?P<text>.*?)\s*-->\s*$")
# Languages whose blocks are commands or code a reader runs.
RUNNABLE = {"python", "py", "pycon", "sh", "bash", "shell", "console", "zsh"}


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    marker: tuple[str, str] | None  # (not-run | tested-by, reason or test id)

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def markdown_files() -> list[Path]:
    """README.md and every hand-written page under docs/ (not the build, not generated pages)."""
    pages = [p for p in DOCS.rglob("*.md") if "_build" not in p.parts and p not in GENERATED]
    return [ROOT / "README.md", *sorted(pages)]


def blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path`` with its language and marker."""
    lines = path.read_text().splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, indent = m.group("fence"), m.group("indent")
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        code = "\n".join(line[len(indent) :] for line in lines[i + 1 : end]) + "\n"
        before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        mk = MARKER.match(before)
        info = m.group("info").strip().strip("{}")
        lang = info.split()[0] if info else ""
        out.append(Block(path, i + 1, lang, code, (mk["kind"], mk["text"]) if mk else None))
        i = end + 1
    return out


def all_blocks() -> list[Block]:
    return [b for p in markdown_files() for b in blocks(p)]


def block_under(path: Path, heading: str, lang: str) -> Block:
    """The only ``lang`` block of ``path`` in the section that starts with ``heading``."""
    text = path.read_text()
    start = text.index(heading)
    first = text[:start].count("\n") + 1
    rest = text[start + len(heading) :]
    level = heading.split(" ")[0]
    end = first + rest.count("\n") + 1
    nxt = re.search(rf"^{level} ", rest, re.M)
    if nxt:
        end = first + rest[: nxt.start()].count("\n")
    found = [b for b in blocks(path) if b.lang == lang and first <= b.line <= end]
    assert len(found) == 1, f"{len(found)} {lang} blocks under {heading!r} in {path}"
    return found[0]
