"""RELIABILITY.md says which test attacks each guarantee: every test it names must exist, or the table lies."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def named_tests(text: str) -> list[tuple[str, str | None]]:
    """(file, test) pairs; a "`::name`" right after a "`file::name`" on the same line names another test there."""
    found = []
    for line in text.splitlines():
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
    line = "| g | `tests/web/a.py::first`, `::second`, `tests/api/b.py` (all) |\n| h | `::orphan` |"
    assert named_tests(line) == [("tests/web/a.py", "first"), ("tests/web/a.py", "second"), ("tests/api/b.py", None)]


@pytest.mark.nostripe
def test_every_test_reliability_md_names_exists():
    missing = []
    for path, name in named_tests((ROOT / "RELIABILITY.md").read_text()):
        source = ROOT / path
        if not source.exists():
            missing.append(path)
        elif name and not re.search(rf"^(async )?def {name}\(", source.read_text(), re.M):
            missing.append(f"{path}::{name}")
    assert missing == []
