"""Who may write and read what, the lab lifecycle, ETags and If-Match, paging, deletion."""

from __future__ import annotations

from kernel.principal import Role
from tests.integration.catalog.conftest import (
    ANONYMOUS,
    ASEV,
    COSVIG,
    CPTM,
    LUCENSE,
    REGION,
    UNKNOWN_CENTRE,
    Catalog,
    as_,
    centre,
    competence_body,
    lab_body,
    sem_body,
    service_body,
)


async def test_only_an_active_member_centre_writes_its_own_labs(members: Catalog) -> None:
    svc = members
    lab = await svc.create_lab(ASEV)
    competence = await svc.add(ASEV, lab["id"], "competences", competence_body())
    before = await svc.counts()
    checks = [
        # another centre: 403, whatever it touches
        ("PATCH", f"/labs/{lab['id']}", centre(CPTM), {"contact_email": "x@example.org"}, 403),
        ("POST", f"/labs/{lab['id']}/publication", centre(CPTM), None, 403),
        ("DELETE", f"/labs/{lab['id']}", centre(CPTM), None, 403),
        ("POST", f"/labs/{lab['id']}/equipment", centre(CPTM), sem_body(), 403),
        ("DELETE", f"/competences/{competence['id']}", centre(CPTM), None, 403),
        # other roles never write
        ("POST", "/labs", REGION, lab_body(), 403),
        ("POST", "/labs", as_(Role.PARTNER, ASEV), lab_body(), 403),
        ("POST", "/labs", ANONYMOUS, lab_body(), 403),
        ("POST", f"/labs/{lab['id']}/services", REGION, service_body(), 403),
        # centres the membership does not list as active: 409
        ("POST", "/labs", centre(COSVIG), lab_body(), 409),
        ("POST", "/labs", centre(UNKNOWN_CENTRE), lab_body(), 409),
    ]
    for method, url, headers, body, status in checks:
        extra = {"If-Match": '"1"'} if method == "PATCH" else {}
        response = await svc.client.request(method, url, json=body, headers=headers | extra)
        assert response.status_code == status, (method, url, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    unknown = await svc.client.post("/labs", json=lab_body(), headers=centre(UNKNOWN_CENTRE))
    assert "not known" in unknown.json()["detail"] and unknown.json()["member_status"] is None
    await svc.register(UNKNOWN_CENTRE, "Università di Prova")
    registered = await svc.client.post("/labs", json=lab_body(), headers=centre(UNKNOWN_CENTRE))
    assert registered.status_code == 409
    assert "registered but not a member" in registered.json()["detail"]
    assert await svc.counts() == before


async def test_visibility_lifecycle_and_deletion(members: Catalog) -> None:
    svc = members
    lab = await svc.create_lab(ASEV)
    url = f"/labs/{lab['id']}"
    service = await svc.add(ASEV, lab["id"], "services", service_body())
    for headers, status in ((ANONYMOUS, 404), (centre(CPTM), 404), (centre(ASEV), 200)):
        assert (await svc.client.get(url, headers=headers)).status_code == status
        response = await svc.client.get(f"/services/{service['id']}", headers=headers)
        assert response.status_code == status
    assert (await svc.client.get(url, headers=REGION)).status_code == 200
    public = await svc.client.get("/labs", headers=ANONYMOUS)
    assert public.json()["items"] == []
    own = await svc.client.get("/labs", params={"status": "draft"}, headers=centre(ASEV))
    assert [item["id"] for item in own.json()["items"]] == [lab["id"]]

    illegal = await svc.client.post(f"{url}/withdrawal", headers=centre(ASEV))
    assert illegal.status_code == 409 and illegal.json()["allowed"] == ["publication"]
    await svc.publish(ASEV, lab["id"])
    assert (await svc.client.get(url, headers=ANONYMOUS)).status_code == 200
    withdrawn = await svc.client.post(f"{url}/withdrawal", headers=centre(ASEV))
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    entry = await svc.client.get(f"/services/{service['id']}", headers=centre(ASEV))
    assert entry.json()["status"] == "withdrawn"  # entries follow their lab
    assert (await svc.client.get(url, headers=ANONYMOUS)).status_code == 404
    await svc.publish(ASEV, lab["id"])  # a withdrawn lab may be published again

    stale = await svc.client.delete(url, headers=centre(ASEV) | {"If-Match": '"1"'})
    assert stale.status_code == 412
    deleted = await svc.client.delete(url, headers=centre(ASEV))
    assert deleted.status_code == 204
    for headers in (ANONYMOUS, centre(ASEV), REGION):
        assert (await svc.client.get(url, headers=headers)).status_code == 404
        response = await svc.client.get(f"/services/{service['id']}", headers=headers)
        assert response.status_code == 404
    assert (await svc.search())["items"] == []

    events = await svc.wait_for_events(
        "lab.published", "lab.withdrawn", "lab.published", "lab.withdrawn", subject=lab["id"]
    )
    reasons = [e["data"]["reason"] for e in events if e["type"].endswith("withdrawn.v1")]
    assert reasons == ["lab_withdrawn", "lab_deleted"]
    versions = [e["aggregateversion"] for e in events]
    assert versions == sorted(versions)
    entry_events = await svc.wait_for_events(
        "service.published",
        "service.withdrawn",
        "service.published",
        "service.withdrawn",
        subject=service["id"],
    )
    assert entry_events[-1]["data"]["reason"] == "lab_deleted"


async def test_etags_and_if_match_guard_updates(members: Catalog) -> None:
    svc = members
    lab = await svc.create_lab(LUCENSE)
    sem = await svc.add(LUCENSE, lab["id"], "equipment", sem_body())
    for url, change in (
        (f"/labs/{lab['id']}", {"contact_email": "info@lucense.example"}),
        (f"/equipment/{sem['id']}", {"tariff_eur_per_hour": 90}),
    ):
        read = await svc.client.get(url, headers=centre(LUCENSE))
        etag = read.headers["ETag"]
        assert etag == '"1"'
        cached = await svc.client.get(url, headers=centre(LUCENSE) | {"If-None-Match": etag})
        assert cached.status_code == 304
        before = await svc.counts()
        missing = await svc.client.patch(url, json=change, headers=centre(LUCENSE))
        assert missing.status_code == 428
        assert missing.json()["type"].endswith("/precondition-required")
        stale = await svc.client.patch(
            url, json=change, headers=centre(LUCENSE) | {"If-Match": '"7"'}
        )
        assert stale.status_code == 412 and stale.json()["etag"] == etag
        assert await svc.counts() == before
        changed = await svc.client.patch(
            url, json=change, headers=centre(LUCENSE) | {"If-Match": etag}
        )
        assert changed.status_code == 200, changed.text
        assert changed.headers["ETag"] == '"2"' and changed.json()["version"] == 2
        again = await svc.client.patch(
            url, json=change, headers=centre(LUCENSE) | {"If-Match": etag}
        )
        assert again.status_code == 412
    assert (await svc.client.get(f"/equipment/{sem['id']}", headers=REGION)).json()[
        "tariff_eur_per_hour"
    ] == "90.00"


async def test_lists_are_paged_with_an_opaque_cursor_in_a_stable_order(members: Catalog) -> None:
    svc = members
    lab = await svc.create_lab(CPTM)
    created = []
    for year in range(2010, 2015):
        entry = await svc.add(CPTM, lab["id"], "equipment", sem_body(year=year, model=str(year)))
        created.append(entry["id"])
    await svc.publish(CPTM, lab["id"])
    for url, params in (
        (f"/labs/{lab['id']}/equipment", {}),
        ("/equipment", {"centre": CPTM, "shareable": "true", "ateco": "N"}),
    ):
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            query = {"limit": 2, **params} | ({"cursor": cursor} if cursor else {})
            page = (await svc.client.get(url, params=query, headers=ANONYMOUS)).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == created, url
    none = await svc.client.get("/equipment", params={"ateco": "01"}, headers=ANONYMOUS)
    assert none.json() == {"items": [], "next_cursor": None}
    first = await svc.search(q="microscopio", limit=3)
    second = await svc.search(q="microscopio", limit=3, cursor=first["next_cursor"])
    ids = [i["id"] for i in first["items"] + second["items"]]
    assert len(ids) == len(set(ids)) == 5 and second["next_cursor"] is None
    assert set(ids) == set(created) and first["total"] == second["total"] == 5
