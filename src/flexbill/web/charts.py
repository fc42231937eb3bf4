"""Chart geometry for the reports: plain numbers the templates draw as inline SVG. No ORM, no HTML.

Amounts of different currencies cannot share a scale, so every chart holds one currency; a report with euros and
dollars draws one chart per currency.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

COLUMN_WIDTH = 640
COLUMN_HEIGHT = 220
COLUMN_LABEL_BAND = 24  # room under the columns for the month names
COLUMN_TOP_PAD = 18  # room above the tallest column for its amount
COLUMN_GAP = 0.3  # share of each slot left empty between columns
MAX_COLUMN_WIDTH = 64  # one or two months must not become a wall of colour
BAR_ROW_HEIGHT = 28
BAR_THICKNESS = 18
BAR_WIDTH = 250
BAR_LABEL_WIDTH = 170  # the row's name sits left of its bar
BAR_VALUE_WIDTH = 100  # the amount sits right of the bar's end
MAX_COLUMN_VALUES = 8  # more columns than this: amounts only in the tooltip and the table, they would overlap
MAX_COLUMN_LABELS = 12  # more months than this: name every second (third...) one so the names do not overlap
MIN_VISIBLE = 2.0  # a refund of one cent still shows as a sliver, not as nothing


@dataclass(frozen=True)
class Bar:
    key: str
    label: str
    amount: int
    count: int
    x: float
    y: float
    width: float
    height: float
    labelled: bool = True

    @property
    def center_x(self) -> float:
        return round(self.x + self.width / 2, 2)

    @property
    def middle_y(self) -> float:
        return round(self.y + self.height / 2, 2)

    @property
    def value_x(self) -> float:
        """Where a horizontal bar's amount is written: just past its end."""
        return round(self.x + self.width + 6, 2)

    @property
    def value_y(self) -> float:
        """Where a column's amount is written: just above its top."""
        return round(self.y - 5, 2)


@dataclass(frozen=True)
class Chart:
    currency: str
    width: float
    height: float
    bars: list[Bar]
    max_amount: int
    baseline: float = 0.0  # the y of the axis the columns stand on (column charts only)
    show_values: bool = True

    @property
    def label_y(self) -> float:
        return self.height - 7


def _by_currency(rows: Iterable) -> dict[str, list]:
    grouped: dict[str, list] = {}
    for row in rows:
        grouped.setdefault(row.currency, []).append(row)
    return dict(sorted(grouped.items()))


def _length(amount: int, max_amount: int, full: float) -> float:
    if amount <= 0 or max_amount <= 0:
        return 0.0
    return round(max(full * amount / max_amount, MIN_VISIBLE), 2)


def month_keys(first: str, last: str) -> list[str]:
    """ "2025-11", "2026-02" -> every month from the first to the last, so gaps show as empty slots."""
    start, end = date.fromisoformat(first + "-01"), date.fromisoformat(last + "-01")
    keys = []
    while start <= end:
        keys.append(start.strftime("%Y-%m"))
        start = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return keys


def month_label(key: str) -> str:
    return date.fromisoformat(key + "-01").strftime("%b %Y")


def column_charts(
    rows: Iterable,
    *,
    fill_months: bool = False,
    label: Callable[[str], str] = str,
    width: float = COLUMN_WIDTH,
    height: float = COLUMN_HEIGHT,
) -> list[Chart]:
    """Vertical columns, one per row key in order, scaled to the largest amount of the currency."""
    charts = []
    for currency, currency_rows in _by_currency(rows).items():
        by_key = {row.key: row for row in currency_rows}
        keys = list(by_key)
        if fill_months and keys:
            keys = month_keys(min(keys), max(keys))
        max_amount = max(row.amount for row in currency_rows)
        slot = width / len(keys)
        column = min(slot * (1 - COLUMN_GAP), MAX_COLUMN_WIDTH)
        baseline = height - COLUMN_LABEL_BAND
        every = -(-len(keys) // MAX_COLUMN_LABELS)
        bars = []
        for i, key in enumerate(keys):
            row = by_key.get(key)
            amount, count = (row.amount, row.count) if row else (0, 0)
            length = _length(amount, max_amount, baseline - COLUMN_TOP_PAD)
            x = round(i * slot + (slot - column) / 2, 2)
            top = round(baseline - length, 2)
            bars.append(Bar(key, label(key), amount, count, x, top, round(column, 2), length, i % every == 0))
        charts.append(Chart(currency, width, height, bars, max_amount, baseline, len(keys) <= MAX_COLUMN_VALUES))
    return charts


def bar_charts(rows: Iterable, *, label: Callable[[str], str] = str, width: float = BAR_WIDTH) -> list[Chart]:
    """Horizontal bars, one row each, largest amount first, scaled to the largest amount of the currency."""
    charts = []
    for currency, currency_rows in _by_currency(rows).items():
        ordered = sorted(currency_rows, key=lambda row: (-row.amount, row.key))
        max_amount = ordered[0].amount
        offset = (BAR_ROW_HEIGHT - BAR_THICKNESS) / 2
        bars = [
            Bar(
                row.key,
                label(row.key),
                row.amount,
                row.count,
                BAR_LABEL_WIDTH,
                i * BAR_ROW_HEIGHT + offset,
                _length(row.amount, max_amount, width),
                BAR_THICKNESS,
            )
            for i, row in enumerate(ordered)
        ]
        total_width = BAR_LABEL_WIDTH + width + BAR_VALUE_WIDTH
        charts.append(Chart(currency, total_width, len(bars) * BAR_ROW_HEIGHT, bars, max_amount))
    return charts
