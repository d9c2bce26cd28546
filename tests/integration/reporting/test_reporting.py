"""The reporting service end to end: real events on the real streams, consumed by the app's
own consumers, KPIs and reports over HTTP."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from openpyxl import load_workbook

from services.reporting.service import canonical
from tests.integration.reporting import builders as b
from tests.integration.reporting.builders import scenario
from tests.integration.reporting.conftest import ANONYMOUS, REGION, Service, centre

A, B = b.CENTRE_A, b.CENTRE_B

UNKNOWN = {
    "specversion": "1.0",
    "id": str(uuid.uuid4()),
    "source": "/clock/catalog",
    "type": "clock.catalog.widget.published.v1",
    "subject": "w1",
    "time": "2026-01-05T10:00:00Z",
    "datacontenttype": "application/json",
    "aggregateversion": 1,
    "data": {"whatever": True},
}


async def load(svc: Service) -> int:
    # The matching stream is published first: the streams are consumed independently, in
    # whatever order; within a stream, events arrive in the order they were recorded.
    ordered = sorted(scenario(), key=lambda e: e.type.split(".")[1] != "matching")
    events: list[Any] = [*ordered, UNKNOWN]
    await svc.publish(events)
    await svc.wait_stored(len(events))
    return len(events)


def totals(items: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    return {(i["kpi"], i["period"]): i["value"] for i in items if i["dimension"] is None}


async def test_kpis_from_the_consumed_events(svc: Service) -> None:
    await load(svc)
    response = await svc.client.get(
        "/kpis",
        params={"from": "2026-01-01", "to": "2026-03-31", "period": "month"},
        headers=REGION,
    )
    assert response.status_code == 200, response.text
    found = totals(response.json()["items"])
    assert found[("labs_published", "2026-01")] == 2
    assert found[("labs_published", "2026-02")] == 1
    assert found[("labs_published", "2026-03")] == 1  # empty bucket: the stock carries on
    assert found[("demands_received", "2026-03")] == 0
    assert found[("demands_received", "2026-01")] == 3
    assert found[("members_active", "2026-02")] == 1
    assert found[("engagement_value_eur", "2026-02")] == "14500.50"
    assert found[("match_rate", "2026-01")] == "66.67"
    assert found[("equipment_access_hours", "2026-02")] == "6.50"

    response = await svc.client.get(
        "/kpis",
        params={"from": "2026-01", "to": "2026-01", "by": "centre", "kpi": "engagements_opened"},
        headers=REGION,
    )
    rows = {(i["dimension"], i["key"]): i["value"] for i in response.json()["items"]}
    assert rows == {(None, None): 2, ("centre", A): 2, ("centre", B): 1}

    response = await svc.client.get(
        "/kpis",
        params={
            "from": "2026-01-16",
            "to": "2026-02-15",
            "period": "range",
            "kpi": "demands_received,labs_published",
        },
        headers=REGION,
    )
    assert totals(response.json()["items"]) == {
        ("demands_received", "2026-01-16/2026-02-15"): 2,
        ("labs_published", "2026-01-16/2026-02-15"): 1,
    }

    # A centre sees the totals and its own breakdown only.
    response = await svc.client.get(
        "/kpis",
        params={"from": "2026-01", "to": "2026-01", "by": "centre", "kpi": "engagements_opened"},
        headers=centre(B),
    )
    rows = {(i["dimension"], i["key"]): i["value"] for i in response.json()["items"]}
    assert rows == {(None, None): 2, ("centre", B): 1}
    response = await svc.client.get("/kpis", params={"by": "province"}, headers=centre(B))
    assert response.status_code == 403
    assert (await svc.client.get("/kpis", headers=ANONYMOUS)).status_code == 403

    # Dashboard shapes.
    response = await svc.client.get(
        "/timeseries",
        params={
            "kpi": "demands_received",
            "from": "2026-01",
            "to": "2026-06",
            "granularity": "quarter",
        },
        headers=REGION,
    )
    assert response.json()["labels"] == ["2026-Q1", "2026-Q2"]
    assert response.json()["series"][0]["data"] == [3, 0]
    response = await svc.client.get(
        "/breakdown",
        params={"kpi": "demands_received", "by": "size_class", "period": "2026-Q1"},
        headers=REGION,
    )
    body = response.json()
    assert dict(zip(body["labels"], body["values"], strict=True)) == {
        "large": 1,
        "micro": 1,
        "small": 1,
    }
    assert body["total"] == 3


async def test_bad_input(svc: Service) -> None:
    cases = [
        {"from": "2026-13-01"},
        {"to": "yesterday"},
        {"from": "2026-03-01", "to": "2026-01-01"},
        {"period": "week"},
        {"kpi": "happiness"},
        {"by": "colour"},
    ]
    for params in cases:
        response = await svc.client.get("/kpis", params=params, headers=REGION)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    response = await svc.client.get("/kpis", params={"kpi": "happiness"}, headers=REGION)
    assert "demands_received" in response.json()["detail"]
    response = await svc.client.get("/kpis", params={"by": "colour"}, headers=REGION)
    assert "size_class" in response.json()["errors"][0]["message"]
    for period in ("2026-Q5", "26", "2026-9"):
        response = await svc.client.post("/reports", json={"period": period}, headers=REGION)
        assert response.status_code == 422, response.text
    assert (await svc.client.get(f"/reports/{uuid.uuid4()}", headers=REGION)).status_code == 404
    response = await svc.client.post("/reports", json={"period": "2026-01"}, headers=centre(A))
    assert response.status_code == 403
    definitions = (await svc.client.get("/kpis/definitions", headers=ANONYMOUS)).json()["items"]
    assert {"kpi", "title", "definition", "unit", "aggregation", "events"} == set(definitions[0])
    demands = next(d for d in definitions if d["kpi"] == "demands_received")
    assert demands["events"] == ["clock.matching.demand.submitted.v1"]


def recomputed_hash(report: dict[str, Any]) -> str:
    content = {
        k: report[k]
        for k in ("period", "previous_period", "kpis", "comparison", "last_event_id", "centres")
    }
    return hashlib.sha256(canonical(content).encode()).hexdigest()


async def test_reports_are_immutable_numbered_and_hashed(svc: Service) -> None:
    await load(svc)
    response = await svc.client.post("/reports", json={"period": "2026-01"}, headers=REGION)
    assert response.status_code == 201, response.text
    first = response.json()
    assert (first["number"], first["version"], first["period"]) == (1, 1, "2026-01")
    assert recomputed_hash(first) == first["hash"]
    assert first["provisional"] is False
    comparison = {r["kpi"]: r for r in first["comparison"]}
    assert comparison["demands_received"] == {
        "kpi": "demands_received",
        "current": 3,
        "previous": 0,
        "change": 3,
        "change_pct": None,
    }
    assert any(i["dimension"] == "centre" for i in first["kpis"])
    assert first["centres"] == {A: "Centre a", B: "Centre b"}

    # Idempotent.
    again = await svc.client.post("/reports", json={"period": "2026-01"}, headers=REGION)
    assert again.status_code == 200
    assert again.json() == first

    # An open period needs provisional=true.
    response = await svc.client.post("/reports", json={"period": "2026-Q4"}, headers=REGION)
    assert response.status_code == 409
    response = await svc.client.post(
        "/reports", json={"period": "2026-Q4", "provisional": True}, headers=REGION
    )
    assert response.status_code == 201
    assert response.json()["provisional"] is True and response.json()["number"] == 2

    # A late event of January does not change the issued report ...
    late = b.demand("d-late", b.firm("f-late"), b.at(2026, 1, 31))
    await svc.publish([late])
    await svc.wait_stored(len(scenario()) + 2)
    response = await svc.client.get(f"/reports/{first['id']}", headers=REGION)
    assert response.json() == first
    assert response.headers["etag"] == '"' + first["hash"] + '"'
    # ... a superseding version includes it.
    response = await svc.client.post(
        "/reports", json={"period": "2026-01", "supersede": True}, headers=REGION
    )
    assert response.status_code == 201
    second = response.json()
    assert (second["version"], second["supersedes"], second["number"]) == (2, first["id"], 3)
    assert second["hash"] != first["hash"]
    assert second["last_event_id"] == str(late.id)
    assert {r["kpi"]: r for r in second["comparison"]}["demands_received"]["current"] == 4

    listed = (await svc.client.get("/reports", headers=REGION)).json()["items"]
    assert [r["number"] for r in listed] == [3, 2, 1]

    # Anonymous: headline figures of issued, final reports only.
    public = await svc.client.get(f"/reports/{first['id']}", headers=ANONYMOUS)
    assert public.status_code == 200
    assert all(i["dimension"] is None for i in public.json()["kpis"])
    assert public.json()["hash"] == first["hash"]
    listed = (await svc.client.get("/reports", headers=ANONYMOUS)).json()["items"]
    assert [r["number"] for r in listed] == [3, 1]
    # A centre: totals and its own rows.
    own = (await svc.client.get(f"/reports/{first['id']}", headers=centre(A))).json()["kpis"]
    assert {i["key"] for i in own if i["dimension"] is not None} == {A}

    # Exports.
    response = await svc.client.get(f"/reports/{first['id']}.csv", headers=REGION)
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="clock-report-2026-01-v1.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {"kpi": "demands_received", "dimension": "", "value": "3"}.items() <= next(
        r for r in rows if r["kpi"] == "demands_received" and not r["dimension"]
    ).items()
    response = await svc.client.get(f"/reports/{first['id']}.xlsx", headers=REGION)
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames[0] == "totals" and "centre" in workbook.sheetnames
    response = await svc.client.get(f"/reports/{first['id']}.pdf", headers=REGION)
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    response = await svc.client.get(f"/reports/{first['id']}.json", headers=REGION)
    assert json.loads(response.content)["hash"] == first["hash"]


async def test_a_provisional_report_is_replaced_by_a_final_one_after_the_close(
    svc: Service,
) -> None:
    response = await svc.client.post(
        "/reports", json={"period": "2026-Q4", "provisional": True}, headers=REGION
    )
    provisional = response.json()
    assert response.status_code == 201 and provisional["provisional"] is True
    again = await svc.client.post(
        "/reports", json={"period": "2026-Q4", "provisional": True}, headers=REGION
    )
    assert again.status_code == 200 and again.json()["id"] == provisional["id"]
    svc.clock.now = datetime(2027, 1, 2, tzinfo=UTC)
    response = await svc.client.post("/reports", json={"period": "2026-Q4"}, headers=REGION)
    assert response.status_code == 201
    final = response.json()
    assert (final["provisional"], final["version"], final["supersedes"]) == (
        False,
        2,
        provisional["id"],
    )
    again = await svc.client.post("/reports", json={"period": "2026-Q4"}, headers=REGION)
    assert again.status_code == 200 and again.json()["id"] == final["id"]
