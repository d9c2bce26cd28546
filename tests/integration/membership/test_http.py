"""HTTP conventions: ETag and If-Match, cursor pagination, object-level checks on updates."""

from __future__ import annotations

import pytest

from kernel.principal import Role
from services.membership import seed
from tests.integration.membership.conftest import (
    ANONYMOUS,
    OTHER_VAT,
    REGION,
    THIRD_VAT,
    Service,
    application_body,
    as_,
)

ASEV = seed.SIGNATORY_IDS["ASEV"]
COSVIG = seed.SIGNATORY_IDS["COSVIG"]


async def test_if_match_guards_updates_of_organisations(svc: Service) -> None:
    url = f"/organisations/{ASEV}"
    read = await svc.client.get(url, headers=ANONYMOUS)
    etag = read.headers["ETag"]
    assert etag.startswith('"') and read.json()["version"] == 1

    before = await svc.counts()
    missing = await svc.client.patch(url, json={"address": "Via X"}, headers=REGION)
    assert missing.status_code == 428
    assert missing.json()["type"].endswith("/precondition-required")
    stale = await svc.client.patch(
        url, json={"address": "Via X"}, headers=REGION | {"If-Match": '"0.0"'}
    )
    assert stale.status_code == 412
    assert await svc.counts() == before

    changed = await svc.client.patch(
        url,
        json={"address": "Via delle Fiascaie 12", "vat_number": OTHER_VAT},
        headers=as_(Role.CENTRE, ASEV) | {"If-Match": etag},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["vat_number"] == OTHER_VAT and changed.json()["version"] == 2
    new_etag = changed.headers["ETag"]
    assert new_etag != etag
    reused = await svc.client.patch(url, json={"address": "Y"}, headers=REGION | {"If-Match": etag})
    assert reused.status_code == 412
    assert (await svc.client.get(url, headers=ANONYMOUS)).headers["ETag"] == new_etag

    event = (await svc.wait_for_events("organisation.updated", subject=ASEV))[-1]
    assert event["aggregateversion"] == 2
    assert event["data"]["changed"] == ["address", "vat_number"]
    assert event["data"]["province_name"] == "Firenze" and event["data"]["region"] == "Toscana"


async def test_conditional_reads_answer_304(svc: Service) -> None:
    for url in (f"/organisations/{ASEV}", f"/members/{ASEV}"):
        first = await svc.client.get(url, headers=ANONYMOUS)
        again = await svc.client.get(
            url, headers=ANONYMOUS | {"If-None-Match": first.headers["ETag"]}
        )
        assert again.status_code == 304


async def test_the_member_etag_changes_with_its_status(svc: Service) -> None:
    url = f"/members/{COSVIG}"
    before = (await svc.client.get(url, headers=ANONYMOUS)).headers["ETag"]
    await svc.client.post(f"{url}/suspension", json={"reason": "x"}, headers=REGION)
    after = (await svc.client.get(url, headers=ANONYMOUS)).headers["ETag"]
    assert before != after


async def test_a_centre_changes_only_its_own_organisation(svc: Service) -> None:
    url = f"/organisations/{COSVIG}"
    etag = (await svc.client.get(url, headers=ANONYMOUS)).headers["ETag"]
    before = await svc.counts()
    for role in (Role.CENTRE, Role.PARTNER, Role.FIRM, Role.ANONYMOUS):
        response = await svc.client.patch(
            url, json={"name": "Hijacked"}, headers=as_(role, ASEV) | {"If-Match": etag}
        )
        assert response.status_code == 403, role
    created = await svc.client.post(
        "/organisations",
        json={"name": "X", "kind": "other", "province": "FI", "municipality": "Firenze"},
        headers=as_(Role.CENTRE, ASEV),
    )
    assert created.status_code == 403
    assert await svc.counts() == before


async def test_patch_checks_location_vat_and_nulls(svc: Service) -> None:
    url = f"/organisations/{ASEV}"
    headers = REGION | {"If-Match": (await svc.client.get(url, headers=REGION)).headers["ETag"]}
    moved = await svc.client.patch(url, json={"municipality": "vinci"}, headers=headers)
    assert moved.status_code == 200 and moved.json()["municipality"] == "Vinci"
    headers["If-Match"] = moved.headers["ETag"]
    before = await svc.counts()
    elsewhere = await svc.client.patch(url, json={"province": "LU"}, headers=headers)
    assert elsewhere.status_code == 422  # Vinci is not in the province of Lucca
    assert elsewhere.json()["errors"][0]["field"] == "municipality"
    nulled = await svc.client.patch(url, json={"name": None}, headers=headers)
    assert nulled.status_code == 422
    bad_vat = await svc.client.patch(url, json={"vat_number": "123"}, headers=headers)
    assert bad_vat.status_code == 422 and bad_vat.json()["errors"][0]["field"] == "vat_number"
    assert await svc.counts() == before
    await svc.client.post(
        "/organisations",
        json={
            "name": "Y",
            "kind": "other",
            "province": "FI",
            "municipality": "Firenze",
            "vat_number": THIRD_VAT,
        },
        headers=REGION,
    )
    taken = await svc.client.patch(url, json={"vat_number": THIRD_VAT}, headers=headers)
    assert taken.status_code == 409


async def test_members_are_paged_with_an_opaque_cursor_in_a_stable_order(svc: Service) -> None:
    everything = (await svc.client.get("/members", headers=ANONYMOUS)).json()
    assert everything["next_cursor"] is None and len(everything["items"]) == 7
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await svc.client.get("/members", params=params, headers=ANONYMOUS)).json()
        pages += 1
        seen += [m["organisation_id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [m["organisation_id"] for m in everything["items"]]


async def test_organisations_and_applications_are_paged_too(svc: Service) -> None:
    for n, vat in enumerate((OTHER_VAT, THIRD_VAT, None)):
        await svc.apply(application_body(vat_number=vat, name=f"Candidate {n}"))
    first = (await svc.client.get("/applications", params={"limit": 2}, headers=REGION)).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = (
        await svc.client.get(
            "/applications", params={"limit": 2, "cursor": first["next_cursor"]}, headers=REGION
        )
    ).json()
    names = [a["organisation"]["name"] for a in first["items"] + rest["items"]]
    assert names == ["Candidate 0", "Candidate 1", "Candidate 2"] and rest["next_cursor"] is None
    orgs = (await svc.client.get("/organisations", params={"limit": 5}, headers=ANONYMOUS)).json()
    more = (
        await svc.client.get(
            "/organisations", params={"cursor": orgs["next_cursor"]}, headers=ANONYMOUS
        )
    ).json()
    assert len(orgs["items"]) == 5 and len(more["items"]) == 2
    by_province = await svc.client.get(
        "/organisations", params={"province": "lu"}, headers=ANONYMOUS
    )
    assert {o["acronym"] for o in by_province.json()["items"]} == {"LUCENSE", "NAVIGO"}


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 201}, {"limit": "ten"}, {"cursor": "garbage!"}]
)
async def test_bad_paging_parameters_are_a_422(svc: Service, params: dict[str, str | int]) -> None:
    response = await svc.client.get("/members", params=params, headers=ANONYMOUS)
    assert response.status_code == 422
    assert response.json()["errors"][0]["in"] == "query"
