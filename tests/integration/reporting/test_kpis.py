"""KPI values from the aggregates, on a database built by the migrations (SQLite and
PostgreSQL): events are logged and projected as the consumers do, then queried."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from kernel.events import CloudEvent
from services.reporting import projection, queries, service
from services.reporting.kpis import CATALOGUE, KPI_NAMES
from services.reporting.periods import custom
from tests.integration.reporting import builders as b
from tests.integration.reporting.conftest import Kpis, Values

A, B = b.CENTRE_A, b.CENTRE_B


def total(found: Values, kpi: str, period: str) -> Any:
    return found[(kpi, period, None, None)]


async def test_catalogue_stocks_and_growth(kpis: Kpis) -> None:
    await kpis.log(b.scenario())
    v = await kpis.values()
    assert total(v, "labs_published", "2026-01") == 2
    assert total(v, "labs_published", "2026-02") == 1
    assert total(v, "equipment_published", "2026-02") == 2
    assert total(v, "equipment_shareable", "2026-01") == 1
    assert total(v, "equipment_shareable", "2026-02") == 2
    assert total(v, "catalogue_size", "2026-01") == 6
    assert total(v, "catalogue_growth", "2026-01") == 6
    assert total(v, "catalogue_growth", "2026-02") == -1
    assert total(v, "duplicates_found", "2026-01") == 1
    assert total(v, "duplicates_resolved", "2026-02") == 1


async def test_membership_figures(kpis: Kpis) -> None:
    await kpis.log(b.scenario())
    v = await kpis.values()
    assert total(v, "members_active", "2026-01") == 2
    assert total(v, "members_active", "2026-02") == 1
    assert total(v, "members_suspended", "2026-02") == 1
    assert total(v, "members_admitted", "2026-01") == 2
    assert total(v, "members_admitted", "2026-02") == 0
    assert total(v, "applications_decided", "2026-01") == 2
    assert total(v, "days_to_decision", "2026-01") == "15.00"
    assert total(v, "days_to_decision", "2026-02") is None


async def test_matching_figures(kpis: Kpis) -> None:
    await kpis.log(b.scenario())
    v = await kpis.values()
    assert total(v, "demands_received", "2026-01") == 3
    assert total(v, "match_rate", "2026-01") == "66.67"
    assert total(v, "smes_served", "2026-01") == 1  # f1 twice; f2 is large
    assert total(v, "introductions_requested", "2026-01") == 3
    # d1: 4 h; d2: 24 h → median 14
    assert total(v, "hours_to_first_introduction", "2026-01") == "14.00"
    assert total(v, "introduction_acceptance_rate", "2026-01") == "50.00"
    assert total(v, "engagements_opened", "2026-01") == 2
    assert total(v, "engagements_closed", "2026-02") == 2
    assert total(v, "engagement_value_eur", "2026-02") == "14500.50"
    assert total(v, "average_satisfaction", "2026-02") == "3.50"
    assert total(v, "cross_centre_engagements", "2026-01") == 1
    assert total(v, "consortia_formed", "2026-01") == 1
    assert total(v, "enterprises_cooperating_with_research", "2026-01") == 1
    assert total(v, "smes_innovating", "2026-02") == 1  # the large firm does not count
    assert total(v, "equipment_access_hours", "2026-02") == "6.50"


async def test_breakdowns(kpis: Kpis) -> None:
    await kpis.log(b.scenario())
    v = await kpis.values(("centre", "kind", "size_class", "s3", "province"))
    assert v[("labs_published", "2026-01", "centre", A)] == 1
    assert v[("labs_published", "2026-02", "centre", B)] == 0
    assert v[("labs_published", "2026-02", "province", "PI")] == 0
    # a cross-centre engagement counts once per centre, once in the total
    assert v[("engagements_opened", "2026-01", "centre", A)] == 2
    assert v[("engagements_opened", "2026-01", "centre", B)] == 1
    assert v[("engagements_opened", "2026-01", "kind", "service")] == 1
    assert v[("engagements_closed", "2026-02", "kind", "joint_research")] == 1
    assert v[("demands_received", "2026-01", "size_class", "large")] == 1
    assert v[("introductions_requested", "2026-01", "s3", "s3-a")] == 2
    assert v[("duplicates_found", "2026-01", "centre", B)] == 1
    assert v[("members_active", "2026-02", "centre", B)] == 0
    # a key with no fact in a period: zero for counts, null for an undefined ratio
    assert v[("demands_received", "2026-02", "size_class", "large")] == 0
    assert v[("match_rate", "2026-02", "size_class", "large")] is None


def _by_stream(events: list[CloudEvent[Any]], order: Sequence[str]) -> list[CloudEvent[Any]]:
    return [e for stream in order for e in events if e.type.split(".")[1] == stream]


async def test_the_order_of_the_streams_and_the_batching_do_not_matter(kpis: Kpis) -> None:
    by = ("centre", "province", "sector", "size_class", "s3", "ket", "kind")
    await kpis.log(b.scenario())
    expected = await kpis.items(by=by)
    for order, batch in (
        (("matching", "catalog", "membership"), 1),
        (("catalog", "membership", "matching"), 7),
        (("membership", "matching", "catalog"), 100),
    ):
        await kpis.reset()
        assert total(await kpis.values(), "labs_published", "2026-01") == 0
        await kpis.log(_by_stream(b.scenario(), order), batch=batch)
        assert await kpis.items(by=by) == expected, order


async def test_an_event_logged_twice_counts_once_and_unknown_types_are_ignored(
    kpis: Kpis,
) -> None:
    events = b.scenario()
    await kpis.log(events)
    expected = await kpis.items()
    unknown = b.build(events[0].data, "w1", b.at(2026, 1, 5)).model_copy(
        update={"type": "clock.catalog.widget.published.v1"}
    )
    await kpis.log([*events[:5], unknown], batch=3)
    assert await kpis.items() == expected


async def test_every_kpi_is_present_when_nothing_happened(kpis: Kpis) -> None:
    names = [k.kpi for k in CATALOGUE]
    assert len(names) == len(set(names)) >= 25
    assert all(k.definition and k.title and k.unit and k.events for k in CATALOGUE)
    items = await kpis.items(periods=["2026-01"])
    assert [i["kpi"] for i in items] == names
    assert all(i["value"] in (0, "0.00", None) for i in items)


async def test_a_late_event_changes_its_period(kpis: Kpis) -> None:
    await kpis.log(b.scenario())
    late = b.demand("d9", b.firm("f9"), b.at(2026, 1, 30) + timedelta(hours=1))
    before = await kpis.items(periods=["2026-01"], kpis=["demands_received"])
    await kpis.log([late])
    after = await kpis.items(periods=["2026-01"], kpis=["demands_received"])
    assert before[0]["value"] == 3 and after[0]["value"] == 4


async def test_stocks_carry_the_level_from_before_the_range(kpis: Kpis) -> None:
    await kpis.log(b.scenario())
    march = await kpis.items(periods=["2026-03", "2026-04"], kpis=["labs_published"], by=["centre"])
    assert [(i["key"], i["value"]) for i in march] == [
        (None, 1),
        (None, 1),
        (A, 1),
        (A, 1),
        (B, 0),
        (B, 0),
    ]
    december = await kpis.items(periods=["2025-12"], kpis=["labs_published"], by=["centre"])
    assert [(i["key"], i["value"]) for i in december] == [(None, 0)]  # no key seen yet


async def test_centre_names_come_from_membership_events(kpis: Kpis) -> None:
    await kpis.log(b.scenario())
    async with kpis.sessionmaker() as session:
        assert await service.centre_names(session) == {A: "Centre a", B: "Centre b"}


async def test_the_backfill_from_the_log_gives_the_same_aggregates(kpis: Kpis) -> None:
    by = ("centre", "s3", "kind")
    await kpis.log(b.scenario(), batch=4)
    expected = await kpis.items(by=by)
    async with kpis.sessionmaker() as session:
        connection = await session.connection()
        read = await connection.run_sync(projection.backfill)
        await session.commit()
    assert read == len(b.scenario())
    assert await kpis.items(by=by) == expected


async def test_a_custom_range_of_whole_months_reads_the_same_as_the_months(kpis: Kpis) -> None:
    """Calendar periods read the monthly and per-period aggregates, ranges the daily ones."""
    await kpis.log(b.scenario())
    by = ("centre", "s3", "kind", "size_class")
    for label, first, end in (
        ("2026-01", (2026, 1, 1), (2026, 2, 1)),
        ("2026-Q1", (2026, 1, 1), (2026, 4, 1)),
    ):
        calendar = await kpis.items(periods=[label], by=by)
        async with kpis.sessionmaker() as session:
            ranged = await queries.kpi_items(
                session, [custom(date(*first), date(*end))], KPI_NAMES, by
            )
        assert [(i["kpi"], i["key"], i["value"]) for i in ranged] == [
            (i["kpi"], i["key"], i["value"]) for i in calendar
        ]


async def test_medians_of_an_even_and_an_odd_number_of_values(kpis: Kpis) -> None:
    firm = b.firm("f1")
    events = []
    for index, hours in enumerate((1, 2, 4, 10)):
        demand = f"d{index}"
        events.append(b.demand(demand, firm, b.at(2026, 5, 4)))
        events.append(
            b.introduction(f"i{index}", demand, firm, b.at(2026, 5, 4) + timedelta(hours=hours))
        )
    await kpis.log(events[:6])
    odd = await kpis.items(periods=["2026-05"], kpis=["hours_to_first_introduction"])
    await kpis.log(events[6:])
    even = await kpis.items(periods=["2026-05"], kpis=["hours_to_first_introduction"])
    quarter = await kpis.items(periods=["2026-Q2"], kpis=["hours_to_first_introduction"])
    assert odd[0]["value"] == "2.00"  # 1, 2, 4
    assert even[0]["value"] == quarter[0]["value"] == "3.00"  # 1, 2, 4, 10
