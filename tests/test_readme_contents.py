"""README.md's Contents list names every section, in order, with the anchor GitHub gives it."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def test_contents_lists_every_section_in_order():
    text = README.read_text()
    body = text.split("## Contents\n", 1)[1]
    contents, rest = body.split("\n## ", 1)
    headings = re.findall(r"^## (.+)$", "## " + rest, re.M)
    listed = re.findall(r"^- \[(.+?)\]\(#([\w-]+)\)$", contents, re.M)
    assert [t for t, _ in listed] == [h.replace("`", "") for h in headings]
    assert [a for _, a in listed] == [anchor(h) for h in headings]
