"""The catalogue end to end at service level: a centre publishes a lab, finds it in Italian and
in English, is told of a near-duplicate at another centre; the Region resolves the pair; a
suspension, arriving as a real membership event, hides the lab and a reinstatement shows it."""

from __future__ import annotations

from tests.integration.catalog.conftest import (
    ANONYMOUS,
    CPTM,
    LUCENSE,
    REGION,
    Catalog,
    centre,
    competence_body,
    sem_body,
)


async def test_publish_find_flag_resolve_suspend_reinstate(members: Catalog) -> None:
    svc = members
    # Another centre already offers a SEM of the same model.
    cptm_lab = await svc.create_lab(CPTM, province="LI", municipality="Cecina")
    cptm_sem = await svc.add(CPTM, cptm_lab["id"], "equipment", sem_body(model="JSM IT500"))
    await svc.publish(CPTM, cptm_lab["id"])

    lab = await svc.create_lab(
        LUCENSE,
        name={"it": "Laboratorio carta e materiali", "en": "Paper and materials laboratory"},
        description={
            "it": "Laboratorio prove su carta, cartone e imballaggi per il distretto cartario.",
            "en": "Testing laboratory for paper, board and packaging of the paper district.",
        },
        province="LU",
        municipality="Lucca",
    )
    assert lab["status"] == "draft" and lab["centre_id"] == LUCENSE and lab["lab_id"] == lab["id"]
    assert lab["possible_duplicates"] == []
    competence = await svc.add(LUCENSE, lab["id"], "competences", competence_body())
    assert competence["status"] == "draft" and competence["lab_id"] == lab["id"]
    sem = await svc.add(LUCENSE, lab["id"], "equipment", sem_body())
    flagged = sem["possible_duplicates"]
    assert [d["id"] for d in flagged] == [cptm_sem["id"]]
    assert flagged[0]["centre_id"] == CPTM and flagged[0]["entity"] == "equipment"
    assert flagged[0]["similarity"] == 1.0
    assert flagged[0]["reason"] == "same manufacturer and model"
    assert flagged[0]["pair_id"] is None  # a draft: nothing stored yet

    # A draft is not public.
    assert (await svc.client.get(f"/labs/{lab['id']}", headers=ANONYMOUS)).status_code == 404
    assert (await svc.found("carta")) == set()

    published = await svc.publish(LUCENSE, lab["id"])
    assert published["status"] == "published"
    read = await svc.client.get(f"/equipment/{sem['id']}", headers=ANONYMOUS)
    assert read.status_code == 200 and read.json()["status"] == "published"

    italian = await svc.search(q="laboratori di prova carta")
    assert italian["items"][0]["id"] == lab["id"]
    assert italian["items"][0]["entity"] == "lab" and italian["items"][0]["score"] > 0
    assert "carta" in italian["items"][0]["snippet"]
    english = await svc.search(q="composite materials characterization", lang="en")
    assert english["items"][0]["id"] == competence["id"]
    assert english["items"][0]["title"] == "Characterisation of composite materials"
    assert english["facets"]["centre"][LUCENSE] == 3  # lab, competence, equipment
    assert english["total"] == sum(english["facets"]["entity"].values())

    # Publishing stored the pair; the committee sees it and the Region resolves it.
    pairs = (await svc.client.get("/duplicates", headers=centre(LUCENSE))).json()["items"]
    assert len(pairs) == 1
    pair = pairs[0]
    assert {pair["a"]["id"], pair["b"]["id"]} == {sem["id"], cptm_sem["id"]}
    assert pair["status"] == "open" and pair["similarity"] == 1.0
    refused = await svc.client.post(
        f"/duplicates/{pair['id']}/resolution", json={"resolution": "shared"}, headers=centre(CPTM)
    )
    assert refused.status_code == 403
    resolved = await svc.client.post(
        f"/duplicates/{pair['id']}/resolution", json={"resolution": "shared"}, headers=REGION
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "shared"
    assert resolved.json()["resolved_by"]["role"] == "region"
    assert (await svc.client.get("/duplicates", headers=REGION)).json()["items"] == []
    again = await svc.client.post(
        f"/duplicates/{pair['id']}/resolution", json={"resolution": "distinct"}, headers=REGION
    )
    assert again.status_code == 409

    # A resolved pair is never reported again.
    etag = (await svc.client.get(f"/equipment/{sem['id']}", headers=ANONYMOUS)).headers["ETag"]
    updated = await svc.client.patch(
        f"/equipment/{sem['id']}",
        json={"year": 2021},
        headers=centre(LUCENSE) | {"If-Match": etag},
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["possible_duplicates"] == []

    # Suspension: a real MemberSuspended on CLOCK_MEMBERSHIP, through the real consumer.
    await svc.suspend(LUCENSE)
    assert lab["id"] not in await svc.found("carta cartone")
    assert (await svc.client.get(f"/labs/{lab['id']}", headers=ANONYMOUS)).status_code == 404
    assert (await svc.client.get(f"/labs/{lab['id']}", headers=REGION)).status_code == 200
    own = await svc.client.get(f"/labs/{lab['id']}", headers=centre(LUCENSE))
    assert own.status_code == 200  # a centre reads its own entries
    blocked = await svc.client.post(
        f"/labs/{lab['id']}/competences", json=competence_body(), headers=centre(LUCENSE)
    )
    assert blocked.status_code == 409 and blocked.json()["member_status"] == "suspended"

    await svc.reinstate(LUCENSE)
    assert lab["id"] in await svc.found("carta cartone")

    events = await svc.wait_for_events(
        "lab.published",
        "lab.published",
        "equipment.published",
        "equipment.published",
        "competence.published",
        "duplicate.found",
        "duplicate.resolved",
        "equipment.updated",
    )
    types = [e["type"].split(".", 2)[2] for e in events]
    assert "lab.withdrawn.v1" not in types  # suspension is told by membership events only
    found = next(e for e in events if e["type"] == "clock.catalog.duplicate.found.v1")
    assert found["subject"] == pair["id"] and found["data"]["similarity"] == 1.0
    published_sem = next(
        e
        for e in events
        if e["type"] == "clock.catalog.equipment.published.v1" and e["subject"] == sem["id"]
    )
    data = published_sem["data"]
    assert data["manufacturer"] == "JEOL" and data["tariff_eur_per_hour"] == "85.00"
    assert data["province"] == "LU" and data["lab_name"]["it"] == "Laboratorio carta e materiali"
    assert published_sem["aggregateversion"] == 2  # created (1), published with its lab (2)
    update = next(e for e in events if e["type"] == "clock.catalog.equipment.updated.v1")
    assert update["data"]["changed"] == ["year"] and update["aggregateversion"] == 3
