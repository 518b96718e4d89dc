"""docs/design.md: every citation of it names a section that exists, and nothing cites design
notes that are not in the repository."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "docs" / "design.md"
SCANNED = ("src", "tests", "scripts", "docs", "README.md", "pyproject.toml", "Makefile")
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".sh", ".txt", ".cfg", ""}
# "docs/design.md §4", "docs/design.md §2–§5" (a docstring may break the line before §)
CITATION = re.compile(r"docs/design\.md\s+§(\d+)(?:\s*[–-]\s*§?(\d+))?")
LINK = re.compile(r"docs/design\.md#([\w-]+)")
# the shared notes' names, spelled so that this file does not match itself
OUTSIDE = re.compile("|".join(["DESIGN" + r"\s*§", "DESIGN" + r"\.md", "CONVENTIONS" + r"\.md"]))


def sections() -> dict[int, str]:
    """Section number → anchor id: each ``## n. Title`` follows its ``<a id="..."></a>``."""
    text = DESIGN.read_text()
    found = re.findall(r'<a id="([\w-]+)"></a>\n## (\d+)\. ', text)
    return {int(n): anchor for anchor, n in found}


def repository_files() -> list[Path]:
    files = []
    for name in SCANNED:
        path = ROOT / name
        candidates = [path] if path.is_file() else path.rglob("*")
        for f in candidates:
            parts = f.relative_to(ROOT).parts
            generated = "__pycache__" in parts or "_build" in parts
            generated = generated or any(p.endswith(".egg-info") for p in parts)
            if f.is_file() and f.suffix in SUFFIXES and not generated:
                files.append(f)
    return files


def cited() -> list[tuple[str, int]]:
    """(file, section number) of every citation, ranges expanded."""
    out = []
    for f in repository_files():
        text = f.read_text(errors="replace")
        for m in CITATION.finditer(text):
            first = int(m.group(1))
            last = int(m.group(2) or first)
            out += [(str(f.relative_to(ROOT)), n) for n in range(first, last + 1)]
    return out


def test_sections_are_numbered_one_to_n_each_with_its_own_anchor():
    numbered = sections()
    headings = re.findall(r"^## (\d+)\. ", DESIGN.read_text(), flags=re.M)
    assert [int(n) for n in headings] == list(range(1, len(headings) + 1))
    assert sorted(numbered) == [int(n) for n in headings], "a section without an anchor"
    assert len(set(numbered.values())) == len(numbered)


def test_every_citation_names_an_existing_section():
    numbered = sections()
    citations = cited()
    assert len({f for f, _ in citations}) >= 10  # the core, toy and report cite it
    missing = [(f, n) for f, n in citations if n not in numbered]
    assert not missing, f"citations of sections docs/design.md does not have: {missing}"


def test_links_and_cross_references_inside_the_document_resolve():
    text = DESIGN.read_text()
    anchors = set(sections().values())
    links = re.findall(r"\]\(#([\w-]+)\)", text)
    for f in repository_files():
        links += LINK.findall(f.read_text(errors="replace"))
    unresolved = set(links) - anchors
    assert links and not unresolved, f"links to anchors docs/design.md lacks: {unresolved}"
    refs = {int(n) for n in re.findall(r"§(\d+)", text)}
    assert refs and refs <= set(sections())


def test_nothing_cites_notes_outside_the_repository():
    hits = [
        f"{f.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}"
        for f in repository_files()
        for text in [f.read_text(errors="replace")]
        for m in OUTSIDE.finditer(text)
    ]
    assert not hits, f"citations of design notes outside the repository: {hits}"
