from __future__ import annotations

from datetime import date

import pytest

from services.reporting.periods import buckets, containing, parse_day, parse_period


@pytest.mark.parametrize(
    ("text", "start", "end", "label"),
    [
        ("2026", date(2026, 1, 1), date(2027, 1, 1), "2026"),
        ("2026-Q3", date(2026, 7, 1), date(2026, 10, 1), "2026-Q3"),
        ("2026-Q4", date(2026, 10, 1), date(2027, 1, 1), "2026-Q4"),
        ("2026-09", date(2026, 9, 1), date(2026, 10, 1), "2026-09"),
        ("2026-12", date(2026, 12, 1), date(2027, 1, 1), "2026-12"),
    ],
)
def test_parse_period(text: str, start: date, end: date, label: str) -> None:
    period = parse_period(text)
    assert (period.start, period.end, period.label) == (start, end, label)


@pytest.mark.parametrize("text", ["", "26", "2026-Q5", "2026-13", "2026-00", "2026-9", "Q3-2026"])
def test_malformed_periods_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_period(text)


def test_previous_periods() -> None:
    assert parse_period("2026-01").previous().label == "2025-12"
    assert parse_period("2026-Q1").previous().label == "2025-Q4"
    assert parse_period("2026").previous().label == "2025"


def test_buckets_cover_the_range_inclusively() -> None:
    labels = [b.label for b in buckets(date(2025, 11, 15), date(2026, 2, 1), "month")]
    assert labels == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert [b.label for b in buckets(date(2026, 2, 1), date(2026, 7, 1), "quarter")] == [
        "2026-Q1",
        "2026-Q2",
        "2026-Q3",
    ]
    assert containing(date(2026, 12, 31), "year").label == "2026"
    with pytest.raises(ValueError):
        buckets(date(2026, 2, 1), date(2026, 1, 1), "month")


def test_days_accept_periods() -> None:
    assert parse_day("2026-03-04") == date(2026, 3, 4)
    assert parse_day("2026-Q1") == date(2026, 1, 1)
    assert parse_day("2026-Q1", end=True) == date(2026, 3, 31)
    with pytest.raises(ValueError):
        parse_day("2026-02-30")


def test_custom_ranges() -> None:
    (period,) = buckets(date(2026, 1, 16), date(2026, 2, 15), "range")
    assert period.label == "2026-01-16/2026-02-15"
    assert period.end == date(2026, 2, 16)
    assert period.previous().label == "2025-12-16/2026-01-15"
