"""The KPIs of the initiatives register (issue #12), on SQLite and PostgreSQL: initiative events
published to the catalogue stream, consumed by the app, read over HTTP by period and dimension
(`programme` among them), in the periodic report and its exports; the migration that fills
them from the events already logged, and the rebuild from the streams."""

from __future__ import annotations

import csv
import io
from typing import Any

from alembic import command
from openpyxl import load_workbook

from kernel.migrations import alembic_config, upgrade
from services.reporting.app import MIGRATIONS
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

A, B, C = b.CENTRE_A, b.CENTRE_B, b.CENTRE_C
KPIS = (
    "initiatives_registered",
    "initiatives_active",
    "joint_actions_registered",
    "partnerships_confirmed",
    "centres_in_joint_actions",
    "initiative_public_funding_eur",
    "initiative_budget_eur",
    "training_hours",
    "training_participants",
    "dissemination_events_held",
    "dissemination_attendance",
    "initiative_overlaps_found",
    "initiative_overlaps_resolved",
    "initiative_overlaps_to_coordinate",
)
BY = ("centre", "province", "kind", "programme", "s3")
Q3 = {
    "initiatives_registered": 4,
    "initiatives_active": 3,
    "joint_actions_registered": 2,
    "partnerships_confirmed": 2,
    "centres_in_joint_actions": 2,
    "initiative_public_funding_eur": "1165000.00",
    "initiative_budget_eur": "1420000.00",
    "training_hours": "12.00",
    "training_participants": 25,
    "dissemination_events_held": 1,
    "dissemination_attendance": 85,
    "initiative_overlaps_found": 1,
    "initiative_overlaps_resolved": 1,
    "initiative_overlaps_to_coordinate": 1,
}
"""The totals of 2026-Q3 in `initiatives_scenario`."""


async def _get(svc: Service, path: str, **params: str) -> dict[str, Any]:
    return await get_json(svc.client, path, **params)


async def _kpis(svc: Service, **params: str) -> Rows:
    return rows_of((await _get(svc, "/kpis", kpi=",".join(KPIS), **params))["items"])


async def test_initiative_kpis_by_period_and_dimension_and_in_the_report(svc: Service) -> None:
    events = b.initiatives_scenario()
    await svc.publish(events)
    await svc.wait_stored(len(events))

    quarter = await _kpis(svc, **{"from": "2026-Q3", "to": "2026-Q3"}, period="quarter")
    assert {kpi: quarter[(kpi, "2026-Q3", None, None)] for kpi in KPIS} == Q3

    months = await _kpis(svc, **{"from": "2026-07", "to": "2026-10"}, by=",".join(BY))

    def month(kpi: str, label: str, dimension: str | None = None, key: str | None = None) -> Any:
        return months[(kpi, label, dimension, key)]

    # registered: once in the total, once for the lead and each confirmed partner
    assert [month("initiatives_registered", f"2026-{m:02}") for m in (7, 8, 9, 10)] == [2, 2, 0, 0]
    for key, count in ((A, 2), (B, 2), (C, 2)):
        assert (
            month("initiatives_registered", "2026-07", "centre", key)
            + month("initiatives_registered", "2026-08", "centre", key)
            == count
        )
    assert month("joint_actions_registered", "2026-07", "centre", B) == 2
    assert ("joint_actions_registered", "2026-08", "centre", C) not in months  # never joint
    for key, count in (("horizon_europe", 1), ("esf_tuscany", 1), ("pnrr", 0)):
        assert month("initiatives_registered", "2026-07", "programme", key) == count
    assert month("initiatives_registered", "2026-08", "kind", "dissemination_event") == 1
    assert month("initiatives_registered", "2026-07", "province", "PI") == 1
    assert month("initiatives_registered", "2026-08", "province", "LU") == 1
    # the stock of active initiatives at each month's end
    assert [month("initiatives_active", f"2026-{m:02}") for m in (7, 8, 9, 10)] == [2, 4, 3, 2]
    assert month("initiatives_active", "2026-10", "centre", B) == 1  # the project still runs
    # the funding corrected in August stays in July, adjusted by the difference
    assert month("initiative_public_funding_eur", "2026-07") == "865000.00"
    assert month("initiative_public_funding_eur", "2026-08") == "300000.00"
    assert month("initiative_public_funding_eur", "2026-07", "programme", "horizon_europe") == (
        "850000.00"
    )
    assert month("initiative_public_funding_eur", "2026-07", "centre", B) == "865000.00"
    # partnerships and the centres they connect (per centre: the others)
    assert month("partnerships_confirmed", "2026-07", "centre", A) == 2
    assert month("centres_in_joint_actions", "2026-07") == 2
    assert month("centres_in_joint_actions", "2026-07", "centre", A) == 1
    # events held, with the corrected attendance
    assert month("training_hours", "2026-09", "centre", B) == "12.00"
    assert month("training_participants", "2026-09", "programme", "esf_tuscany") == 25
    assert month("dissemination_attendance", "2026-09", "province", "LU") == 85
    assert month("initiative_overlaps_found", "2026-08", "centre", C) == 1
    assert month("initiative_overlaps_to_coordinate", "2026-09", "kind", "research_project") == 1

    breakdown = await _get(
        svc, "/breakdown", kpi="initiatives_registered", by="programme", period="2026-Q3"
    )
    assert dict(zip(breakdown["labels"], breakdown["values"], strict=True)) == {
        "esf_tuscany": 1,
        "horizon_europe": 1,
        "pnrr": 1,
        "self_funded": 1,
    }
    assert breakdown["total"] == 4
    # a centre reads the totals and its own row
    response = await svc.client.get(
        "/kpis",
        params={"from": "2026-Q3", "to": "2026-Q3", "period": "quarter", "by": "centre"},
        headers=centre(B),
    )
    own = rows_of(response.json()["items"])
    assert own[("joint_actions_registered", "2026-Q3", "centre", B)] == 2
    assert {key for (_, _, _, key) in own} == {None, B}

    # The periodic report of the quarter lists them, with their breakdowns and comparison.
    response = await svc.client.post("/reports", json={"period": "2026-Q3"}, headers=REGION)
    assert response.status_code == 201, response.text
    report = response.json()
    compared = {r["kpi"]: r for r in report["comparison"]}
    assert {kpi: compared[kpi]["current"] for kpi in KPIS} == Q3
    assert compared["initiatives_registered"]["previous"] == 0
    content = rows_of(report["kpis"])
    assert content[("initiatives_registered", "2026-Q3", "programme", "horizon_europe")] == 1
    assert content[("initiatives_registered", "2026-Q3", "centre", C)] == 2
    assert content[("dissemination_events_held", "2026-Q3", "province", "LU")] == 1

    exported = await svc.client.get(f"/reports/{report['id']}.csv", headers=REGION)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    funding = next(r for r in rows if r["kpi"] == "initiative_public_funding_eur" and not r["key"])
    assert (funding["title"], funding["unit"], funding["value"]) == (
        "Public funding of initiatives",
        "EUR",
        "1165000.00",
    )
    assert any(r["dimension"] == "programme" and r["key"] == "pnrr" for r in rows)
    exported = await svc.client.get(f"/reports/{report['id']}.xlsx", headers=REGION)
    workbook = load_workbook(io.BytesIO(exported.content))
    totals = {row[0]: row[3] for row in workbook["totals"].iter_rows(min_row=8, values_only=True)}
    assert totals["initiative_public_funding_eur"] == 1165000.0
    assert totals["training_hours"] == 12.0 and totals["dissemination_attendance"] == 85
    programmes = list(workbook["programme"].iter_rows(min_row=2, values_only=True))
    assert ("initiatives_registered", "Initiatives registered", "count", "pnrr") in {
        row[:4] for row in programmes
    }
    exported = await svc.client.get(f"/reports/{report['id']}.pdf", headers=REGION)
    assert exported.content.startswith(b"%PDF-")

    # A rebuild from the streams gives the same figures.
    await rebuild(svc.settings(lease_ttl=0.3))
    assert await _kpis(svc, **{"from": "2026-07", "to": "2026-10"}, by=",".join(BY)) == months


async def test_bad_input_on_the_new_dimension_and_kpis(svc: Service) -> None:
    for params in (
        {"by": "programmes"},
        {"by": "programme,colour"},
        {"kpi": "initiatives_drafted"},
        {"kpi": "initiatives_registered", "by": "Programme"},
    ):
        response = await svc.client.get("/kpis", params=params, headers=REGION)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    response = await svc.client.get("/kpis", params={"by": "programmes"}, headers=REGION)
    assert "programme" in response.json()["errors"][0]["message"]
    response = await svc.client.get(
        "/breakdown", params={"kpi": "initiatives_registered", "by": "programme"}, headers=centre(A)
    )
    assert response.status_code == 403
    response = await svc.client.get("/kpis", params={"by": "programme"}, headers=ANONYMOUS)
    assert response.status_code == 403
    definitions = (await svc.client.get("/kpis/definitions", headers=ANONYMOUS)).json()["items"]
    found = {d["kpi"]: d for d in definitions}
    assert set(KPIS) <= set(found)
    assert found["initiative_overlaps_found"]["events"] == [
        "clock.catalog.initiative_overlap.found.v1"
    ]
    assert "clock.catalog.initiative.event_held.v1" in found["training_hours"]["events"]
    assert all(found[kpi]["definition"] for kpi in KPIS)


async def test_the_order_and_the_batching_do_not_matter_and_a_replay_counts_once(
    kpis: Kpis,
) -> None:
    events = b.initiatives_scenario()
    periods = ("2026-07", "2026-08", "2026-09", "2026-Q3")
    await kpis.log(events)
    expected = await kpis.items(periods=periods[:3], by=BY, kpis=KPIS)
    quarter = await kpis.items(periods=periods[3:], kpis=KPIS)
    assert {i["kpi"]: i["value"] for i in quarter} == Q3
    await kpis.log(events, batch=5)  # redelivered: already in the log
    assert await kpis.items(periods=periods[:3], by=BY, kpis=KPIS) == expected
    for batch in (4, 100):
        await kpis.reset()
        await kpis.log([*b.scenario(), *events], batch=batch)
        assert await kpis.items(periods=periods[:3], by=BY, kpis=KPIS) == expected


async def test_the_migration_fills_them_from_the_events_already_logged(
    kpis: Kpis, database_url: str
) -> None:
    """Initiative events were logged before these KPIs existed: reporting_0006 projects them,
    and leaves the other KPIs as they are."""
    await kpis.log([*b.scenario(), *b.initiatives_scenario()], batch=4)
    periods = ("2026-01", "2026-02", "2026-07", "2026-08", "2026-09")
    expected = await kpis.items(periods=periods, by=BY)
    command.downgrade(alembic_config(MIGRATIONS, database_url), "reporting_0005")
    before = await kpis.items(periods=periods, kpis=KPIS)
    assert all(i["value"] in (0, "0.00") for i in before)
    upgrade(MIGRATIONS, database_url)
    assert await kpis.items(periods=periods, by=BY) == expected
