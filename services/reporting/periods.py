"""Periods: `2026` (year), `2026-Q3` (quarter), `2026-09` (month); buckets of a date range."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

Granularity = Literal["month", "quarter", "year"]
GRANULARITIES: tuple[Granularity, ...] = ("month", "quarter", "year")
Kind = Literal["month", "quarter", "year", "range"]

_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date
    """First day after the period (exclusive)."""
    granularity: Kind

    @property
    def label(self) -> str:
        if self.granularity == "range":
            return f"{self.start.isoformat()}/{date.fromordinal(self.end.toordinal() - 1)}"
        if self.granularity == "year":
            return f"{self.start.year:04d}"
        if self.granularity == "quarter":
            return f"{self.start.year:04d}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year:04d}-{self.start.month:02d}"

    @property
    def start_at(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)

    @property
    def end_at(self) -> datetime:
        return datetime(self.end.year, self.end.month, self.end.day, tzinfo=UTC)

    def previous(self) -> Period:
        if self.granularity == "range":
            days = self.end.toordinal() - self.start.toordinal()
            return custom(date.fromordinal(self.start.toordinal() - days), self.start)
        return containing(date.fromordinal(self.start.toordinal() - 1), self.granularity)

    def next(self) -> Period:
        if self.granularity == "range":
            days = self.end.toordinal() - self.start.toordinal()
            return custom(self.end, date.fromordinal(self.end.toordinal() + days))
        return containing(self.end, self.granularity)


def custom(start: date, end: date) -> Period:
    """A custom range: from `start` to the day before `end`."""
    if end <= start:
        raise ValueError("the range ends before it starts")
    return Period(start, end, "range")


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def containing(day: date, granularity: Granularity) -> Period:
    """The period of `granularity` that contains `day`."""
    if granularity == "year":
        start = date(day.year, 1, 1)
        return Period(start, date(day.year + 1, 1, 1), "year")
    if granularity == "quarter":
        start = date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
        return Period(start, _add_months(start, 3), "quarter")
    start = date(day.year, day.month, 1)
    return Period(start, _add_months(start, 1), "month")


def parse_period(text: str) -> Period:
    """A period label; raises ValueError."""
    text = text.strip()
    if match := _YEAR.match(text):
        year = int(match.group(1))
        if year < 1:
            raise ValueError(f"not a period: {text!r}")
        return containing(date(year, 1, 1), "year")
    if match := _QUARTER.match(text):
        return containing(
            date(int(match.group(1)), (int(match.group(2)) - 1) * 3 + 1, 1), "quarter"
        )
    if match := _MONTH.match(text):
        return containing(date(int(match.group(1)), int(match.group(2)), 1), "month")
    raise ValueError(f"not a period (use 2026, 2026-Q3 or 2026-09): {text!r}")


def parse_day(text: str, *, end: bool = False) -> date:
    """A date `YYYY-MM-DD`, or a period label (its first day, or its last with `end`)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    period = parse_period(text)
    return date.fromordinal(period.end.toordinal() - 1) if end else period.start


def buckets(start: date, last: date, granularity: Kind) -> list[Period]:
    """Every period of `granularity` from the one containing `start` to the one containing
    `last` (inclusive); for `range`, the single period from `start` to `last` inclusive."""
    if last < start:
        raise ValueError("the range ends before it starts")
    if granularity == "range":
        return [custom(start, date.fromordinal(last.toordinal() + 1))]
    found = [containing(start, granularity)]
    while found[-1].end <= last:
        found.append(found[-1].next())
    return found
