"""The KPIs of the supply-chain challenges (issue #13), on SQLite and PostgreSQL: challenge and
expression events published to the matching stream, consumed by the app, read over HTTP by
period and dimension, in the periodic report and its exports; the demands backing challenges
left out of the demand KPIs; the migration that fills them from the events already logged, and
the rebuild from the streams."""

from __future__ import annotations

import csv
import io
from typing import Any

from alembic import command
from openpyxl import load_workbook
from sqlalchemy import update

from kernel.migrations import alembic_config, upgrade
from services.reporting.app import MIGRATIONS
from services.reporting.models import StoredEvent
from services.reporting.rebuild import rebuild
from tests.integration.reporting import builders as b
from tests.integration.reporting.conftest import (
    ANONYMOUS,
    REGION,
    Kpis,
    Rows,
    Service,
    centre,
    get_json,
    rows_of,
)

A, B = b.CENTRE_A, b.CENTRE_B
KPIS = (
    "challenges_published",
    "challenges_awarded",
    "challenges_closed_without_award",
    "expressions_submitted",
    "expressions_per_challenge",
    "smes_in_awarded_teams",
    "challenge_value_awarded_eur",
    "teams_invited",
)
DEMAND_KPIS = (
    "demands_received",
    "smes_served",
    "match_rate",
    "hours_to_first_introduction",
    "introductions_requested",
    "introduction_acceptance_rate",
    "consortia_proposed",
)
ENGAGEMENT_KPIS = (
    "engagements_opened",
    "cross_centre_engagements",
    "enterprises_cooperating_with_research",
)
BY = ("centre", "province", "sector", "size_class", "kind")
MARCH = {
    "challenges_published": 3,
    "challenges_awarded": 0,
    "challenges_closed_without_award": 0,
    "expressions_submitted": 4,
    "expressions_per_challenge": None,
    "smes_in_awarded_teams": 0,
    "challenge_value_awarded_eur": "0.00",
    "teams_invited": 1,
    # SME_2's own demand alone: the three backing demands, the ranking of one, the invitation's
    # introduction and its acceptance are left out
    "demands_received": 1,
    "smes_served": 1,
    "match_rate": "100.00",
    "hours_to_first_introduction": "24.00",
    "introductions_requested": 1,
    "introduction_acceptance_rate": None,
    "consortia_proposed": 0,
    "engagements_opened": 0,
    "cross_centre_engagements": 0,
    "enterprises_cooperating_with_research": 0,
}
APRIL = {
    "challenges_published": 0,
    "challenges_awarded": 2,
    "challenges_closed_without_award": 1,
    "expressions_submitted": 0,
    "expressions_per_challenge": "1.33",  # (2 + 1 + 1) / 3
    "smes_in_awarded_teams": 2,  # SME_1 in two awarded teams counts once
    "challenge_value_awarded_eur": "100000.00",
    "teams_invited": 0,
    "demands_received": 0,
    "smes_served": 0,
    "match_rate": None,
    "hours_to_first_introduction": None,
    "introductions_requested": 0,
    "introduction_acceptance_rate": None,
    "consortia_proposed": 0,
    # the award's engagements with lab l1 and with SME_1 (no lab)
    "engagements_opened": 2,
    "cross_centre_engagements": 0,
    "enterprises_cooperating_with_research": 1,
}
ALL = (*KPIS, *DEMAND_KPIS, *ENGAGEMENT_KPIS)


async def _get(svc: Service, path: str, **params: str) -> dict[str, Any]:
    return await get_json(svc.client, path, **params)


async def _kpis(svc: Service, **params: str) -> Rows:
    return rows_of((await _get(svc, "/kpis", kpi=",".join(ALL), **params))["items"])


async def _reports(svc: Service) -> int:
    return len((await _get(svc, "/reports"))["items"])


async def test_challenge_kpis_by_period_and_dimension_and_in_the_report(svc: Service) -> None:
    events = b.challenges_scenario()
    await svc.publish(events)
    await svc.wait_stored(len(events))

    months = await _kpis(svc, **{"from": "2026-03", "to": "2026-04"}, by=",".join(BY))
    for label, expected in (("2026-03", MARCH), ("2026-04", APRIL)):
        assert {kpi: months[(kpi, label, None, None)] for kpi in ALL} == expected, label

    def march(kpi: str, dimension: str, key: str) -> Any:
        return months[(kpi, "2026-03", dimension, key)]

    def april(kpi: str, dimension: str, key: str) -> Any:
        return months[(kpi, "2026-04", dimension, key)]

    # challenges count under their publisher, and the centre that published one for it
    for dimension, key in (("province", "LI"), ("sector", "C"), ("size_class", "large")):
        assert march("challenges_published", dimension, key) == 3
    assert march("challenges_published", "centre", A) == 1
    assert march("teams_invited", "centre", A) == 1  # the invited team's lab
    # expressions count where the answer comes from
    assert march("expressions_submitted", "kind", "firm") == 3
    assert march("expressions_submitted", "kind", "centre") == 1
    assert march("expressions_submitted", "province", "LU") == 3
    assert march("expressions_submitted", "province", "PI") == 2
    assert march("expressions_submitted", "size_class", "micro") == 3
    assert march("expressions_submitted", "sector", "K") == 3
    assert march("expressions_submitted", "centre", A) == 1
    assert march("expressions_submitted", "centre", B) == 1
    # the backing demands are large BIG's: none counts under it
    assert ("demands_received", "2026-03", "size_class", "large") not in months
    assert ("introductions_requested", "2026-03", "province", "LI") not in months
    # SMEs of awarded teams, each under its own keys
    for dimension, key in (
        ("size_class", "small"),
        ("size_class", "micro"),
        ("province", "PI"),
        ("province", "LU"),
        ("sector", "C"),
        ("sector", "K"),
        ("centre", A),
    ):
        assert april("smes_in_awarded_teams", dimension, key) == 1, (dimension, key)
    assert ("smes_in_awarded_teams", "2026-04", "size_class", "large") not in months
    assert april("challenge_value_awarded_eur", "province", "LI") == "100000.00"
    assert april("challenge_value_awarded_eur", "centre", A) == "80000.00"
    assert april("expressions_per_challenge", "centre", A) == "1.50"  # ch1 and ch2
    assert april("challenges_awarded", "centre", A) == 1
    assert april("challenges_closed_without_award", "centre", A) == 1
    # the engagement with SME_1 has no lab: in the total, under no centre
    assert april("engagements_opened", "centre", A) == 1
    assert april("engagements_opened", "size_class", "large") == 2
    assert april("engagements_opened", "kind", "joint_research") == 2

    quarter = await _kpis(svc, **{"from": "2026-Q2", "to": "2026-Q2"}, period="quarter")
    assert quarter[("smes_in_awarded_teams", "2026-Q2", None, None)] == 2
    assert quarter[("expressions_per_challenge", "2026-Q2", None, None)] == "1.33"
    breakdown = await _get(
        svc, "/breakdown", kpi="smes_in_awarded_teams", by="size_class", period="2026-Q2"
    )
    assert dict(zip(breakdown["labels"], breakdown["values"], strict=True)) == {
        "micro": 1,
        "small": 1,
    }
    assert breakdown["total"] == 2
    series = await _get(
        svc, "/timeseries", kpi="challenges_published", **{"from": "2026-01", "to": "2026-06"}
    )
    assert series["series"][0]["data"] == [0, 0, 3, 0, 0, 0]

    # a centre reads the totals and its own row
    response = await svc.client.get(
        "/kpis",
        params={"from": "2026-03", "to": "2026-03", "kpi": "expressions_submitted", "by": "centre"},
        headers=centre(B),
    )
    assert rows_of(response.json()["items"]) == {
        ("expressions_submitted", "2026-03", None, None): 4,
        ("expressions_submitted", "2026-03", "centre", B): 1,
    }

    # The periodic reports list them, with their breakdowns and the comparison.
    response = await svc.client.post("/reports", json={"period": "2026-Q1"}, headers=REGION)
    assert response.status_code == 201, response.text
    first = {r["kpi"]: r for r in response.json()["comparison"]}
    assert first["challenges_published"]["current"] == 3
    assert first["demands_received"]["current"] == 1
    response = await svc.client.post("/reports", json={"period": "2026-Q2"}, headers=REGION)
    assert response.status_code == 201, response.text
    report = response.json()
    compared = {r["kpi"]: r for r in report["comparison"]}
    assert {kpi: compared[kpi]["current"] for kpi in KPIS} == {kpi: APRIL[kpi] for kpi in KPIS}
    assert compared["challenges_published"] == {
        "kpi": "challenges_published",
        "current": 0,
        "previous": 3,
        "change": -3,
        "change_pct": "-100.00",
    }
    content = rows_of(report["kpis"])
    assert content[("smes_in_awarded_teams", "2026-Q2", "province", "LU")] == 1
    assert content[("challenge_value_awarded_eur", "2026-Q2", "centre", A)] == "80000.00"

    exported = await svc.client.get(f"/reports/{report['id']}.csv", headers=REGION)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    value = next(r for r in rows if r["kpi"] == "challenge_value_awarded_eur" and not r["key"])
    assert (value["title"], value["unit"], value["value"]) == (
        "Value of challenges awarded",
        "EUR",
        "100000.00",
    )
    assert any(
        r["kpi"] == "smes_in_awarded_teams" and r["dimension"] == "sector" and r["key"] == "K"
        for r in rows
    )
    exported = await svc.client.get(f"/reports/{report['id']}.xlsx", headers=REGION)
    workbook = load_workbook(io.BytesIO(exported.content))
    totals = {row[0]: row[3] for row in workbook["totals"].iter_rows(min_row=8, values_only=True)}
    assert totals["challenges_awarded"] == 2 and totals["smes_in_awarded_teams"] == 2
    assert totals["challenge_value_awarded_eur"] == 100000.0
    sizes = list(workbook["size_class"].iter_rows(min_row=2, values_only=True))
    assert ("smes_in_awarded_teams", "SMEs in awarded teams", "count", "micro") in {
        row[:4] for row in sizes
    }
    exported = await svc.client.get(f"/reports/{report['id']}.pdf", headers=REGION)
    assert exported.content.startswith(b"%PDF-")

    # A rebuild from the streams gives the same figures.
    await rebuild(svc.settings(lease_ttl=0.3))
    assert await _kpis(svc, **{"from": "2026-03", "to": "2026-04"}, by=",".join(BY)) == months


async def test_bad_input_on_the_new_kpis_changes_nothing(svc: Service) -> None:
    for params in (
        {"kpi": "challenge_published"},
        {"kpi": "challenges_published,expressions"},
        {"kpi": "smes_in_awarded_teams", "by": "respondent"},
        {"kpi": "teams_invited", "from": "2026-04", "to": "2026-03"},
    ):
        response = await svc.client.get("/kpis", params=params, headers=REGION)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"][0]["field"] in ("kpi", "by", "from")
    response = await svc.client.get("/kpis", params={"kpi": "challenge_published"}, headers=REGION)
    assert "challenges_published" in response.json()["errors"][0]["message"]
    response = await svc.client.get(
        "/breakdown",
        params={"kpi": "smes_in_awarded_teams", "by": "size_class"},
        headers=centre(A),
    )
    assert response.status_code == 403
    response = await svc.client.get("/kpis", params={"kpi": "teams_invited"}, headers=ANONYMOUS)
    assert response.status_code == 403

    before = await _reports(svc)
    for body in ({"period": "2026-Q5"}, {"period": "2026-04-31"}, {"period": "2026-12"}):
        response = await svc.client.post("/reports", json=body, headers=REGION)
        assert response.status_code in (409, 422), (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    response = await svc.client.post("/reports", json={"period": "2026-Q2"}, headers=centre(A))
    assert response.status_code == 403
    assert await _reports(svc) == before == 0

    definitions = (await svc.client.get("/kpis/definitions", headers=ANONYMOUS)).json()["items"]
    found = {d["kpi"]: d for d in definitions}
    assert set(KPIS) <= set(found)
    assert found["smes_in_awarded_teams"]["events"] == ["clock.matching.challenge.awarded.v1"]
    assert found["expressions_per_challenge"]["aggregation"] == "mean"
    assert "clock.matching.demand.submitted.v1" in found["introductions_requested"]["events"]
    assert all(found[kpi]["definition"] for kpi in KPIS)


async def test_the_order_the_batching_and_a_replay_do_not_matter(kpis: Kpis) -> None:
    events = b.challenges_scenario()
    periods = ("2026-03", "2026-04", "2026-Q2")
    await kpis.log(events)
    expected = await kpis.items(periods=periods[:2], by=BY, kpis=ALL)
    quarter = await kpis.items(periods=periods[2:], kpis=KPIS)
    assert quarter[KPIS.index("smes_in_awarded_teams")]["value"] == 2
    await kpis.log(events, batch=5)  # redelivered: already in the log
    assert await kpis.items(periods=periods[:2], by=BY, kpis=ALL) == expected
    for batch in (3, 100):
        await kpis.reset()
        await kpis.log(events, batch=batch)
        assert await kpis.items(periods=periods[:2], by=BY, kpis=ALL) == expected
    # the other activity of the stream changes none of them
    await kpis.reset()
    await kpis.log([*b.scenario(), *events], batch=7)
    assert await kpis.items(periods=periods[:2], by=BY, kpis=KPIS) == [
        i for i in expected if i["kpi"] in KPIS
    ]


async def test_the_migration_fills_them_and_corrects_the_demand_kpis(
    kpis: Kpis, database_url: str
) -> None:
    """Challenge events logged by a reporting that did not know them: their demands counted
    as any demand. reporting_0007 projects the challenges, recomputes the demand KPIs without
    them, and leaves the other KPIs as they are."""
    events = [*b.scenario(), *b.challenges_scenario()]
    periods = ("2026-01", "2026-02", "2026-03", "2026-04")
    await kpis.log(events, batch=4)
    expected = await kpis.items(periods=periods, by=BY)

    await kpis.reset()
    backing = [
        e
        for e in events
        if e.type == "clock.matching.demand.submitted.v1" and e.data.model_dump()["challenge_id"]
    ]
    unaware = {
        e.id: e.model_copy(update={"data": e.data.model_copy(update={"challenge_id": None})})
        for e in backing
    }
    await kpis.log([unaware.get(e.id, e) for e in events], batch=4)
    async with kpis.sessionmaker() as session:
        for event in backing:  # the log holds the events as they were sent
            await session.execute(
                update(StoredEvent)
                .where(StoredEvent.id == str(event.id))
                .values(data=event.data.model_dump(mode="json"))
            )
        await session.commit()
    command.downgrade(alembic_config(MIGRATIONS, database_url), "reporting_0006")
    before = rows_of(await kpis.items(periods=periods, kpis=ALL))
    assert all(before[(kpi, p, None, None)] in (0, "0.00", None) for kpi in KPIS for p in periods)
    assert before[("demands_received", "2026-03", None, None)] == 4
    assert before[("introductions_requested", "2026-03", None, None)] == 2

    upgrade(MIGRATIONS, database_url)
    assert await kpis.items(periods=periods, by=BY) == expected
    # and the demands are known as backing challenges from now on
    late = b.introduction("i-late", "d-ch1", b.BIG, b.at(2026, 3, 25))
    await kpis.log([late])
    assert await kpis.items(periods=periods, by=BY) == expected
