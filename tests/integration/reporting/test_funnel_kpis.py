"""The counts of the matching funnel's middle steps, on SQLite and PostgreSQL: demands matched
and introductions accepted are the numerators of the match and acceptance rates, by period and
dimension; the migration that adds them fills them from the events already logged and leaves
every other figure, and the state later events read, as it was."""

from __future__ import annotations

from alembic import command

from kernel.migrations import alembic_config, upgrade
from services.reporting.app import MIGRATIONS
from tests.integration.reporting import builders as b
from tests.integration.reporting.conftest import Kpis, rows_of

KPIS = ("demands_matched", "introductions_accepted")
RATES = {"demands_matched": "match_rate", "introductions_accepted": "introduction_acceptance_rate"}
BY = ("centre", "province", "sector", "size_class")
PERIODS = ("2026-01", "2026-02", "2026-03", "2026-04")


async def test_each_count_is_its_rates_numerator(kpis: Kpis) -> None:
    await kpis.log([*b.scenario(), *b.challenges_scenario()], batch=5)
    rows = rows_of(await kpis.items(periods=PERIODS, by=BY))
    # January of the scenario: d1 and d3 of three demands matched; i1 accepted, i2 declined.
    assert rows[("demands_received", "2026-01", None, None)] == 3
    assert rows[("demands_matched", "2026-01", None, None)] == 2
    assert rows[("introductions_accepted", "2026-01", None, None)] == 1
    for (kpi, period, dimension, key), value in rows.items():
        if kpi not in KPIS:
            continue
        rate = rows.get((RATES[kpi], period, dimension, key))
        if rate is None:  # nothing to divide: nothing counted either
            assert value == 0, (kpi, period, dimension, key)
            continue
        # The rate's denominator: demands received, or introductions answered.
        denominator = value * 100 / float(rate) if float(rate) else None
        assert denominator is None or abs(denominator - round(denominator)) < 0.05, (
            kpi,
            period,
            dimension,
            key,
        )


async def test_the_migration_fills_them_and_changes_nothing_else(
    kpis: Kpis, database_url: str
) -> None:
    events = [*b.scenario(), *b.challenges_scenario()]
    await kpis.log(events, batch=4)
    expected = await kpis.items(periods=PERIODS, by=BY)

    command.downgrade(alembic_config(MIGRATIONS, database_url), "reporting_0007")
    before = rows_of(await kpis.items(periods=PERIODS, kpis=KPIS))
    assert all(v == 0 for v in before.values())

    upgrade(MIGRATIONS, database_url)
    assert await kpis.items(periods=PERIODS, by=BY) == expected
    # The demands' state came out as it was: a later introduction to a demand introduced
    # before is no first introduction, as it would not have been without the migration.
    late = b.introduction("i-late", "d1", b.SME_1, b.at(2026, 3, 25))
    await kpis.log([late])
    after = await kpis.items(periods=PERIODS, by=BY)

    await kpis.reset()
    await kpis.log([*events, late], batch=4)
    assert after == await kpis.items(periods=PERIODS, by=BY)
