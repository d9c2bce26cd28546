"""Membership lifecycle, representatives and the committee, and who may do what."""

from __future__ import annotations

import pytest

from kernel.principal import Role
from services.membership import seed
from tests.integration.membership.conftest import ANONYMOUS, REGION, Service, as_

ASEV = seed.SIGNATORY_IDS["ASEV"]
COSVIG = seed.SIGNATORY_IDS["COSVIG"]
REGION_ID = seed.SIGNATORY_IDS["regione-toscana"]
PERSON = {"full_name": "Marco Neri", "email": "marco.neri@example.org", "position": "Direttore"}


async def test_a_centre_may_withdraw_itself_and_then_nothing_else_happens(svc: Service) -> None:
    response = await svc.client.post(
        f"/members/{ASEV}/withdrawal",
        json={"reason": "Board decision"},
        headers=as_(Role.CENTRE, ASEV),
    )
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn" and response.json()["allowed_actions"] == []
    before = await svc.counts()
    for action in ("suspension", "reinstatement", "withdrawal"):
        illegal = await svc.client.post(
            f"/members/{ASEV}/{action}", json={"reason": "x"}, headers=REGION
        )
        assert illegal.status_code == 409
        problem = illegal.json()
        assert problem["allowed"] == [] and problem["current_status"] == "withdrawn"
        assert "withdrawn" in problem["detail"]
    assert await svc.counts() == before
    event = (await svc.wait_for_events("member.withdrawn"))[-1]
    assert event["data"]["actor"] == {"role": "centre", "org_id": ASEV, "key_id": "k-test"}
    assert event["data"]["reason"] == "Board decision"


async def test_illegal_transitions_say_what_is_allowed(svc: Service) -> None:
    response = await svc.client.post(
        f"/members/{COSVIG}/reinstatement", json={"reason": "x"}, headers=REGION
    )
    assert response.status_code == 409
    assert response.json()["allowed"] == ["suspension", "withdrawal"]
    region = await svc.client.post(
        f"/members/{REGION_ID}/suspension", json={"reason": "x"}, headers=REGION
    )
    assert region.status_code == 409 and region.json()["allowed"] == []


@pytest.mark.parametrize("role", [Role.ANONYMOUS, Role.FIRM, Role.PARTNER, Role.CENTRE])
async def test_only_the_region_suspends_reinstates_and_decides(svc: Service, role: Role) -> None:
    application = await svc.apply()
    before = await svc.counts()
    headers = as_(role, ASEV)
    for url, body in (
        (f"/members/{COSVIG}/suspension", {"reason": "x"}),
        (f"/members/{ASEV}/suspension", {"reason": "x"}),
        (f"/members/{COSVIG}/reinstatement", {"reason": "x"}),
        (f"/applications/{application['id']}/decision", {"decision": "admit", "motivation": "x"}),
        ("/protocol/renewals", {}),
    ):
        response = await svc.client.post(url, json=body, headers=headers)
        assert response.status_code == 403, (url, response.text)
        assert response.json()["type"].endswith("/forbidden")
    assert await svc.counts() == before


async def test_a_centre_cannot_withdraw_another_centre(svc: Service) -> None:
    before = await svc.counts()
    for role in (Role.CENTRE, Role.PARTNER, Role.ANONYMOUS):
        response = await svc.client.post(
            f"/members/{COSVIG}/withdrawal", json={"reason": "x"}, headers=as_(role, ASEV)
        )
        assert response.status_code == 403
    assert await svc.counts() == before


async def test_representatives_are_appointed_replaced_and_kept(svc: Service) -> None:
    first = await svc.client.put(f"/members/{ASEV}/representative", json=PERSON, headers=REGION)
    assert first.status_code == 200, first.text
    assert first.json()["until"] is None
    second_person = PERSON | {"full_name": "Anna Verdi", "email": "anna.verdi@example.org"}
    second = await svc.client.put(
        f"/members/{ASEV}/representative", json=second_person, headers=as_(Role.CENTRE, ASEV)
    )
    assert second.status_code == 200
    assert second.json()["appointed_by"] == {"role": "centre", "org_id": ASEV, "key_id": "k-test"}

    history = await svc.client.get(
        f"/members/{ASEV}/representatives", headers=as_(Role.CENTRE, ASEV)
    )
    assert history.status_code == 200
    items = history.json()["items"]
    assert [r["full_name"] for r in items] == ["Marco Neri", "Anna Verdi"]
    assert items[0]["until"] == items[1]["since"] and items[1]["until"] is None

    seats = (await svc.client.get("/committee", headers=REGION)).json()["items"]
    seat = next(s for s in seats if s["organisation_id"] == ASEV)
    assert seat["representative"]["full_name"] == "Anna Verdi"
    assert sum(1 for s in seats if s["organisation_id"] == ASEV) == 1

    events = await svc.wait_for_events(*["representative.appointed"] * 2, subject=ASEV)
    appointed = [e for e in events if e["type"].endswith("representative.appointed.v1")]
    assert appointed[1]["data"]["previous_representative_id"] == items[0]["id"]
    assert appointed[0]["aggregateversion"] < appointed[1]["aggregateversion"]
    assert all("email" not in e["data"] for e in appointed)


async def test_a_centre_touches_only_its_own_representative(svc: Service) -> None:
    before = await svc.counts()
    put = await svc.client.put(
        f"/members/{COSVIG}/representative", json=PERSON, headers=as_(Role.CENTRE, ASEV)
    )
    assert put.status_code == 403
    for role in (Role.CENTRE, Role.FIRM, Role.PARTNER, Role.ANONYMOUS):
        for path in ("representatives", "history"):
            response = await svc.client.get(f"/members/{COSVIG}/{path}", headers=as_(role, ASEV))
            assert response.status_code == 403, (role, path)
    assert await svc.counts() == before
    assert (
        await svc.client.get(f"/members/{ASEV}/history", headers=as_(Role.CENTRE, ASEV))
    ).status_code == 200


@pytest.mark.parametrize("role", [Role.ANONYMOUS, Role.FIRM, Role.PARTNER])
async def test_the_committee_is_hidden_from_anonymous_firms_and_partners(
    svc: Service, role: Role
) -> None:
    await svc.client.put(f"/members/{ASEV}/representative", json=PERSON, headers=REGION)
    response = await svc.client.get("/committee", headers=as_(role, ASEV))
    assert response.status_code == 403
    assert "Marco" not in response.text


async def test_withdrawal_ends_the_representatives_mandate(svc: Service) -> None:
    await svc.client.put(f"/members/{ASEV}/representative", json=PERSON, headers=REGION)
    await svc.client.post(f"/members/{ASEV}/withdrawal", json={"reason": "x"}, headers=REGION)
    items = (await svc.client.get(f"/members/{ASEV}/representatives", headers=REGION)).json()
    assert items["items"][0]["until"] is not None
    seats = (await svc.client.get("/committee", headers=REGION)).json()["items"]
    assert ASEV not in {s["organisation_id"] for s in seats}
    again = await svc.client.put(f"/members/{ASEV}/representative", json=PERSON, headers=REGION)
    assert again.status_code == 409


async def test_members_and_organisations_are_public_but_filtered_by_status(svc: Service) -> None:
    await svc.client.post(f"/members/{COSVIG}/suspension", json={"reason": "x"}, headers=REGION)
    suspended = await svc.client.get("/members", params={"status": "suspended"}, headers=ANONYMOUS)
    assert [m["acronym"] for m in suspended.json()["items"]] == ["COSVIG"]
    active = await svc.client.get("/members", params={"status": "active"}, headers=ANONYMOUS)
    assert len(active.json()["items"]) == 6
    bad = await svc.client.get("/members", params={"status": "under_review"}, headers=ANONYMOUS)
    assert bad.status_code == 422
    organisation = await svc.client.get(f"/organisations/{COSVIG}", headers=ANONYMOUS)
    assert organisation.json()["membership"]["status"] == "suspended"
