"""README.md is the front door: short, undated, its links resolve, and it names every console
script and the test command."""

from __future__ import annotations

import json
import re

from markdown_blocks import DOCS, ROOT

README = ROOT / "README.md"
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"


def test_readme_is_at_most_250_lines():
    assert len(README.read_text().splitlines()) <= 250


def test_readme_holds_no_dates_load_averages_or_issue_numbers():
    text = README.read_text()
    assert not re.search(r"\b\d{4}-\d\d-\d\d\b|\b\d{1,2} (" + MONTHS + r") \d{4}\b", text)
    assert not re.search(r"load average|\bload \d", text, re.I)
    assert not re.search(r"\bissues? #?\d+|(?<![\w&])#\d+\b", text, re.I)


def test_readme_links_resolve():
    links = re.findall(r"\]\(([^)\s]+)\)", README.read_text())
    local = [link.split("#")[0] for link in links if not re.match(r"\w+:|#", link)]
    assert local
    missing = [link for link in local if not (ROOT / link).exists()]
    generated = {f"docs/reference/{name}.md" for name in ("api", "cli", "config")}
    assert not [m for m in missing if m not in generated], missing


def test_readme_tells_the_two_commands_and_every_console_script():
    text = README.read_text()
    assert "make train" in text and "make test" in text  # .ci/run runs make test
    pyproject = (ROOT / "pyproject.toml").read_text()
    section = pyproject.split("[project.scripts]")[1].split("\n[")[0]
    scripts = re.findall(r"^([\w-]+) =", section, re.M)
    assert scripts and all(f"| `{s}` |" in text for s in scripts)


def test_readme_claims_agree_with_the_reproduction_run():
    """Each claim's one line says holds / does not hold as the stored reproduction run does."""
    data = DOCS / "gen" / "data" / "reproduce.json"
    claims = json.loads(data.read_text())["claims"]
    text = README.read_text()
    for claim in claims:
        line = re.search(rf"^- \*\*{claim['claim']}\*\* .*?(?=^- |^\n)", text, re.M | re.S)
        assert line, f"claim {claim['claim']} has no line in the README"
        verdict = "**holds**" if claim["holds"] else "**does not hold**"
        assert line.group(0).rstrip().endswith(verdict + "."), (claim["claim"], line.group(0))
