"""RELIABILITY.md and docs/rules.md say which test proves each guarantee and rule: every test they name must exist,
or the documents lie."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def named_tests(text: str) -> list[tuple[str, str | None]]:
    """(file, test) pairs; a "`::name`" after a "`file::name`" names another test in that file, within one table row
    or one paragraph (a blank line, a new row or a new numbered item starts afresh)."""
    found = []
    current = None
    for line in text.splitlines():
        if not line.strip() or line.startswith("|") or re.match(r"\d+\. ", line):
            current = None
        for match in re.finditer(r"`(tests/[\w/]+\.py)(?:::(\w+))?|`::(\w+)", line):
            if match.group(1):
                current = match.group(1)
                found.append((current, match.group(2)))
            elif current:
                found.append((current, match.group(3)))
    return found


@pytest.mark.nostripe
def test_a_continued_name_belongs_to_the_file_named_before_it_on_the_line():
    text = "| g | `tests/web/a.py::first`, `::second`, `tests/api/b.py` (all) |\n| h | `::orphan` |\n"
    text += "1. rule `tests/c.py::one`,\n   `::two`.\n2. `::orphan`"
    assert named_tests(text) == [
        ("tests/web/a.py", "first"),
        ("tests/web/a.py", "second"),
        ("tests/api/b.py", None),
        ("tests/c.py", "one"),
        ("tests/c.py", "two"),
    ]


@pytest.mark.nostripe
@pytest.mark.parametrize("document", ["RELIABILITY.md", "docs/rules.md"])
def test_every_test_a_document_names_exists(document):
    missing = []
    for path, name in named_tests((ROOT / document).read_text()):
        source = ROOT / path
        if not source.exists():
            missing.append(path)
        elif name and not re.search(rf"^(async )?def {name}\(", source.read_text(), re.M):
            missing.append(f"{path}::{name}")
    assert missing == []
