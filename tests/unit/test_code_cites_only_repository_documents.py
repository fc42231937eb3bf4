"""Comments, docstrings and other text in the code cite only documents that are in the repository, and cite a rule
only as "docs/rules.md, rule N" with N a rule docs/rules.md numbers: whoever clones flexbill can read every document
the code says it follows."""

import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("src", "tests", "bench", "scripts")
SKIPPED_PARTS = {"__pycache__", "node_modules", "static"}
RULES_DOCUMENT = "docs/rules.md"

# A document named by its path: "docs/rules.md", "RELIABILITY.md". Paths are from the repository's root.
DOCUMENT = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[\w-]+\.md)\b")
# "rule N", and lists: "Rules N-M, N and M", "rules N or M".
RULE = re.compile(r"\brules?\s+(\d+(?:\s*(?:-|–|,|and|or)\s*\d+)*)", re.IGNORECASE)


@dataclass(frozen=True)
class Citation:
    where: str  # path:line
    problem: str


def numbered_rules(text: str) -> set[int]:
    """The rule numbers a rules document defines: its "N. " items."""
    return {int(n) for n in re.findall(r"^(\d+)\. ", text, re.MULTILINE)}


def rule_numbers(cited: str) -> set[int]:
    """The numbers of a cited list: 1-4, 6 and 7 -> {1, 2, 3, 4, 6, 7}."""
    numbers: set[int] = set()
    for part in re.split(r"\s*(?:,|and|or)\s*", cited):
        low, _, high = re.sub(r"\s", "", part).replace("–", "-").partition("-")
        numbers.update(range(int(low), int(high or low) + 1))
    return numbers


def bad_citations(text: str, *, where: str, root: Path, rules: set[int]) -> list[Citation]:
    """What one comment, docstring or paragraph cites that a reader of the repository could not follow."""
    problems = []
    for match in DOCUMENT.finditer(text):
        if not (root / match.group(1)).is_file():
            problems.append(Citation(where, f"cites {match.group(1)}, which is not in the repository"))
    for match in RULE.finditer(text):
        if RULES_DOCUMENT not in text[: match.start()]:
            problems.append(Citation(where, f'cites "{match.group(0)}" without naming {RULES_DOCUMENT} before it'))
        elif unknown := sorted(rule_numbers(match.group(1)) - rules):
            problems.append(Citation(where, f'cites "{match.group(0)}": {RULES_DOCUMENT} has no rule {unknown}'))
    return problems


def python_texts(source: str) -> list[tuple[int, str]]:
    """(line, text) of each comment block (consecutive comment lines) and each string literal of Python source
    that is prose: a literal without white space (a file name joined into a path) is a name in code, not a citation."""
    texts: list[tuple[int, str]] = []
    block_end = -1
    strings = {tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        line = token.start[0]
        if token.type == tokenize.COMMENT:
            if texts and block_end == line - 1 and texts[-1][1].startswith("#"):
                texts[-1] = (texts[-1][0], texts[-1][1] + "\n" + token.string)
            else:
                texts.append((line, token.string))
            block_end = line
        elif token.type in strings and re.search(r"\s", token.string):
            texts.append((line, token.string))
    return texts


def paragraphs(text: str) -> list[tuple[int, str]]:
    """(line, text) of each paragraph of a template, a shell script or any other text file."""
    found, start, lines = [], 1, []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            if not lines:
                start = number
            lines.append(line)
        elif lines:
            found.append((start, "\n".join(lines)))
            lines = []
    if lines:
        found.append((start, "\n".join(lines)))
    return found


def scanned_files(root: Path):
    for top in SCANNED:
        for path in sorted((root / top).rglob("*")):
            relative = path.relative_to(root)
            if not path.is_file() or SKIPPED_PARTS & set(relative.parts):
                continue
            if any(part.endswith(".egg-info") for part in relative.parts):
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue  # binary: nothing cited
            yield relative, text


def repository_citations(root: Path) -> list[Citation]:
    rules = numbered_rules((root / RULES_DOCUMENT).read_text())
    problems = []
    for relative, text in scanned_files(root):
        texts = python_texts(text) if relative.suffix == ".py" else paragraphs(text)
        for line, chunk in texts:
            problems += bad_citations(chunk, where=f"{relative}:{line}", root=root, rules=rules)
    return problems


# The checker itself. Documents and rules are spelled in pieces here so that this file cites nothing.
OUTSIDE = "DESIGN" + ".md"
OUTSIDE_PATH = "shared/API" + ".md"
BARE_RULES = "rules" + ".md"
RULE_SEVEN = "rule" + " 7"
RULES_LIST = "rules" + " 1-2 and 7"
RULES_TWO_TO_FOUR = "rules" + " 2-4"


@pytest.fixture
def repository(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / RULES_DOCUMENT).write_text("# Rules\n\n1. **One.**\n2. **Two.**\n7. **Seven.**\n")
    (tmp_path / "README.md").write_text("# flexbill\n")
    return tmp_path


def cite(text: str, root: Path) -> list[str]:
    return [c.problem for c in bad_citations(text, where="x.py:1", root=root, rules={1, 2, 7})]


@pytest.mark.nostripe
def test_a_document_that_is_not_in_the_repository_is_reported(repository):
    assert cite(f"See {OUTSIDE} for why.", repository) == [f"cites {OUTSIDE}, which is not in the repository"]
    assert cite(f"See {OUTSIDE_PATH}.", repository) == [f"cites {OUTSIDE_PATH}, which is not in the repository"]


@pytest.mark.nostripe
def test_a_document_is_named_by_its_path_from_the_repository_root(repository):
    assert cite("See docs/rules.md and README.md.", repository) == []
    assert cite(f"See {BARE_RULES}.", repository) == [f"cites {BARE_RULES}, which is not in the repository"]


@pytest.mark.nostripe
def test_a_rule_cited_without_docs_rules_md_before_it_is_reported(repository):
    assert cite(f"Refused here ({RULE_SEVEN}).", repository) == [
        f'cites "{RULE_SEVEN}" without naming docs/rules.md before it'
    ]
    assert cite(f"({RULE_SEVEN}, docs/rules.md)", repository) != []


@pytest.mark.nostripe
def test_a_rule_cited_with_docs_rules_md_before_it_in_the_same_comment_passes(repository):
    assert cite(f"(docs/rules.md, {RULE_SEVEN})", repository) == []
    assert cite(f"(docs/rules.md, {RULES_LIST}), then ({RULE_SEVEN})", repository) == []


@pytest.mark.nostripe
def test_a_rule_number_docs_rules_md_does_not_define_is_reported(repository):
    assert cite(f"(docs/rules.md, {RULES_TWO_TO_FOUR})", repository) == [
        f'cites "{RULES_TWO_TO_FOUR}": docs/rules.md has no rule [3, 4]'
    ]


@pytest.mark.nostripe
def test_comments_docstrings_and_strings_of_python_are_read_one_comment_block_at_a_time():
    source = (
        f'"""Module (docs/rules.md, {RULE_SEVEN})."""\n'
        f"# first line, docs/rules.md\n# second, {RULE_SEVEN}\n\n"
        f"# {RULE_SEVEN}\nx = 1\n"
    )
    assert [line for line, _ in python_texts(source)] == [1, 2, 5]
    assert RULE_SEVEN in python_texts(source)[1][1]


@pytest.mark.nostripe
def test_a_file_name_in_code_is_not_a_citation_but_the_same_name_in_prose_is(repository):
    named_in_code = f'DOC = ROOT / "docs" / "{OUTSIDE}"\n'
    assert python_texts(named_in_code) == []
    in_prose = f'"""Read {OUTSIDE}."""\n'
    assert cite(python_texts(in_prose)[0][1], repository) == [f"cites {OUTSIDE}, which is not in the repository"]


@pytest.mark.nostripe
def test_rule_lists_and_ranges_name_every_rule_in_them():
    assert rule_numbers("1-4, 6 and 7") == {1, 2, 3, 4, 6, 7}
    assert rule_numbers("5 or 11") == {5, 11}


@pytest.mark.nostripe
def test_the_code_cites_only_documents_in_the_repository_and_rules_only_from_docs_rules_md():
    assert repository_citations(ROOT) == []
