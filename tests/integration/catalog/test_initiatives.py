"""The initiatives register at service level (SQLite and PostgreSQL, real nats-server):
registering, reading with ETags, changing with If-Match, joint actions and their confirmations,
overlaps across centres and their resolution, the public calendar and its iCalendar feed, the
JSON-LD export, the events on the catalog stream, and bad input that changes nothing."""

from __future__ import annotations

from typing import Any

import rdflib
from icalendar import Calendar
from rdflib import RDF, Graph, Literal, Namespace, URIRef
from sqlalchemy import func, select

from kernel.principal import Role
from kernel.tables import outbox
from services.catalog.initiatives import models
from services.catalog.initiatives.linked_data import CONTEXT
from tests.conftest import ROOT
from tests.integration.catalog.conftest import (
    ANONYMOUS,
    ASEV,
    COSVIG,
    CPTM,
    LUCENSE,
    NAVIGO,
    REGION,
    UNKNOWN_CENTRE,
    Catalog,
    as_,
    centre,
)

HER = Namespace("https://w3id.org/italia/onto/HER/")
PROJECT = Namespace("https://w3id.org/italia/onto/Project/")
SCHEMA = Namespace("https://schema.org/")
ONTOLOGY = ROOT / "services" / "catalog" / "data" / "ontologies" / "HER-AP_IT.ttl"
BASE = "http://127.0.0.1:8000/api/v1/catalog"
UNKNOWN = "01900000-0000-7000-8000-000000000000"
TABLES = {
    "initiatives": models.Initiative.__table__,
    "initiative_partners": models.InitiativePartner.__table__,
    "initiative_overlaps": models.InitiativeOverlap.__table__,
    "outbox": outbox,
}


def project_body(**fields: Any) -> dict[str, Any]:
    return {
        "kind": "research_project",
        "title": {
            "it": "Compositi riciclabili in fibra di carbonio per la nautica",
            "en": "Recyclable carbon fibre composites for boats",
        },
        "description": {
            "it": "Ricerca su resine termoplastiche e riciclo dei laminati in fibra di carbonio "
            "per scafi e componenti nautici.",
            "en": "Research on thermoplastic resins and recycling of carbon fibre laminates for "
            "hulls and boat components.",
        },
        "partner_organisations": [
            {"name": "Università di Pisa", "kind": "university"},
            {"name": "Cantiere Esempio S.r.l.", "kind": "firm", "country": "it"},
        ],
        "funding_programme": "horizon_europe",
        "funding_call": "HORIZON-CL4-2025-TWIN-TRANSITION-01",
        "budget_eur": "1250000.00",
        "public_funding_eur": 900000,
        "start_date": "2026-01-01",
        "end_date": "2028-12-31",
        "tags": {"s3": ["S3-2021.MAT"], "ket": ["advanced_materials"], "ford": ["2.5"]},
        "links": [{"url": "https://example.org/compositi", "title": "Scheda"}],
    } | fields


def event_body(**fields: Any) -> dict[str, Any]:
    return {
        "kind": "training",
        "title": {"it": "Corso: stampa 3D; metalli, polimeri", "en": "Course: 3D printing"},
        "description": {"it": "Corso pratico di manifattura additiva per le PMI."},
        "start_date": "2026-04-10",
        "start_time": "09:30",
        "end_time": "13:00",
        "venue": "Polo tecnologico, sala A; piano 1",
        "province": "LU",
        "municipality": "Capannori",
        "registered_participants": 12,
        "tags": {"s3": ["S3-2021.MAN"]},
    } | fields


async def counts(svc: Catalog) -> dict[str, int]:
    async with svc.engine.connect() as connection:
        return {
            name: (await connection.execute(select(func.count()).select_from(table))).scalar_one()
            for name, table in TABLES.items()
        }


async def create(svc: Catalog, org_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await svc.client.post("/initiatives", json=body, headers=centre(org_id))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def patch(
    svc: Catalog, org_id: str, initiative: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    response = await svc.client.patch(
        f"/initiatives/{initiative['id']}",
        json=changes,
        headers=centre(org_id) | {"If-Match": f'"{initiative["version"]}"'},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def refused(
    svc: Catalog, method: str, url: str, status: int, **request: Any
) -> dict[str, Any]:
    response = await svc.client.request(method, url, **request)
    assert response.status_code == status, (method, url, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    problem = dict(response.json())
    assert problem["status"] == status and problem["detail"]
    return problem


def fields(problem: dict[str, Any]) -> set[str]:
    return {e["field"] for e in problem.get("errors", [])}


async def test_register_read_change_close(members: Catalog) -> None:
    svc = members
    created = await svc.client.post(
        "/initiatives", json=project_body(partner_centres=[CPTM]), headers=centre(LUCENSE)
    )
    assert created.status_code == 201, created.text
    project = created.json()
    assert created.headers["ETag"] == '"1"'
    assert created.headers["Location"] == f"initiatives/{project['id']}"
    assert project["centre_id"] == LUCENSE and project["status"] == "planned"
    assert project["joint"] is True and project["kind"] == "research_project"
    assert project["partner_centres"] == [
        {"centre_id": CPTM, "status": "proposed", "confirmed_at": None}
    ]
    assert project["partner_organisations"][1] == {
        "name": "Cantiere Esempio S.r.l.",
        "kind": "firm",
        "country": "IT",
    }
    assert project["budget_eur"] == "1250000.00" and project["public_funding_eur"] == "900000.00"
    assert project["tags"]["ford"] == ["2.5"] and project["possible_overlaps"] == []
    assert project["links"] == [{"url": "https://example.org/compositi", "title": "Scheda"}]
    assert project["province"] is None and project["registration_open"] is None

    # Public once not a draft; ETag and If-None-Match.
    read = await svc.client.get(f"/initiatives/{project['id']}", headers=ANONYMOUS)
    assert read.status_code == 200 and read.json()["title"] == project["title"]
    assert read.headers["ETag"] == '"1"'
    assert read.headers["cache-control"].startswith("public")
    cached = await svc.client.get(
        f"/initiatives/{project['id']}", headers=ANONYMOUS | {"If-None-Match": '"1"'}
    )
    assert cached.status_code == 304

    # A draft is for the centres involved and the Region.
    draft = await create(svc, LUCENSE, project_body(status="draft", title={"it": "Bozza"}))
    for headers, status in (
        (ANONYMOUS, 404),
        (centre(ASEV), 404),
        (centre(LUCENSE), 200),
        (REGION, 200),
    ):
        response = await svc.client.get(f"/initiatives/{draft['id']}", headers=headers)
        assert response.status_code == status, headers
    await refused(
        svc,
        "PATCH",
        f"/initiatives/{draft['id']}",
        403,
        json={"funding_call": "X"},
        headers=centre(ASEV) | {"If-Match": "*"},
    )
    listed = await svc.client.get("/initiatives", headers=ANONYMOUS)
    assert [i["id"] for i in listed.json()["items"]] == [project["id"]]
    own = await svc.client.get("/initiatives", params={"centre": LUCENSE}, headers=centre(LUCENSE))
    assert [i["id"] for i in own.json()["items"]] == [project["id"], draft["id"]]
    as_partner = await svc.client.get("/initiatives", params={"centre": CPTM}, headers=REGION)
    assert [i["id"] for i in as_partner.json()["items"]] == [project["id"]]
    for params, expected in (
        ({"joint": "true"}, [project["id"]]),
        ({"joint": "false"}, [draft["id"]]),
        ({"s3": "S3-2021"}, [project["id"], draft["id"]]),  # a code finds the codes below it
        ({"ket": "photonics"}, []),
        ({"status": "draft"}, [draft["id"]]),
        ({"kind": "training"}, []),
    ):
        found = await svc.client.get("/initiatives", params=params, headers=REGION)
        assert [i["id"] for i in found.json()["items"]] == expected, params
    first = await svc.client.get("/initiatives", params={"limit": 1}, headers=REGION)
    second = await svc.client.get(
        "/initiatives", params={"limit": 1, "cursor": first.json()["next_cursor"]}, headers=REGION
    )
    assert [i["id"] for i in second.json()["items"]] == [draft["id"]]
    assert second.json()["next_cursor"] is None

    # Changing: If-Match required and checked; only the lead centre writes.
    url = f"/initiatives/{project['id']}"
    await refused(svc, "PATCH", url, 428, json={"status": "running"}, headers=centre(LUCENSE))
    stale = centre(LUCENSE) | {"If-Match": '"7"'}
    await refused(svc, "PATCH", url, 412, json={"status": "running"}, headers=stale)
    for headers in (centre(CPTM), centre(ASEV), REGION, ANONYMOUS):
        await refused(
            svc, "PATCH", url, 403, json={"status": "running"}, headers=headers | {"If-Match": "*"}
        )
    running = await patch(svc, LUCENSE, project, {"status": "running", "funding_call": "CALL-2"})
    assert running["status"] == "running" and running["version"] == 2
    backwards = await refused(
        svc,
        "PATCH",
        url,
        409,
        json={"status": "planned"},
        headers=centre(LUCENSE) | {"If-Match": '"2"'},
    )
    assert backwards["current_status"] == "running" and backwards["allowed"] == ["closed"]
    unchanged = await patch(svc, LUCENSE, running, {"funding_call": "CALL-2"})
    assert unchanged["version"] == 2
    closed = await patch(svc, LUCENSE, running, {"status": "closed"})
    assert closed["status"] == "closed" and closed["closed_at"] is not None

    # A draft leaving its draft is `created` for the stream.
    published = await patch(svc, LUCENSE, draft, {"status": "planned"})
    assert published["version"] == 2

    events = await svc.wait_for_events(
        "initiative.created", "initiative.updated", "initiative.closed", "initiative.created"
    )
    mine = [e for e in events if e["type"].startswith("clock.catalog.initiative.")]
    assert [(e["type"].split(".")[3], e["subject"], e["aggregateversion"]) for e in mine] == [
        ("created", project["id"], 1),
        ("updated", project["id"], 2),
        ("closed", project["id"], 3),
        ("created", draft["id"], 2),
    ]
    assert mine[1]["data"]["changed"] == ["funding_call", "status"]
    data = mine[0]["data"]
    assert data["joint"] is True and data["partner_centres"][0]["status"] == "proposed"
    assert data["budget_eur"] == "1250000.00" and data["start_date"] == "2026-01-01"
    assert data["actor"]["org_id"] == LUCENSE

    # A suspended lead centre's initiatives leave the public register.
    await svc.suspend(LUCENSE)
    assert (await svc.client.get(url, headers=ANONYMOUS)).status_code == 404
    assert (await svc.client.get(url, headers=REGION)).status_code == 200
    blocked = await svc.client.post("/initiatives", json=project_body(), headers=centre(LUCENSE))
    assert blocked.status_code == 409 and blocked.json()["member_status"] == "suspended"


async def test_joint_action_partners_confirm(members: Catalog) -> None:
    svc = members
    joint = await create(
        svc,
        LUCENSE,
        project_body(kind="joint_action", partner_centres=[CPTM, NAVIGO, CPTM]),
    )
    assert [p["centre_id"] for p in joint["partner_centres"]] == [CPTM, NAVIGO]
    assert {p["status"] for p in joint["partner_centres"]} == {"proposed"}
    url = f"/initiatives/{joint['id']}/partners/{CPTM}/confirmation"
    before = await counts(svc)
    # Confirming for another centre: neither the lead nor a third centre may.
    for org_id in (LUCENSE, NAVIGO, ASEV):
        problem = await refused(svc, "POST", url, 403, headers=centre(org_id))
        assert CPTM in problem["detail"]
    await refused(svc, "POST", url, 403, headers=REGION)
    await refused(
        svc,
        "POST",
        f"/initiatives/{joint['id']}/partners/{ASEV}/confirmation",
        404,
        headers=centre(ASEV),
    )
    await refused(
        svc,
        "POST",
        f"/initiatives/{UNKNOWN}/partners/{CPTM}/confirmation",
        404,
        headers=centre(CPTM),
    )
    assert await counts(svc) == before

    confirmed = await svc.client.post(url, headers=centre(CPTM))
    assert confirmed.status_code == 200, confirmed.text
    partners = {p["centre_id"]: p for p in confirmed.json()["partner_centres"]}
    assert partners[CPTM]["status"] == "confirmed" and partners[CPTM]["confirmed_at"]
    assert partners[NAVIGO]["status"] == "proposed"
    assert confirmed.headers["ETag"] == '"2"'
    await refused(svc, "POST", url, 409, headers=centre(CPTM))

    # Dropping a partner keeps the others' confirmations.
    changed = await patch(svc, LUCENSE, confirmed.json(), {"partner_centres": [CPTM]})
    assert changed["partner_centres"][0]["status"] == "confirmed"
    assert len(changed["partner_centres"]) == 1
    events = await svc.wait_for_events(
        "initiative.created", "initiative.participation_confirmed", "initiative.updated"
    )
    confirmation = next(e for e in events if e["type"].endswith("participation_confirmed.v1"))
    assert confirmation["data"]["partner_centre_id"] == CPTM
    assert confirmation["aggregateversion"] == 2


async def test_overlaps_across_centres_and_their_resolution(members: Catalog) -> None:
    svc = members
    lucense = await create(svc, LUCENSE, project_body())
    # Another centre, similar topic and tags, overlapping period.
    similar = project_body(
        title={"it": "Riciclo dei compositi in fibra di carbonio per la nautica"},
        description={
            "it": "Resine termoplastiche e riciclo di laminati in fibra di carbonio per scafi."
        },
        start_date="2027-06-01",
        end_date="2029-05-31",
    )
    cptm = await create(svc, CPTM, similar)
    flagged = cptm["possible_overlaps"]
    assert [o["id"] for o in flagged] == [lucense["id"]]
    assert flagged[0]["centre_id"] == LUCENSE and flagged[0]["overlap_id"]
    assert 0.4 <= flagged[0]["similarity"] <= 1 and "carbon" in flagged[0]["reason"]
    # Not reported: the same centre, another period, another family (an event), a draft's
    # stored pair (only returned).
    same_centre = await create(svc, LUCENSE, similar)
    assert [o["id"] for o in same_centre["possible_overlaps"]] == [cptm["id"]]
    later = await create(svc, ASEV, similar | {"start_date": "2030-01-01", "end_date": None})
    assert later["possible_overlaps"] == []
    event = await create(
        svc, NAVIGO, event_body(title=similar["title"], description=similar["description"])
    )
    assert event["possible_overlaps"] == []
    draft = await create(svc, NAVIGO, similar | {"status": "draft"})
    assert {o["overlap_id"] for o in draft["possible_overlaps"]} == {None}

    listed = await svc.client.get("/initiatives/overlaps", headers=centre(ASEV))
    pairs = listed.json()["items"]
    assert len(pairs) == 2  # LUCENSE-CPTM and CPTM-LUCENSE's second project
    pair = next(p for p in pairs if {p["a"]["id"], p["b"]["id"]} == {lucense["id"], cptm["id"]})
    assert pair["status"] == "open"
    assert (await svc.client.get("/initiatives/overlaps", headers=ANONYMOUS)).status_code == 403
    one = await svc.client.get(f"/initiatives/overlaps/{pair['id']}", headers=REGION)
    assert one.status_code == 200 and one.json()["id"] == pair["id"]

    resolution = f"/initiatives/overlaps/{pair['id']}/resolution"
    before = await counts(svc)
    await refused(
        svc, "POST", resolution, 403, json={"resolution": "distinct"}, headers=centre(CPTM)
    )
    await refused(svc, "POST", resolution, 422, json={"resolution": "open"}, headers=REGION)
    assert await counts(svc) == before
    resolved = await svc.client.post(
        resolution, json={"resolution": "to_coordinate"}, headers=REGION
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "to_coordinate"
    assert resolved.json()["resolved_by"]["role"] == "region"
    await refused(svc, "POST", resolution, 409, json={"resolution": "distinct"}, headers=REGION)
    coordinated = await svc.client.get(
        "/initiatives/overlaps", params={"status": "to_coordinate"}, headers=REGION
    )
    assert [p["id"] for p in coordinated.json()["items"]] == [pair["id"]]
    # A resolved pair is never reported again.
    again = await patch(svc, CPTM, cptm, {"funding_call": "OTHER-CALL"})
    assert lucense["id"] not in {o["id"] for o in again["possible_overlaps"]}

    events = await svc.wait_for_events(
        "initiative_overlap.found", "initiative_overlap.found", "initiative_overlap.resolved"
    )
    found = [e for e in events if e["type"] == "clock.catalog.initiative_overlap.found.v1"]
    assert {e["data"]["a"]["initiative_id"] for e in found} | {
        e["data"]["b"]["initiative_id"] for e in found
    } == {lucense["id"], cptm["id"], same_centre["id"]}
    done = next(e for e in events if e["type"].endswith("overlap.resolved.v1"))
    assert done["data"]["resolution"] == "to_coordinate" and done["subject"] == pair["id"]


async def test_calendar_and_its_icalendar_feed(members: Catalog) -> None:
    svc = members
    course = await create(svc, LUCENSE, event_body())
    assert course["registration_open"] is True and course["municipality"] == "Capannori"
    talk = await create(
        svc,
        CPTM,
        event_body(
            kind="dissemination_event",
            title={"en": "Open day on photonics"},
            description=None,
            start_date="2026-05-05",
            end_date="2026-05-06",
            start_time=None,
            end_time=None,
            venue=None,
            province="PI",
            municipality="Pontedera",
            tags={"ket": ["photonics"]},
        ),
    )
    await create(svc, LUCENSE, event_body(start_date="2026-01-10"))  # past (today: 2 March)
    await create(svc, LUCENSE, event_body(status="draft"))
    await create(svc, LUCENSE, project_body())
    await create(
        svc, ASEV, event_body(start_date="2026-06-01", province="SI", municipality="Siena")
    )

    calendar = await svc.client.get("/initiatives/calendar", headers=ANONYMOUS)
    assert calendar.status_code == 200, calendar.text
    items = calendar.json()["items"]
    assert [i["id"] for i in items][:2] == [course["id"], talk["id"]] and len(items) == 3
    for params, expected in (
        ({"province": "LU"}, [course["id"]]),
        ({"ket": "photonics"}, [talk["id"]]),
        ({"s3": "S3-2021"}, [course["id"], items[2]["id"]]),
        ({"from": "2026-05-01", "to": "2026-05-31"}, [talk["id"]]),
        ({"from": "2026-05-06"}, [talk["id"], items[2]["id"]]),  # the talk's second day
        ({"kind": "dissemination_event"}, [talk["id"]]),
        ({"centre": CPTM}, [talk["id"]]),
    ):
        found = await svc.client.get("/initiatives/calendar", params=params, headers=ANONYMOUS)
        assert [i["id"] for i in found.json()["items"]] == expected, params
    first = await svc.client.get("/initiatives/calendar", params={"limit": 2}, headers=ANONYMOUS)
    rest = await svc.client.get(
        "/initiatives/calendar",
        params={"limit": 2, "cursor": first.json()["next_cursor"]},
        headers=ANONYMOUS,
    )
    assert [i["id"] for i in rest.json()["items"]] == [items[2]["id"]]

    feed = await svc.client.get("/initiatives/calendar.ics", headers=ANONYMOUS)
    assert feed.status_code == 200
    assert feed.headers["content-type"] == "text/calendar; charset=utf-8"
    raw = feed.content
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    assert b"LOCATION:Polo tecnologico\\, sala A\\; piano 1\\, Capannori (LU)" in raw
    assert b"SUMMARY:Corso: stampa 3D\\; metalli\\, polimeri" in raw
    parsed = Calendar.from_ical(raw)
    assert str(parsed["VERSION"]) == "2.0" and parsed["PRODID"]
    events = {str(e["UID"]): e for e in parsed.walk("VEVENT")}
    assert set(events) == {f"{i['id']}@clock.toscana.it" for i in items}
    lesson = events[f"{course['id']}@clock.toscana.it"]
    assert lesson.decoded("DTSTART").isoformat() == "2026-04-10T07:30:00+00:00"  # 9:30 in Rome
    assert lesson.decoded("DTEND").isoformat() == "2026-04-10T11:00:00+00:00"
    assert str(lesson["SUMMARY"]) == "Corso: stampa 3D; metalli, polimeri"
    assert str(lesson["LOCATION"]) == "Polo tecnologico, sala A; piano 1, Capannori (LU)"
    assert str(lesson["URL"]) == f"{BASE}/initiatives/{course['id']}"
    day = events[f"{talk['id']}@clock.toscana.it"]
    assert day.decoded("DTSTART").isoformat() == "2026-05-05"  # all day, two days
    assert day.decoded("DTEND").isoformat() == "2026-05-07"
    assert str(day["SUMMARY"]) == "Open day on photonics"  # no Italian title
    assert str(day["LOCATION"]) == "Pontedera (PI)"
    english = await svc.client.get(
        "/initiatives/calendar.ics", params={"lang": "en", "province": "LU"}, headers=ANONYMOUS
    )
    only = list(Calendar.from_ical(english.content).walk("VEVENT"))
    assert [str(e["SUMMARY"]) for e in only] == ["Course: 3D printing"]


async def test_event_held_with_its_attendance(members: Catalog) -> None:
    svc = members
    past = await create(svc, LUCENSE, event_body(start_date="2026-02-20", registration_open=False))
    early = await svc.client.patch(
        f"/initiatives/{past['id']}",
        json={"attending_participants": 12, "start_date": "2026-03-20"},
        headers=centre(LUCENSE) | {"If-Match": '"1"'},
    )
    assert early.status_code == 422 and fields(early.json()) == {"attending_participants"}
    held = await patch(svc, LUCENSE, past, {"attending_participants": 11})
    assert held["attending_participants"] == 11
    closed = await patch(svc, LUCENSE, held, {"status": "closed"})
    assert closed["version"] == 4  # updated and event_held were 2 and 3
    # Walk-ins: above the registrations while registration is open.
    open_event = await create(svc, CPTM, event_body(start_date="2026-03-01"))
    walk_ins = await patch(svc, CPTM, open_event, {"attending_participants": 15})
    assert walk_ins["attending_participants"] == 15
    events = await svc.wait_for_events(
        "initiative.event_held", "initiative.event_held", subject=None
    )
    held_events = [e for e in events if e["type"].endswith("event_held.v1")]
    assert [(e["data"]["registered"], e["data"]["attending"]) for e in held_events] == [
        (12, 11),
        (12, 15),
    ]
    assert held_events[0]["data"]["province"] == "LU"


async def test_export_as_linked_data_aligned_with_her_ap_it(members: Catalog) -> None:
    svc = members
    project = await create(svc, LUCENSE, project_body(partner_centres=[CPTM]))
    course = await create(
        svc, LUCENSE, event_body(tags={"erc": ["PE8"], "ateco": ["85.59"], "s3": []})
    )
    draft = await create(svc, LUCENSE, project_body(status="draft"))
    response = await svc.client.get(
        "/initiatives/export", params={"format": "jsonld"}, headers=ANONYMOUS
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/ld+json"
    graph = Graph().parse(data=response.text, format="json-ld")
    xsd = rdflib.XSD
    subject = URIRef(f"{BASE}/initiatives/{project['id']}")
    assert (subject, RDF.type, PROJECT.PublicResearchProject) in graph
    assert (subject, HER.title, Literal(project["title"]["en"], lang="en")) in graph
    assert (subject, HER.title, Literal(project["title"]["it"], lang="it")) in graph
    assert (subject, HER.hasCoordinator, URIRef(f"urn:uuid:{LUCENSE}")) in graph
    assert (subject, HER.totalInvestment, Literal("1250000.00", datatype=xsd.decimal)) in graph
    assert (subject, HER.totalGrant, Literal("900000.00", datatype=xsd.decimal)) in graph
    assert (subject, HER.initiativeType, Literal("research_project")) in graph
    assert (
        subject,
        HER.hasFORDClassification,
        URIRef(
            "https://w3id.org/italia/controlled-vocabulary/classifications-for-her/"
            "fields-of-research-development/2.5"
        ),
    ) in graph
    start = graph.value(subject, HER.hasStartingDate)
    assert graph.value(start, URIRef("https://w3id.org/italia/onto/TI/date")) == Literal(
        "2026-01-01", datatype=xsd.date
    )
    contributors = set(graph.objects(subject, URIRef("http://purl.org/dc/terms/contributor")))
    assert URIRef(f"urn:uuid:{CPTM}") in contributors and len(contributors) == 3
    event = URIRef(f"{BASE}/initiatives/{course['id']}")
    assert (event, RDF.type, SCHEMA.EducationEvent) in graph
    assert (event, SCHEMA.startDate, Literal("2026-04-10", datatype=xsd.date)) in graph
    place = graph.value(event, SCHEMA.location)
    address = graph.value(place, SCHEMA.address)
    assert graph.value(address, SCHEMA.addressLocality) == Literal("Capannori")
    assert (
        event,
        URIRef(CONTEXT["l0"] + "hasTopic"),
        URIRef(f"{BASE}/taxonomies/ateco/85.59"),
    ) in graph
    assert (URIRef(f"{BASE}/initiatives/{draft['id']}"), None, None) not in graph
    # Every term of the OntoPiA namespaces used is one HER-AP_IT's file names.
    text = ONTOLOGY.read_text()
    used = {
        str(term)
        for triple in graph
        for term in triple
        if isinstance(term, URIRef) and str(term).startswith("https://w3id.org/italia/onto/")
    }
    assert used and all(f"<{term}>" in text for term in used), used
    bad = await refused(
        svc, "GET", "/initiatives/export", 422, params={"format": "rdfxml"}, headers=ANONYMOUS
    )
    assert fields(bad) == {"format"}


async def test_bad_input_is_refused_and_changes_nothing(members: Catalog) -> None:
    svc = members
    await svc.register(COSVIG, "COSVIG")  # known to the catalogue, not a member
    project = await create(svc, LUCENSE, project_body(partner_centres=[CPTM]))
    event = await create(svc, LUCENSE, event_body(start_date="2026-02-20", registration_open=False))
    await svc.wait_for_events("initiative.created", "initiative.created")
    before = await counts(svc)
    at = centre(LUCENSE)
    p_url, e_url = f"/initiatives/{project['id']}", f"/initiatives/{event['id']}"
    if_project, if_event = at | {"If-Match": '"1"'}, at | {"If-Match": '"1"'}
    cases: list[tuple[str, str, dict[str, Any], dict[str, str], set[str], str]] = [
        # end before start
        ("POST", "/initiatives", project_body(end_date="2025-12-31"), at, {"end_date"}, "before"),
        ("PATCH", p_url, {"start_date": "2029-01-01"}, if_project, {"end_date"}, "before"),
        ("POST", "/initiatives", event_body(end_date="2026-04-09"), at, {"end_date"}, "before"),
        ("POST", "/initiatives", event_body(end_time="08:00"), at, {"end_time"}, "before"),
        # an event without a date (or a place)
        ("POST", "/initiatives", event_body(start_date=None), at, {"start_date"}, "date"),
        ("PATCH", e_url, {"start_date": None}, if_event, {"start_date"}, "date"),
        (
            "POST",
            "/initiatives",
            event_body(province=None, municipality=None),
            at,
            {"province", "municipality"},
            "place",
        ),
        ("POST", "/initiatives", event_body(municipality="Pisa"), at, {"municipality"}, "Pisa"),
        # partner centres that are not members
        (
            "POST",
            "/initiatives",
            project_body(partner_centres=[COSVIG]),
            at,
            {"partner_centres.0"},
            "not an active member",
        ),
        (
            "PATCH",
            p_url,
            {"partner_centres": [CPTM, UNKNOWN_CENTRE]},
            if_project,
            {"partner_centres.1"},
            "not known",
        ),
        (
            "POST",
            "/initiatives",
            project_body(partner_centres=[LUCENSE]),
            at,
            {"partner_centres.0"},
            "lead",
        ),
        ("POST", "/initiatives", project_body(kind="joint_action"), at, {"partner_centres"}, "two"),
        # unknown tags
        (
            "POST",
            "/initiatives",
            project_body(tags={"s3": ["S3-2099.X"]}),
            at,
            {"tags.s3"},
            "S3-2099",
        ),
        ("PATCH", p_url, {"tags": {"ket": ["magic"]}}, if_project, {"tags.ket"}, "magic"),
        (
            "POST",
            "/initiatives",
            event_body(tags={"ateco": ["99.99"]}),
            at,
            {"tags.ateco"},
            "99.99",
        ),
        # attendance above registered when registration is closed
        (
            "PATCH",
            e_url,
            {"attending_participants": 13},
            if_event,
            {"attending_participants"},
            "registration is closed",
        ),
        (
            "POST",
            "/initiatives",
            event_body(start_date="2026-02-01", registration_open=False, attending_participants=40),
            at,
            {"attending_participants"},
            "exceeds",
        ),
        # more rules and shapes
        (
            "POST",
            "/initiatives",
            project_body(public_funding_eur="2000000"),
            at,
            {"public_funding_eur"},
            "budget",
        ),
        ("POST", "/initiatives", project_body(venue="Aula"), at, {"venue"}, "only"),
        ("POST", "/initiatives", project_body(status="closed"), at, {"status"}, "close"),
        ("POST", "/initiatives", project_body(kind="webinar"), at, {"kind"}, ""),
        ("POST", "/initiatives", project_body(budget_eur="1.005"), at, {"budget_eur"}, ""),
        ("POST", "/initiatives", project_body(links=[{"url": "ftp://x"}]), at, {"links.0.url"}, ""),
        ("POST", "/initiatives", event_body(start_time="25:00"), at, {"start_time"}, ""),
        ("POST", "/initiatives", project_body(title={}), at, {"title"}, "Italian"),
        ("PATCH", p_url, {}, if_project, {"body"}, "nothing"),
        ("PATCH", p_url, {"kind": None}, if_project, {"body"}, "null"),
    ]
    for method, url, body, headers, expected, mentioned in cases:
        problem = await refused(svc, method, url, 422, json=body, headers=headers)
        assert fields(problem) == expected, (body, problem)
        assert mentioned in problem["detail"] + str(problem["errors"]), (body, problem)
        assert {"field", "in", "message", "type"} <= set(problem["errors"][0])
    # Forbidden, missing, conflicting.
    confirm_other = f"/initiatives/{project['id']}/partners/{CPTM}/confirmation"
    await refused(svc, "POST", confirm_other, 403, headers=centre(ASEV))
    await refused(svc, "POST", "/initiatives", 403, json=project_body(), headers=REGION)
    await refused(svc, "POST", "/initiatives", 403, json=project_body(), headers=ANONYMOUS)
    await refused(
        svc, "POST", "/initiatives", 403, json=project_body(), headers=as_(Role.FIRM, UNKNOWN)
    )
    await refused(svc, "POST", "/initiatives", 409, json=project_body(), headers=centre(COSVIG))
    await refused(svc, "GET", f"/initiatives/{UNKNOWN}", 404, headers=REGION)
    await refused(
        svc, "PATCH", f"/initiatives/{UNKNOWN}", 404, json={"venue": "x"}, headers=if_project
    )
    await refused(svc, "GET", f"/initiatives/overlaps/{UNKNOWN}", 404, headers=REGION)
    await refused(
        svc,
        "POST",
        f"/initiatives/overlaps/{UNKNOWN}/resolution",
        404,
        json={"resolution": "distinct"},
        headers=REGION,
    )
    for url, params, field in (
        ("/initiatives", {"cursor": "nope"}, "cursor"),
        ("/initiatives/calendar", {"cursor": "nope"}, "cursor"),
        ("/initiatives/calendar", {"kind": "research_project"}, "kind"),
        ("/initiatives/calendar", {"from": "yesterday"}, "from"),
        ("/initiatives/calendar.ics", {"ket": "magic"}, "ket"),
        ("/initiatives", {"s3": "S3-2099"}, "s3"),
        ("/initiatives/overlaps", {"status": "maybe"}, "status"),
    ):
        problem = await refused(svc, "GET", url, 422, params=params, headers=REGION)
        assert field in fields(problem), (url, params, problem)
    assert await counts(svc) == before
    published = [e for e in await svc.events() if e["type"].startswith("clock.catalog.initiative")]
    assert len(published) == 2
    read = await svc.client.get(p_url, headers=REGION)
    assert read.json()["version"] == 1 and read.json()["partner_centres"][0]["centre_id"] == CPTM
