"""The journey the issue asks for: an Italian demand finds an English lab, a two-need demand
gets a team of two centres, an introduction is accepted and the engagement closed; every step
is an event on CLOCK_MATCHING."""

from __future__ import annotations

from datetime import timedelta

from kernel.principal import Role
from tests.integration.matching.conftest import (
    COSVIG,
    REGION,
    TLS,
    Catalogue,
    Service,
    as_,
)


async def test_an_italian_demand_finds_the_english_lab_with_an_explanation(
    svc: Service, cat: Catalogue
) -> None:
    firm_id = await svc.firm()
    firm = as_(Role.FIRM, firm_id)
    demand = await svc.demand(firm_id, firm)
    assert demand["status"] == "matched"

    response = await svc.client.get(f"/demands/{demand['id']}/matches?limit=3", headers=firm)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert len(items) == 3
    top = items[0]
    assert top["lab_id"] == cat.olive.id and top["centre_id"] == TLS
    assert top["fit"] == {
        "entity": "competence",
        "id": cat.olive_hplc,
        "title": "Olive oil polyphenol analysis by HPLC",
    }
    explanation = top["explanation"]
    assert explanation["cross_language"] is True
    assert "hplc" in explanation["terms"]
    assert "ateco:10.41" in explanation["tags"]
    assert explanation["trl_fit"] == 1.0
    assert 15 < explanation["distance_km"] < 40  # Scansano - Grosseto
    assert "across languages" in explanation["text"] and "hplc" in explanation["text"]
    assert 0 <= items[-1]["score"] <= top["score"] <= 1
    # Deterministic for the same index.
    again = await svc.client.get(f"/demands/{demand['id']}/matches?limit=3", headers=firm)
    assert again.json()["items"] == items

    # Something recorded after the two reads, to know their events would be on the stream.
    await svc.client.post(
        f"/demands/{demand['id']}/introductions", json={"lab_id": cat.olive.id}, headers=firm
    )
    events = await svc.wait_for_events(
        "firm.registered",
        "demand.submitted",
        "demand.matches_proposed",
        "demand.updated",
        "introduction.requested",
    )
    proposed = next(e for e in events if e["type"].endswith("matches_proposed.v1"))
    assert proposed["data"]["matches"][0]["lab_id"] == cat.olive.id
    assert proposed["data"]["cross_language"] is True
    assert proposed["data"]["firm"]["size_class"] == "micro"
    assert proposed["data"]["firm"]["ateco_section"] == "C"
    # Reading the same ranking again records no new event.
    assert sum(e["type"].endswith("matches_proposed.v1") for e in events) == 1


async def test_a_two_need_demand_gets_a_team_of_two_centres_that_works_to_an_outcome(
    svc: Service, cat: Catalogue
) -> None:
    firm_id = await svc.firm()
    firm = as_(Role.FIRM, firm_id)
    demand = await svc.demand(
        firm_id,
        firm,
        title="Olio: claim sui polifenoli ed energia dalla sansa",
        description="Il frantoio cooperativo vuole il claim salutistico e un uso per la sansa.",
        needs=[
            {"text": "Analisi dei polifenoli dell'olio per il claim salutistico"},
            {"text": "Produrre biogas dalla sansa e dalle acque di vegetazione"},
        ],
    )
    response = await svc.client.get(f"/demands/{demand['id']}/consortia", headers=firm)
    assert response.status_code == 200, response.text
    best = response.json()["items"][0]
    assert best["centres"] == 2 and best["uncovered_needs"] == []
    assert {(m["need_index"], m["lab_id"], m["centre_id"]) for m in best["members"]} == {
        (0, cat.olive.id, TLS),
        (1, cat.biogas.id, COSVIG),
    }
    assert [c["need_index"] for c in best["coverage"]] == [0, 1]

    asked = await svc.client.post(
        f"/demands/{demand['id']}/introductions",
        json={
            "consortium": {
                "members": [
                    {"need_index": m["need_index"], "lab_id": m["lab_id"]} for m in best["members"]
                ]
            }
        },
        headers=firm,
    )
    assert asked.status_code == 201, asked.text
    assert asked.json()["consortium_id"] == best["consortium_id"]
    introductions = {i["centre_id"]: i for i in asked.json()["introductions"]}
    assert set(introductions) == {TLS, COSVIG}

    pending = await svc.client.get("/introductions?status=pending", headers=as_(Role.CENTRE, TLS))
    assert [i["id"] for i in pending.json()["items"]] == [introductions[TLS]["id"]]

    svc.clock.advance(timedelta(hours=5))
    first = await svc.client.post(
        f"/introductions/{introductions[TLS]['id']}/acceptance",
        json={"reason": "Abbiamo il metodo HPLC accreditato"},
        headers=as_(Role.CENTRE, TLS),
    )
    assert first.status_code == 200, first.text
    engagement_id = first.json()["engagement_id"]
    assert engagement_id and first.json()["status"] == "accepted"
    second = await svc.client.post(
        f"/introductions/{introductions[COSVIG]['id']}/acceptance",
        headers=as_(Role.CENTRE, COSVIG),
    )
    assert second.status_code == 200, second.text
    assert second.json()["engagement_id"] == engagement_id

    engagement = (await svc.client.get(f"/engagements/{engagement_id}", headers=firm)).json()
    assert engagement["centres"] == 2 and engagement["status"] == "open"
    assert (await svc.client.get(f"/demands/{demand['id']}", headers=firm)).json()[
        "status"
    ] == "in_progress"

    svc.clock.advance(timedelta(days=60))
    closed = await svc.client.post(
        f"/engagements/{engagement_id}/closure",
        json={
            "value_eur": "18500.00",
            "delivered": True,
            "satisfaction": 5,
            "innovation_introduced": "process",
        },
        headers=firm,
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["value_eur"] == "18500.00" and closed.json()["status"] == "closed"
    assert (await svc.client.get(f"/demands/{demand['id']}", headers=REGION)).json()[
        "status"
    ] == "closed"

    events = await svc.wait_for_events(
        "demand.consortia_proposed",
        "introduction.requested",
        "introduction.requested",
        "introduction.accepted",
        "introduction.accepted",
        "engagement.opened",
        "engagement.joined",
        "engagement.closed",
    )
    accepted = next(e for e in events if e["type"].endswith("introduction.accepted.v1"))
    assert accepted["data"]["hours_to_answer"] == 5.0
    assert accepted["data"]["consortium_size"] == 2 and accepted["data"]["consortium_centres"] == 2
    closed_event = next(e for e in events if e["type"].endswith("engagement.closed.v1"))
    data = closed_event["data"]
    assert data["cross_centre"] is True and sorted(data["centre_ids"]) == sorted([TLS, COSVIG])
    assert data["value_eur"] == "18500.00" and data["satisfaction"] == 5
    assert data["innovation_introduced"] == "process" and data["kind"] == "joint_research"
    assert data["consortium_id"] == best["consortium_id"] and data["duration_days"] == 60.0
    statuses = [
        e["data"]["status"] for e in events if e["type"] == "clock.matching.demand.updated.v1"
    ]
    assert statuses == ["matched", "in_progress", "closed"]


async def test_a_declined_introduction_keeps_its_reason(svc: Service, cat: Catalogue) -> None:
    firm_id = await svc.firm()
    firm = as_(Role.FIRM, firm_id)
    demand = await svc.demand(firm_id, firm)
    asked = await svc.client.post(
        f"/demands/{demand['id']}/introductions",
        json={"lab_id": cat.olive.id, "entry_id": cat.olive_hplc},
        headers=firm,
    )
    assert asked.status_code == 201, asked.text
    assert asked.json()["status"] == "pending" and asked.json()["kind"] == "joint_research"
    again = await svc.client.post(
        f"/demands/{demand['id']}/introductions", json={"lab_id": cat.olive.id}, headers=firm
    )
    assert again.status_code == 409
    no_reason = await svc.client.post(
        f"/introductions/{asked.json()['id']}/decline", json={}, headers=as_(Role.CENTRE, TLS)
    )
    assert no_reason.status_code == 422
    declined = await svc.client.post(
        f"/introductions/{asked.json()['id']}/decline",
        json={"reason": "Il laboratorio è al completo fino a settembre"},
        headers=as_(Role.CENTRE, TLS),
    )
    assert declined.status_code == 200
    assert declined.json()["status"] == "declined" and declined.json()["engagement_id"] is None
    twice = await svc.client.post(
        f"/introductions/{asked.json()['id']}/acceptance", headers=as_(Role.CENTRE, TLS)
    )
    assert twice.status_code == 409
    events = await svc.wait_for_events("introduction.declined")
    declined_event = next(e for e in events if e["type"].endswith("introduction.declined.v1"))
    assert declined_event["data"]["reason"].startswith("Il laboratorio")
