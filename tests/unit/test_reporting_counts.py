"""What a batch of facts adds to the counters of calendar periods (`kpi_counts`), pure: the
database only says which item rows were new."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from services.reporting.facts import Fact
from services.reporting.projection import Additions, scaled

WHEN = datetime(2026, 1, 15, 10, tzinfo=UTC)
DIMS = {"centre": ["c1"]}


def _sizes(additions: Additions, new_items: list[tuple[str, ...]]) -> dict[tuple[str, ...], int]:
    return {
        tuple(row[c] for c in ("kpi", "dimension", "grain", "period", "key")): row["size"]
        for row in additions.size_rows(new_items)
    }


def test_every_value_of_a_median_kpi_counts_in_its_calendar_periods() -> None:
    additions = Additions()
    additions.add(
        [
            Fact("hours_to_first_introduction", WHEN, DIMS, Decimal(4)),
            Fact("hours_to_first_introduction", WHEN, DIMS, Decimal(4)),
        ]
    )
    sizes = _sizes(additions, [])
    assert sizes[("hours_to_first_introduction", "", "month", "2026-01", "")] == 2
    assert sizes[("hours_to_first_introduction", "centre", "year", "2026", "c1")] == 2
    assert {bucket[2] for bucket in sizes} == {"month", "quarter", "year"}  # not by day
    assert scaled(Decimal(4)) in {row[5] for row in additions.values}


def test_an_item_counts_once_and_only_where_the_database_found_it_new() -> None:
    additions = Additions()
    served = Fact("smes_served", WHEN, DIMS, key="f1")
    additions.add([served, served])  # the same item twice in a batch: one row
    rows = additions.calendar_item_rows()
    assert len(rows) == 2 * 3  # total and centre, by month, quarter and year
    new_this_quarter = [("smes_served", "", "quarter", "2026-Q1", "")]  # the rest was there
    assert _sizes(additions, new_this_quarter) == {new_this_quarter[0]: 1}
