"""The README and the documents under docs/ link to each other: every relative link must reach a file of the
repository, and every #section a heading of that file, or a reader lands nowhere."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ["README.md", "RELIABILITY.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\((?!https?://|mailto:)([^)\s]*)\)")


def heading_anchor(heading: str) -> str:
    """The anchor a Markdown renderer gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    return {heading_anchor(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.MULTILINE)}


def broken_links(document: str) -> list[str]:
    source = ROOT / document
    broken = []
    for match in LINK.finditer(source.read_text()):
        target, _, anchor = match.group(1).partition("#")
        path = (source.parent / target).resolve() if target else source
        if not path.is_file() or (anchor and anchor not in anchors(path.read_text())):
            broken.append(match.group(1))
    return broken


@pytest.mark.nostripe
def test_a_heading_anchor_is_its_words_in_lower_case_joined_by_hyphens():
    assert heading_anchor("Side effects from the audit trail") == "side-effects-from-the-audit-trail"
    assert heading_anchor("`accounts/` — who someone is") == "accounts--who-someone-is"
    assert heading_anchor("REST API") == "rest-api"


@pytest.mark.nostripe
@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_relative_link_reaches_a_file_and_a_heading_of_it(document):
    assert broken_links(document) == []
