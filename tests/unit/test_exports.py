"""CSV exports never hand a spreadsheet a formula: text cells that could run as one are written as text."""

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flexbill.billing.exports import csv_lines, spreadsheet_text
from spreadsheet_formulas import DANGEROUS_TEXTS, opens_as_formula

pytestmark = pytest.mark.nostripe


def _cells(rows: list[list]) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(csv_lines(["a", "b"], rows)), newline="")))[1:]


@pytest.mark.parametrize("text", DANGEROUS_TEXTS.values(), ids=DANGEROUS_TEXTS.keys())
def test_text_a_spreadsheet_would_run_as_a_formula_is_exported_as_text(text):
    assert _cells([[text, "x"]]) == [["'" + text, "x"]]


@pytest.mark.parametrize(
    "text", ["Ada Lovelace", "INV-000123", "100", "1-2", "a=b", "e@mail", " leading space", "'quoted", "", "😀=1"]
)
def test_text_no_spreadsheet_runs_is_exported_as_typed(text):
    assert _cells([[text, "x"]]) == [[text, "x"]]


def test_numbers_stay_numbers_even_when_negative():
    # No exported amount can be negative today (amounts are positive, sums of them at least 0); should one ever be,
    # it is written as a number the spreadsheet reads as one, not quoted as text.
    assert "".join(csv_lines(["amount", "total"], [[-1500, 0]])).splitlines()[1] == "-1500,0"
    assert _cells([[None, 2500]]) == [["", "2500"]]


@given(
    st.text(st.sampled_from("=+-@＝＋－＠﹦﹢﹣﹫\u2212 \t\r\n\u00a0\u3000\u200ba1'") | st.characters(), max_size=30)
)
def test_no_exported_text_opens_as_a_formula_and_none_is_lost(text):
    cell = spreadsheet_text(text)

    assert cell in (text, "'" + text)
    assert not opens_as_formula(cell)
