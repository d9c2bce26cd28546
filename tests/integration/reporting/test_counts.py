"""The counters of distinct items and of median values per calendar period (`kpi_counts`):
they always equal a count of the rows they stand for, however the events arrive (SQLite and
PostgreSQL)."""

from __future__ import annotations

from typing import Any

from alembic import command
from sqlalchemy import func, select, union_all

from kernel.migrations import alembic_config, upgrade
from services.reporting import projection
from services.reporting.app import MIGRATIONS
from services.reporting.models import KpiCount, KpiItem, KpiValue
from tests.integration.reporting import builders as b
from tests.integration.reporting.conftest import Kpis

Bucket = tuple[str, str, str, str, str]
"""kpi, dimension, grain, period, key."""
Counters = dict[Bucket, int]


def _bucket(kpi: str, grain: str, period: str, dimension: str = "", key: str = "") -> Bucket:
    return (kpi, dimension, grain, period, key)


async def _counters(kpis: Kpis) -> Counters:
    async with kpis.sessionmaker() as session:
        rows = await session.execute(
            select(
                KpiCount.kpi,
                KpiCount.dimension,
                KpiCount.grain,
                KpiCount.period,
                KpiCount.key,
                KpiCount.size,
            )
        )
        return {(k, d, g, p, key): int(n) for k, d, g, p, key, n in rows}


async def _recount(kpis: Kpis) -> Counters:
    """The same, counted from the item and value rows of the calendar periods."""

    def counted(table: type[KpiItem] | type[KpiValue]) -> Any:
        columns = (table.kpi, table.dimension, table.grain, table.period, table.key)
        return select(*columns, func.count()).where(table.grain != "day").group_by(*columns)

    async with kpis.sessionmaker() as session:
        rows = await session.execute(union_all(counted(KpiItem), counted(KpiValue)))
        return {(k, d, g, p, key): int(n) for k, d, g, p, key, n in rows}


async def test_the_counters_count_the_items_and_values_of_calendar_periods(kpis: Kpis) -> None:
    await kpis.log(b.scenario(), batch=3)
    found = await _counters(kpis)
    assert found == await _recount(kpis)
    assert found[_bucket("smes_served", "month", "2026-01")] == 1  # f1 served twice
    assert found[_bucket("smes_served", "quarter", "2026-Q1", "centre", b.CENTRE_B)] == 1
    assert found[_bucket("hours_to_first_introduction", "year", "2026")] == 2
    assert found[_bucket("days_to_decision", "month", "2026-01")] == 2
    assert {grain for _, _, grain, _, _ in found} == {"month", "quarter", "year"}


async def test_a_replayed_event_or_an_item_seen_before_is_not_counted_again(kpis: Kpis) -> None:
    events = b.scenario()
    await kpis.log(events)
    expected = await _counters(kpis)
    await kpis.log(events, batch=5)  # redelivered: already in the log
    assert await _counters(kpis) == expected
    small = b.firm("f1", "small")
    again = [  # f1 served again in January, in one batch and then alone
        b.introduction("i8", "d1", small, b.at(2026, 1, 25)),
        b.introduction("i9", "d1", small, b.at(2026, 1, 26)),
    ]
    await kpis.log(again, batch=2)
    await kpis.log([b.introduction("i10", "d1", small, b.at(2026, 1, 27))])
    found = await _counters(kpis)
    assert found[_bucket("smes_served", "month", "2026-01")] == 1
    assert found == await _recount(kpis)


async def test_a_stream_reset_and_replayed_gives_the_same_counters(kpis: Kpis) -> None:
    events = b.scenario()
    await kpis.log(events)
    expected = await _counters(kpis)
    async with kpis.sessionmaker() as session:
        await projection.reset_stream(session, "matching")
        await session.commit()
    left = await _counters(kpis)
    assert left and all(k == "days_to_decision" for k, _, _, _, _ in left)  # membership's
    await kpis.log([e for e in events if e.type.split(".")[1] == "matching"], batch=4)
    assert await _counters(kpis) == expected


async def test_the_migration_fills_the_counters_from_the_aggregates(
    kpis: Kpis, database_url: str
) -> None:
    await kpis.log(b.scenario(), batch=4)
    expected = await _counters(kpis)
    command.downgrade(alembic_config(MIGRATIONS, database_url), "reporting_0003")
    upgrade(MIGRATIONS, database_url)
    assert await _counters(kpis) == expected


async def test_the_backfill_from_the_log_gives_the_same_counters(kpis: Kpis) -> None:
    await kpis.log(b.scenario(), batch=4)
    expected = await _counters(kpis)
    async with kpis.sessionmaker() as session:
        connection = await session.connection()
        await connection.run_sync(projection.backfill)
        await session.commit()
    assert await _counters(kpis) == expected
