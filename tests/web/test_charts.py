"""Chart geometry for the refunds report: pure numbers, one scale per currency, gaps between months kept."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flexbill.billing.reports import Row
from flexbill.web import charts

pytestmark = pytest.mark.nostripe


def test_columns_are_scaled_to_the_largest_amount_and_stand_on_the_baseline():
    (chart,) = charts.column_charts([Row("2025-01", "usd", 1000, 2), Row("2025-02", "usd", 500, 1)], width=100)
    tall, short = chart.bars
    plot = chart.baseline - charts.COLUMN_TOP_PAD
    assert tall.height == plot and short.height == plot / 2
    assert tall.y + tall.height == chart.baseline == short.y + short.height
    assert tall.width == short.width == 50 * (1 - charts.COLUMN_GAP)
    assert tall.x < short.x and short.x + short.width <= chart.width


def test_a_lone_month_is_a_column_not_a_wall():
    (chart,) = charts.column_charts([Row("2025-01", "usd", 1000, 1)])
    (bar,) = chart.bars
    assert bar.width == charts.MAX_COLUMN_WIDTH and bar.center_x == chart.width / 2


def test_missing_months_become_empty_columns_in_order():
    (chart,) = charts.column_charts(
        [Row("2024-11", "usd", 300, 1), Row("2025-02", "usd", 600, 1)], fill_months=True, label=charts.month_label
    )
    assert [b.key for b in chart.bars] == ["2024-11", "2024-12", "2025-01", "2025-02"]
    assert [b.height > 0 for b in chart.bars] == [True, False, False, True]
    assert chart.bars[1].amount == 0 and chart.bars[1].count == 0
    assert chart.bars[0].label == "Nov 2024"


def test_each_currency_gets_its_own_chart_and_scale():
    usd, eur = charts.bar_charts([Row("duplicate", "usd", 100, 1), Row("other", "eur", 100000, 3)])[::-1]
    assert (usd.currency, eur.currency) == ("usd", "eur")
    assert usd.bars[0].width == eur.bars[0].width == charts.BAR_WIDTH


def test_horizontal_bars_are_sorted_largest_first_and_stacked_in_rows():
    (chart,) = charts.bar_charts(
        [Row("app", "usd", 250, 1), Row("stripe", "usd", 1000, 2), Row("credit_note", "usd", 500, 1)],
        label=str.upper,
    )
    assert [b.key for b in chart.bars] == ["stripe", "credit_note", "app"]
    assert [b.width for b in chart.bars] == [charts.BAR_WIDTH, charts.BAR_WIDTH / 2, charts.BAR_WIDTH / 4]
    assert [b.label for b in chart.bars] == ["STRIPE", "CREDIT_NOTE", "APP"]
    assert chart.height == 3 * charts.BAR_ROW_HEIGHT
    assert all(b.x == charts.BAR_LABEL_WIDTH for b in chart.bars)
    assert chart.bars[1].y == chart.bars[0].y + charts.BAR_ROW_HEIGHT


def test_a_tiny_amount_next_to_a_huge_one_is_still_visible():
    (chart,) = charts.bar_charts([Row("a", "usd", 10**12, 1), Row("b", "usd", 1, 1)])
    assert chart.bars[1].width == charts.MIN_VISIBLE


def test_no_rows_no_charts():
    assert charts.column_charts([], fill_months=True) == [] and charts.bar_charts([]) == []


def test_many_months_name_only_some_columns_and_leave_amounts_to_the_table():
    rows = [Row(f"{2023 + m // 12}-{m % 12 + 1:02d}", "usd", 100, 1) for m in range(24)]
    (chart,) = charts.column_charts(rows, fill_months=True)
    assert len(chart.bars) == 24 and not chart.show_values
    assert sum(b.labelled for b in chart.bars) == 12


def test_month_keys_cross_the_year():
    assert charts.month_keys("2025-12", "2026-01") == ["2025-12", "2026-01"]
    assert charts.month_keys("2025-03", "2025-03") == ["2025-03"]


@given(st.lists(st.integers(min_value=1, max_value=10**15), min_size=1, max_size=30))
def test_every_bar_fits_inside_its_chart(amounts):
    rows = [Row(f"k{i}", "usd", a, 1) for i, a in enumerate(amounts)]
    (columns,) = charts.column_charts(rows)
    for bar in columns.bars:
        assert bar.y >= charts.COLUMN_TOP_PAD - 1e-6 and bar.y + bar.height <= columns.baseline + 1e-6
        assert bar.x >= 0 and bar.x + bar.width <= columns.width + 1e-6
    (bars,) = charts.bar_charts(rows)
    for bar in bars.bars:
        assert 0 < bar.width <= charts.BAR_WIDTH and bar.x + bar.width + charts.BAR_VALUE_WIDTH <= bars.width + 1e-6
