"""Demo labs and initiatives of the founding centres: loaded once, even by replicas starting
together; shown once the membership events say their centres are active; near-duplicates and
overlapping initiatives listed."""

from __future__ import annotations

import asyncio

from kernel.db import create_engine, create_sessionmaker
from services.catalog import seed
from tests.integration.catalog.conftest import (
    ANONYMOUS,
    ASEV,
    COSVIG,
    CPTM,
    LUCENSE,
    NAVIGO,
    REGION,
    START,
    TLS,
    Catalog,
    centre,
)


async def test_demo_labs_load_once_and_show_with_their_members(catalog: Catalog) -> None:
    svc = catalog
    engines = [create_engine(svc.database_url) for _ in range(2)]
    try:
        for engine in engines:  # connected first: what races is the seeding, not SQLite's setup
            async with engine.connect():
                pass
        loaded = await asyncio.gather(
            *(seed.seed(create_sessionmaker(engine), now=START) for engine in engines)
        )
    finally:
        for engine in engines:
            await engine.dispose()
    assert sorted(loaded) == [0, len(seed.LABS)]
    counts = await svc.counts()
    async with svc.app(demo_data=True) as client:  # another start: nothing more
        assert await svc.counts() == counts
        labs = (await client.get("/labs", params={"limit": 200}, headers=REGION)).json()["items"]
        assert len(labs) == len(seed.LABS)
        assert {lab["status"] for lab in labs} == {"published"}
        assert {lab["centre_id"] for lab in labs} == {ASEV, COSVIG, CPTM, LUCENSE, NAVIGO, TLS}

    # Published, but no centre is an active member yet: nothing is public.
    assert (await svc.search(q="microscopio elettronico"))["items"] == []
    await svc.admit(ASEV, COSVIG, CPTM, LUCENSE, NAVIGO, TLS)
    sems = await svc.search(q="microscopio elettronico a scansione", entity="equipment")
    assert {item["id"] for item in sems["items"][:2]} == {
        seed.demo_id("equipment", "lucense-sem"),
        seed.demo_id("equipment", "cptm-sem"),
    }
    english = await svc.search(q="geothermal district heating", lang="en")
    assert english["items"][0]["id"] == seed.demo_id("competence", "geothermal-direct-uses")
    assert english["items"][0]["centre_id"] == COSVIG
    assert set((await svc.search())["facets"]["province"]) == {"SI", "LU", "LI", "FI"}

    # The initiatives: dated from the day of loading, past events held and closed, the two
    # composite recycling projects flagged for the committee.
    listed = await svc.client.get("/initiatives", params={"limit": 100}, headers=ANONYMOUS)
    initiatives = {i["id"]: i for i in listed.json()["items"]}
    assert set(initiatives) == {seed.demo_id("initiative", i["key"]) for i in seed.INITIATIVES}
    industry40 = initiatives[seed.demo_id("initiative", "asev-industry40-course")]
    assert industry40["start_date"] == "2026-03-14" and industry40["joint"] is True
    assert industry40["partner_centres"][0]["status"] == "confirmed"
    glp = initiatives[seed.demo_id("initiative", "tls-glp-course")]
    assert glp["status"] == "closed" and glp["attending_participants"] == 24
    calendar = await svc.client.get(
        "/initiatives/calendar", params={"from": "2026-03-02"}, headers=ANONYMOUS
    )
    assert [e["id"] for e in calendar.json()["items"]] == [
        seed.demo_id("initiative", "asev-industry40-course"),
        seed.demo_id("initiative", "lucense-paper-open-day"),
    ]
    overlaps = (await svc.client.get("/initiatives/overlaps", headers=REGION)).json()["items"]
    assert [{o["a"]["id"], o["b"]["id"]} for o in overlaps] == [
        {
            seed.demo_id("initiative", "navigo-recyclable-hulls"),
            seed.demo_id("initiative", "cptm-composite-recycling"),
        }
    ]
    found = await svc.search(q="manutenzione predittiva", entity="initiative")
    assert [i["id"] for i in found["items"]] == [industry40["id"]]
    for subject, kind in (
        (glp["id"], "initiative.event_held"),
        (glp["id"], "initiative.closed"),
        (industry40["id"], "initiative.participation_confirmed"),
        (overlaps[0]["id"], "initiative_overlap.found"),
    ):
        await svc.wait_for_events(kind, subject=subject)

    pairs = (await svc.client.get("/duplicates", headers=REGION)).json()["items"]
    by_reason = {pair["reason"].split(" (")[0] for pair in pairs}
    assert len(pairs) == 4 and by_reason == {
        "same manufacturer and model",
        "similar name and description",
    }
    sem_pair = next(p for p in pairs if p["similarity"] == 1.0)
    assert {sem_pair["a"]["centre_id"], sem_pair["b"]["centre_id"]} == {LUCENSE, CPTM}
    assert {p["a"]["entity"] for p in pairs} == {"equipment", "service"}

    # An entry added to a published lab is published at once, its pairs stored with their ids.
    cptm_lab = seed.demo_id("lab", "cptm-materials")
    course = await svc.add(
        CPTM,
        cptm_lab,
        "services",
        {
            "name": {"it": "Corsi di formazione su Industria 4.0 e digitalizzazione"},
            "kind": "training",
            "description": {
                "it": "Formazione per imprese e tecnici su Industria 4.0, Internet delle cose "
                "e digitalizzazione dei processi produttivi."
            },
        },
    )
    assert course["status"] == "published"
    flagged = {d["centre_id"]: d for d in course["possible_duplicates"]}
    assert set(flagged) == {ASEV, LUCENSE}
    assert all(d["pair_id"] for d in flagged.values())
    assert course["id"] in await svc.found("industria 4.0 digitalizzazione", entity="service")
    listed = await svc.client.get(
        "/duplicates", params={"centre": CPTM, "entity": "service"}, headers=centre(CPTM)
    )
    assert {p["id"] for p in listed.json()["items"]} == {d["pair_id"] for d in flagged.values()}
    assert (await svc.client.get("/duplicates", headers=ANONYMOUS)).status_code == 403
    await svc.wait_for_events("service.published", subject=course["id"])
    for candidate in flagged.values():
        await svc.wait_for_events("duplicate.found", subject=candidate["pair_id"])
