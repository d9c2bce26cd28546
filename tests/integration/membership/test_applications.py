"""Applications to adhere: automatic checks, tokens, the committee's decision."""

from __future__ import annotations

import json

from kernel.principal import Role
from services.membership import seed
from tests.integration.membership.conftest import (
    ANONYMOUS,
    REGION,
    TERM_END,
    VALID_VAT,
    Service,
    application_body,
    as_,
)


async def test_from_application_to_suspension_and_back(svc: Service) -> None:
    # An eligible application, submitted anonymously.
    application = await svc.apply()
    assert application["status"] == "under_review"
    assert [(c["check"], c["passed"]) for c in application["eligibility"]] == [
        ("seat_in_tuscany", True),
        ("valid_vat", True),
        ("not_already_member", True),
        ("declarations", True),
    ]
    assert all(c["detail"] for c in application["eligibility"])
    token = application["token"]
    assert len(token) >= 32

    # The committee admits it, with motivation and votes.
    response = await svc.client.post(
        f"/applications/{application['id']}/decision",
        json={
            "decision": "admit",
            "motivation": "A research body of the Pisa area with labs the network lacks.",
            "votes": {"for": 6, "against": 0, "abstained": 1},
        },
        headers=REGION,
    )
    assert response.status_code == 200, response.text
    decided = response.json()
    assert decided["status"] == "admitted"
    assert decided["decision"]["votes"] == {"for": 6, "against": 0, "abstained": 1}
    assert decided["decision"]["decided_by"]["role"] == "region"
    org_id = decided["organisation_id"]

    # The organisation is a member with a seat and the proposed representative.
    member = (await svc.client.get(f"/members/{org_id}", headers=ANONYMOUS)).json()
    assert member == member | {
        "organisation_id": org_id,
        "name": "Polo Scientifico Tecnologico di Prova",
        "acronym": "PSTP",
        "role": "adhering",
        "status": "active",
        "term_end": TERM_END.isoformat(),
        "allowed_actions": ["suspension", "withdrawal"],
    }
    organisation = (await svc.client.get(f"/organisations/{org_id}", headers=ANONYMOUS)).json()
    assert organisation["vat_number"] == VALID_VAT and organisation["municipality"] == "Pontedera"
    committee = (await svc.client.get("/committee", headers=REGION)).json()["items"]
    seat = next(s for s in committee if s["organisation_id"] == org_id)
    assert seat["representative"] | {"since": None} == {
        "full_name": "Giulia Bianchi",
        "email": "giulia.bianchi@example.org",
        "position": "Direttrice tecnica",
        "since": None,
    }

    # Suspended, then reinstated, each with a reason.
    suspended = await svc.client.post(
        f"/members/{org_id}/suspension", json={"reason": "Annual report not filed"}, headers=REGION
    )
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    seats = (await svc.client.get("/committee", headers=REGION)).json()["items"]
    assert org_id not in {s["organisation_id"] for s in seats}  # a suspended member sits out
    reinstated = await svc.client.post(
        f"/members/{org_id}/reinstatement", json={"reason": "Report filed"}, headers=REGION
    )
    assert reinstated.status_code == 200 and reinstated.json()["status"] == "active"

    # The history has every step, with actor, time and reason.
    history = (await svc.client.get(f"/members/{org_id}/history", headers=REGION)).json()
    steps = [
        (h["action"], h["from_status"], h["to_status"], h["reason"], h["actor"]["role"])
        for h in history["items"]
    ]
    assert steps == [
        ("admission", None, "active", decided["decision"]["motivation"], "region"),
        ("suspension", "active", "suspended", "Annual report not filed", "region"),
        ("reinstatement", "suspended", "active", "Report filed", "region"),
    ]
    assert all(h["at"].endswith("Z") for h in history["items"])
    assert history["next_cursor"] is None

    # And the events reached the stream, in order, with increasing aggregate versions.
    events = await svc.wait_for_events(
        "application.submitted",
        "application.decided",
        "organisation.registered",
        "member.admitted",
        "representative.appointed",
        "member.suspended",
        "member.reinstated",
    )
    mine = [e for e in events if e["subject"] in (org_id, application["id"])]
    assert [e["type"].split(".", 2)[2] for e in mine] == [
        "application.submitted.v1",
        "organisation.registered.v1",
        "member.admitted.v1",
        "representative.appointed.v1",
        "application.decided.v1",
        "member.suspended.v1",
        "member.reinstated.v1",
    ]
    member_versions = [
        e["aggregateversion"]
        for e in mine
        if e["type"].split(".")[2] in ("member", "representative")
    ]
    assert member_versions == sorted(member_versions) and len(set(member_versions)) == 4
    suspended_event = next(e for e in mine if e["type"].endswith("member.suspended.v1"))
    assert suspended_event["data"] | {"since": None, "actor": None} == {
        "organisation_id": org_id,
        "name": "Polo Scientifico Tecnologico di Prova",
        "acronym": "PSTP",
        "kind": "research_organisation",
        "province": "PI",
        "municipality": "Pontedera",
        "role": "adhering",
        "status": "suspended",
        "previous_status": "active",
        "term_end": TERM_END.isoformat(),
        "reason": "Annual report not filed",
        "since": None,
        "actor": None,
    }
    appointed = next(e for e in mine if e["type"].endswith("representative.appointed.v1"))
    assert appointed["data"]["full_name"] == "Giulia Bianchi"
    # Personal data: the representative's e-mail is in no event.
    assert "giulia.bianchi@example.org" not in json.dumps(events)


async def test_the_token_opens_the_application_to_its_applicant(svc: Service) -> None:
    application = await svc.apply()
    url = f"/applications/{application['id']}"
    by_header = await svc.client.get(
        url, headers=ANONYMOUS | {"X-Application-Token": application["token"]}
    )
    assert by_header.status_code == 200 and "token" not in by_header.json()
    by_query = await svc.client.get(url, params={"token": application["token"]}, headers=ANONYMOUS)
    assert by_query.status_code == 200
    assert by_query.json()["eligibility"] == application["eligibility"]
    assert (await svc.client.get(url, headers=REGION)).status_code == 200
    for headers in (
        ANONYMOUS,
        ANONYMOUS | {"X-Application-Token": "not-the-token"},
        as_(Role.CENTRE, seed.SIGNATORIES[1].id),
    ):
        response = await svc.client.get(url, headers=headers)
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"


async def test_a_seat_outside_tuscany_makes_the_application_ineligible(svc: Service) -> None:
    application = await svc.apply(application_body(province="BO", municipality="Bologna"))
    assert application["status"] == "ineligible"
    seat = application["eligibility"][0]
    assert seat["check"] == "seat_in_tuscany" and seat["passed"] is False
    assert "outside Tuscany" in seat["detail"] and "Bologna" in seat["detail"]

    url = f"/applications/{application['id']}/decision"
    admit = await svc.client.post(
        url, json={"decision": "admit", "motivation": "We like them"}, headers=REGION
    )
    assert admit.status_code == 409
    assert admit.json()["allowed"] == ["reject"]
    reject = await svc.client.post(
        url, json={"decision": "reject", "motivation": "No seat in Tuscany"}, headers=REGION
    )
    assert reject.status_code == 200 and reject.json()["status"] == "rejected"
    again = await svc.client.post(
        url, json={"decision": "reject", "motivation": "Again"}, headers=REGION
    )
    assert again.status_code == 409 and again.json()["allowed"] == []
    await svc.wait_for_events("application.submitted", "application.decided")


async def test_a_tuscan_operating_unit_is_enough(svc: Service) -> None:
    body = application_body(province="BO", municipality="Bologna")
    body["operating_units"] = [{"province": "po", "municipality": "prato", "address": "Via X 1"}]
    application = await svc.apply(body)
    assert application["status"] == "under_review"
    assert "Prato" in application["eligibility"][0]["detail"]
    assert application["operating_units"] == [
        {"province": "PO", "municipality": "Prato", "address": "Via X 1"}
    ]


async def test_missing_vat_or_declarations_make_it_ineligible(svc: Service) -> None:
    no_vat = await svc.apply(application_body(vat_number=None))
    assert no_vat["status"] == "ineligible"
    failed = {c["check"] for c in no_vat["eligibility"] if not c["passed"]}
    assert failed == {"valid_vat", "not_already_member"}

    body = application_body()
    body["declarations"] = {
        "operates_in_tuscany": True,
        "operates_in_technology_transfer": False,
        "offer": "",
    }
    undeclared = await svc.apply(body)
    assert undeclared["status"] == "ineligible"
    declarations = undeclared["eligibility"][3]
    assert declarations["check"] == "declarations" and not declarations["passed"]
    assert "technology-transfer" in declarations["detail"]


async def test_the_region_lists_applications_others_cannot(svc: Service) -> None:
    first = await svc.apply()
    second = await svc.apply(
        application_body(province="BO", municipality="Bologna", vat_number=None)
    )
    listed = (await svc.client.get("/applications", headers=REGION)).json()
    assert [a["id"] for a in listed["items"]] == [first["id"], second["id"]]
    assert all("token" not in a for a in listed["items"])
    only = await svc.client.get("/applications", params={"status": "ineligible"}, headers=REGION)
    assert [a["id"] for a in only.json()["items"]] == [second["id"]]
    for role in (Role.ANONYMOUS, Role.FIRM, Role.PARTNER, Role.CENTRE):
        response = await svc.client.get("/applications", headers=as_(role, "x"))
        assert response.status_code == 403


async def test_a_former_member_may_apply_again_and_is_linked(svc: Service) -> None:
    org_id = await svc.admit()
    withdrawn = await svc.client.post(
        f"/members/{org_id}/withdrawal",
        json={"reason": "Leaving"},
        headers=as_(Role.CENTRE, org_id),
    )
    assert withdrawn.status_code == 200
    application = await svc.apply()
    assert application["status"] == "under_review"
    assert application["organisation_id"] == org_id
    assert "adhere again" in application["eligibility"][2]["detail"]
    response = await svc.client.post(
        f"/applications/{application['id']}/decision",
        json={"decision": "admit", "motivation": "Welcome back"},
        headers=REGION,
    )
    assert response.status_code == 200 and response.json()["organisation_id"] == org_id
    member = (await svc.client.get(f"/members/{org_id}", headers=REGION)).json()
    assert member["status"] == "active"
    history = (await svc.client.get(f"/members/{org_id}/history", headers=REGION)).json()
    assert [h["action"] for h in history["items"]] == ["admission", "withdrawal", "admission"]
    assert (await svc.counts())["organisations"] == 8
