"""Equipment access: shareable equipment only, the owning centre answers, no double booking."""

from __future__ import annotations

import asyncio

from kernel.principal import Role
from tests.integration.matching.conftest import (
    COSVIG,
    OTHER_VAT,
    PIN,
    TLS,
    Catalogue,
    Service,
    as_,
)


def window(day: int, start: int, end: int) -> dict[str, str]:
    return {
        "start": f"2026-04-{day:02d}T{start:02d}:00:00Z",
        "end": f"2026-04-{day:02d}T{end:02d}:00:00Z",
        "purpose": "Prove di digestione anaerobica della sansa",
    }


async def test_booking_approval_overlap_and_cancellation(svc: Service, cat: Catalogue) -> None:
    firm_id = await svc.firm()
    firm = as_(Role.FIRM, firm_id)
    owner = as_(Role.CENTRE, COSVIG)
    url = f"/equipment/{cat.digesters}/access-requests"

    not_shareable = await svc.client.post(
        f"/equipment/{cat.martindale}/access-requests", json=window(1, 8, 12), headers=firm
    )
    assert not_shareable.status_code == 409 and "not shareable" in not_shareable.json()["detail"]
    past = await svc.client.post(
        url, json=window(1, 8, 12) | {"start": "2026-03-01T08:00:00Z"}, headers=firm
    )
    assert past.status_code == 422
    backwards = await svc.client.post(url, json=window(1, 12, 8), headers=firm)
    assert backwards.status_code == 422

    first = await svc.client.post(url, json=window(1, 8, 12), headers=firm)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "pending" and first.json()["hours"] == 4.0
    assert first.json()["firm_id"] == firm_id and first.json()["centre_id"] == COSVIG
    for headers in (as_(Role.CENTRE, TLS), firm, as_(Role.REGION)):
        response = await svc.client.post(
            f"/access-requests/{first.json()['id']}/approval", headers=headers
        )
        assert response.status_code == 403
    approved = await svc.client.post(
        f"/access-requests/{first.json()['id']}/approval", headers=owner
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved"

    overlapping = await svc.client.post(url, json=window(1, 10, 14), headers=firm)
    assert overlapping.status_code == 409 and "booked" in overlapping.json()["detail"]
    adjacent = await svc.client.post(url, json=window(1, 12, 16), headers=firm)
    assert adjacent.status_code == 201

    cancelled = await svc.client.post(
        f"/access-requests/{first.json()['id']}/cancellation",
        json={"reason": "Rinviato"},
        headers=firm,
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    freed = await svc.client.post(url, json=window(1, 10, 11), headers=firm)
    assert freed.status_code == 201

    declined = await svc.client.post(
        f"/access-requests/{freed.json()['id']}/decline",
        json={"reason": "Manutenzione"},
        headers=owner,
    )
    assert declined.status_code == 200 and declined.json()["reason"] == "Manutenzione"
    pending = await svc.client.get("/access-requests?status=pending", headers=owner)
    assert [r["id"] for r in pending.json()["items"]] == [adjacent.json()["id"]]
    assert (await svc.client.get("/access-requests", headers=as_(Role.CENTRE, PIN))).json()[
        "items"
    ] == []

    events = await svc.wait_for_events(
        "access_request.requested",
        "access_request.approved",
        "access_request.cancelled",
        "access_request.declined",
    )
    approved_event = next(e for e in events if e["type"].endswith("approved.v1"))
    assert approved_event["data"]["hours"] == 4.0
    assert approved_event["data"]["firm"]["firm_id"] == firm_id


async def test_concurrent_approvals_cannot_double_book(svc: Service, cat: Catalogue) -> None:
    firm_id = await svc.firm()
    firm = as_(Role.FIRM, firm_id)
    owner = as_(Role.CENTRE, COSVIG)
    url = f"/equipment/{cat.digesters}/access-requests"
    requests = [
        (await svc.client.post(url, json=window(2, 8 + n, 12 + n), headers=firm)).json()["id"]
        for n in range(4)
    ]
    async with svc.app() as replica:
        answers = await asyncio.gather(
            *[
                client.post(f"/access-requests/{request_id}/approval", headers=owner)
                for request_id, client in zip(
                    requests, [svc.client, replica, svc.client, replica], strict=True
                )
            ]
        )
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(200) == 1 and statuses.count(409) == 3, [a.text for a in answers]


async def test_partners_and_centres_ask_only_for_the_firms_they_registered(
    svc: Service, cat: Catalogue
) -> None:
    """As for demands: a partner or a centre acts for the firms it registered, not for any firm
    of the platform (found by the authorisation matrix)."""
    partner = as_(Role.PARTNER, "00000000-0000-0000-0000-0000000000aa")
    theirs = await svc.firm(headers=partner)
    regions = await svc.firm(vat=OTHER_VAT)
    url = f"/equipment/{cat.digesters}/access-requests"
    cases = (
        (partner, regions, 403),
        (as_(Role.CENTRE, TLS), theirs, 403),
        (partner, theirs, 201),
        (as_(Role.REGION), regions, 201),
    )
    for day, (headers, firm_id, status) in enumerate(cases, start=2):
        body = window(day, 8, 9) | {"firm_id": firm_id}
        response = await svc.client.post(url, json=body, headers=headers)
        assert response.status_code == status, (headers, response.text)
