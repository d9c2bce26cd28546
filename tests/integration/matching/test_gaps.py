"""Gaps (`GET /gaps`): the needs of active firms' demands that no member lab covers, for the
Region only. A need whose best lab scores below consortia's threshold is listed, with that lab;
a covered need, a cancelled demand's and a challenge's are not. Pages are of demands, newest
first. A read: nothing is written, no event is recorded."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from kernel.principal import Role
from services.matching.consortia import MIN_SCORE
from tests.integration.matching.conftest import (
    NAVIGO,
    OTHER_VAT,
    PARTNER,
    REGION,
    START,
    THIRD_VAT,
    TLS,
    Catalogue,
    Service,
    as_,
)

# Measured against the harness's catalogue (olive oil, biogas, nautical composites, textile
# testing) for the harness's olive mill: the olive lab scores about 0.68 for COVERED, the best
# lab about 0.19 for UNCOVERED and 0.18 for ALSO_UNCOVERED.
COVERED = "Misurare i polifenoli dell'olio con HPLC per il claim salutistico in etichetta"
UNCOVERED = "Sea cucumber aquaculture larvae"
ALSO_UNCOVERED = "Addestrare falchi per allontanare i gabbiani dagli uliveti"


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return dict(response.json())


async def gaps(svc: Service, headers: dict[str, str] = REGION, **query: Any) -> dict[str, Any]:
    response = await svc.client.get("/gaps", params=query, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_the_region_reads_the_needs_no_lab_covers(svc: Service, cat: Catalogue) -> None:
    firm_id = await svc.firm()
    firm = as_(Role.FIRM, firm_id)
    demand = await svc.demand(
        firm_id,
        firm,
        title="Olio e oloturie",
        description="Il frantoio vuole il claim salutistico e avviare un allevamento marino.",
        needs=[
            {"text": COVERED, "tags": {"ateco": ["10.41"]}},
            {"text": UNCOVERED, "tags": {"ateco": ["03.21"]}},
        ],
    )
    # A cancelled demand's needs are no gap, nor those of the demand backing a challenge.
    svc.clock.advance(timedelta(minutes=1))
    cancelled = await svc.demand(firm_id, firm, needs=[{"text": UNCOVERED}])
    response = await svc.client.post(
        f"/demands/{cancelled['id']}/cancellation", json={"reason": "not now"}, headers=firm
    )
    assert response.status_code == 200, response.text
    publisher_id = await svc.firm(
        THIRD_VAT,
        name="Oleifici Riuniti Toscani",
        employees=900,
        turnover_eur="250000000.00",
        province="FI",
        municipality="Firenze",
    )
    challenge = await svc.client.post(
        "/challenges",
        json={
            "title": "Oloturie per la filiera",
            "description": "Un grande oleificio cerca chi allevi oloturie.",
            "needs": [{"text": UNCOVERED}],
            "deadline": (START + timedelta(days=14)).isoformat(),
            "criteria": [{"name": "Fattibilità tecnica"}],
            "status": "open",
        },
        headers=as_(Role.FIRM, publisher_id),
    )
    assert challenge.status_code == 201, challenge.text
    backing = await svc.client.get(f"/demands/{challenge.json()['demand_id']}", headers=REGION)
    assert backing.json()["status"] in ("open", "matched") and backing.json()["challenge_id"]
    before = await svc.counts()

    page = await gaps(svc)

    # A read: no row, no event, the demand unchanged.
    assert await svc.counts() == before
    read = await svc.client.get(f"/demands/{demand['id']}", headers=REGION)
    assert read.json()["version"] == demand["version"]

    assert page["demands_examined"] == 1 and page["next_cursor"] is None
    assert page["min_score"] == MIN_SCORE == 0.25
    (gap,) = page["items"]
    assert gap["demand_id"] == demand["id"] and gap["need_index"] == 1
    assert gap["text"] == UNCOVERED and gap["tags"] == {"ateco": ["03.21"]}
    assert gap["firm_id"] == firm_id and gap["firm_name"] == "Frantoio Colline di Scansano"
    assert gap["firm_province"] == "GR" and gap["sector"] == "10.41"
    assert 0 <= gap["best_score"] < MIN_SCORE
    assert gap["best_score"] == round(gap["best_score"], 4)
    labs = {lab.id: lab.centre_id for lab in (cat.olive, cat.biogas, cat.composites, cat.textile)}
    assert labs[gap["best_lab_id"]] == gap["best_centre_id"]
    assert gap["submitted_at"] == demand["created_at"]
    # The covered need is the olive lab's, as the demand's consortia say.
    consortia = await svc.client.get(f"/demands/{demand['id']}/consortia", headers=REGION)
    best = consortia.json()["items"][0]
    assert best["uncovered_needs"] == [1]
    assert [(m["need_index"], m["lab_id"], m["centre_id"]) for m in best["members"]] == [
        (0, cat.olive.id, TLS)
    ]
    assert await gaps(svc) == page


async def test_only_the_region_reads_the_gaps(svc: Service) -> None:
    firm_id = await svc.firm(headers=as_(Role.CENTRE, NAVIGO))
    await svc.demand(firm_id, REGION, needs=[{"text": UNCOVERED}])
    for headers in (
        as_(Role.CENTRE, NAVIGO),
        as_(Role.FIRM, firm_id),
        as_(Role.PARTNER, PARTNER),
        as_(Role.ANONYMOUS),
    ):
        response = await svc.client.get("/gaps", headers=headers)
        assert "Region" in problem(response, 403)["detail"]


async def test_pages_of_demands_newest_first(svc: Service, cat: Catalogue) -> None:
    older_firm = await svc.firm()
    older = await svc.demand(older_firm, REGION, needs=[{"text": UNCOVERED}])
    svc.clock.advance(timedelta(minutes=1))
    newer_firm = await svc.firm(OTHER_VAT, name="Oleificio Maremma")
    newer = await svc.demand(
        newer_firm, REGION, needs=[{"text": COVERED}, {"text": ALSO_UNCOVERED}]
    )

    first = await gaps(svc, limit=1)
    assert first["demands_examined"] == 1 and first["next_cursor"]
    assert [(g["demand_id"], g["need_index"], g["text"]) for g in first["items"]] == [
        (newer["id"], 1, ALSO_UNCOVERED)
    ]
    assert first["items"][0]["firm_name"] == "Oleificio Maremma"
    second = await gaps(svc, limit=1, cursor=first["next_cursor"])
    assert second["demands_examined"] == 1 and second["next_cursor"] is None
    assert [(g["demand_id"], g["need_index"]) for g in second["items"]] == [(older["id"], 0)]

    whole = await gaps(svc)
    assert whole["items"] == first["items"] + second["items"]
    assert whole["demands_examined"] == 2
    problem(await svc.client.get("/gaps", params={"cursor": "nonsense"}, headers=REGION), 422)
    for limit in (0, 201):
        problem(await svc.client.get("/gaps", params={"limit": limit}, headers=REGION), 422)


async def test_with_an_empty_index_every_need_is_a_gap(svc: Service) -> None:
    firm_id = await svc.firm()
    demand = await svc.demand(firm_id, REGION, needs=[{"text": COVERED}, {"text": UNCOVERED}])
    page = await gaps(svc)
    assert [(g["demand_id"], g["need_index"]) for g in page["items"]] == [
        (demand["id"], 0),
        (demand["id"], 1),
    ]
    assert all(
        g["best_score"] == 0.0 and g["best_lab_id"] is None and g["best_centre_id"] is None
        for g in page["items"]
    )
