"""The three-year term: expiry when it passes unrenewed, and renewals."""

from __future__ import annotations

from datetime import UTC, datetime

from kernel.principal import Role
from services.membership import seed
from tests.integration.membership.conftest import ANONYMOUS, REGION, TERM_END, Service, as_

ASEV = seed.SIGNATORY_IDS["ASEV"]
LAST_DAY = datetime(2028, 12, 9, 12, 0, tzinfo=UTC)
DAY_AFTER = datetime(2028, 12, 10, 8, 0, tzinfo=UTC)


async def test_memberships_expire_when_the_term_passes_unrenewed(svc: Service) -> None:
    org_id = await svc.admit()
    await svc.client.post(f"/members/{ASEV}/suspension", json={"reason": "x"}, headers=REGION)

    svc.clock.set(LAST_DAY)  # still in force on its last day
    members = (await svc.client.get("/members", headers=ANONYMOUS)).json()["items"]
    assert {m["status"] for m in members} == {"active", "suspended"}

    svc.clock.set(DAY_AFTER)  # a read notices it at once
    members = (await svc.client.get("/members", headers=ANONYMOUS)).json()["items"]
    assert len(members) == 8 and {m["status"] for m in members} == {"expired"}
    assert all(m["allowed_actions"] == [] for m in members)
    protocol = (await svc.client.get("/protocol", headers=ANONYMOUS)).json()
    assert protocol["status"] == "expired"
    assert (await svc.client.get("/committee", headers=REGION)).json()["items"] == []

    history = (await svc.client.get(f"/members/{ASEV}/history", headers=REGION)).json()["items"]
    last = history[-1]
    assert (last["action"], last["from_status"], last["to_status"]) == (
        "expiry",
        "suspended",
        "expired",
    )
    assert last["actor"]["role"] == "system" and str(TERM_END) in last["reason"]

    events = await svc.wait_for_events(*["member.expired"] * 8)
    expired = [e for e in events if e["type"].endswith("member.expired.v1")]
    assert {e["subject"] for e in expired} >= {org_id, ASEV}
    assert {e["data"]["previous_status"] for e in expired} == {"active", "suspended"}

    # Once expired, nothing more happens: no second expiry, no renewal, no admission.
    before = await svc.counts()
    assert (await svc.client.get("/members", headers=ANONYMOUS)).status_code == 200
    renewal = await svc.client.post("/protocol/renewals", json={}, headers=REGION)
    assert renewal.status_code == 409 and "new one" in renewal.json()["detail"]
    assert await svc.counts() == before
    application = await svc.apply()
    before = await svc.counts()
    admit = await svc.client.post(
        f"/applications/{application['id']}/decision",
        json={"decision": "admit", "motivation": "late"},
        headers=REGION,
    )
    assert admit.status_code == 409
    assert await svc.counts() == before


async def test_the_periodic_task_expires_without_any_read(svc: Service) -> None:
    async with svc.app(expiry_interval=0.05):
        svc.clock.set(DAY_AFTER)
        events = await svc.wait_for_events(*["member.expired"] * 7)
    assert len([e for e in events if e["type"].endswith("member.expired.v1")]) == 7


async def test_a_renewal_extends_the_protocol_and_the_memberships(svc: Service) -> None:
    org_id = await svc.admit()
    before = await svc.counts()
    for role in (Role.CENTRE, Role.ANONYMOUS):
        response = await svc.client.post("/protocol/renewals", json={}, headers=as_(role, ASEV))
        assert response.status_code == 403
    future = await svc.client.post(
        "/protocol/renewals", json={"renewed_on": "2030-01-01"}, headers=REGION
    )
    assert future.status_code == 422
    assert await svc.counts() == before

    svc.clock.set(datetime(2028, 11, 20, 10, tzinfo=UTC))
    response = await svc.client.post(
        "/protocol/renewals", json={"note": "Delibera di rinnovo"}, headers=REGION
    )
    assert response.status_code == 201, response.text
    protocol = response.json()
    assert protocol["term_end"] == "2031-12-09" and protocol["status"] == "in_force"
    assert protocol["renewals"][0] | {"id": None, "created_at": None} == {
        "id": None,
        "created_at": None,
        "renewed_on": "2028-11-20",
        "previous_term_end": "2028-12-09",
        "term_end": "2031-12-09",
        "note": "Delibera di rinnovo",
        "actor": {"role": "region", "org_id": None, "key_id": "k-test"},
    }
    member = (await svc.client.get(f"/members/{org_id}", headers=ANONYMOUS)).json()
    assert member["term_end"] == "2031-12-09"

    svc.clock.set(DAY_AFTER)
    members = (await svc.client.get("/members", headers=ANONYMOUS)).json()["items"]
    assert {m["status"] for m in members} == {"active"}

    renewed = (await svc.wait_for_events("protocol.renewed"))[-1]
    assert renewed["data"]["term_end"] == "2031-12-09" and renewed["data"]["renewals"] == 1
    assert len(renewed["data"]["extended_members"]) == 8
    assert renewed["aggregateversion"] == 2
