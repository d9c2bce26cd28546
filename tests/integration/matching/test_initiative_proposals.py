"""Open initiatives of the member centres are proposed with a demand's matches: the catalogue's
initiative events arrive on its stream (published here as the catalogue would), and only open
training courses and events, and running projects, of active members that fit are proposed,
each explained."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import nats
from sqlalchemy import func, select

from kernel.contracts import catalog
from kernel.db import create_engine
from kernel.events import EventData, registry, subject_of
from kernel.principal import Role
from kernel.tables import dead_letters, inbox
from services.matching.models import CatalogInitiative, Centre
from services.matching.reindex import reindex
from tests.conftest import eventually
from tests.integration.matching.conftest import (
    COSVIG,
    NAVIGO,
    OTHER_VAT,
    PIN,
    SYSTEM,
    TLS,
    Catalogue,
    Service,
    as_,
    new_id,
    text,
)


@dataclass
class Initiative:
    """An initiative as the catalogue publishes it: its whole state in every event."""

    centre_id: str
    kind: str
    title: catalog.Text
    description: catalog.Text
    status: str
    start_date: date | None = None
    end_date: date | None = None
    province: str | None = None
    municipality: str | None = None
    registration_open: bool | None = None
    funding_programme: str | None = None
    partners: list[catalog.InitiativePartner] = field(default_factory=list)
    tags: dict[str, list[str]] = field(default_factory=dict)
    id: str = field(default_factory=new_id)

    def state(self) -> dict[str, Any]:
        event = self.kind in ("training", "dissemination_event")
        return {
            "initiative_id": self.id,
            "centre_id": self.centre_id,
            "kind": self.kind,
            "joint": bool(self.partners),
            "title": self.title,
            "description": self.description,
            "partner_centres": self.partners,
            "partner_organisations": [],
            "funding_programme": self.funding_programme,
            "funding_call": None,
            "budget_eur": None,
            "public_funding_eur": None,
            "start_date": self.start_date,
            "end_date": self.end_date,
            "start_time": "09:30" if event else None,
            "end_time": "17:30" if event else None,
            "venue": "Sala corsi" if event else None,
            "province": self.province,
            "municipality": self.municipality,
            "registration_open": self.registration_open,
            "registered_participants": None,
            "attending_participants": None,
            "tags": catalog.Tags(**self.tags),
            "status": self.status,
            "actor": SYSTEM,
        }


async def send(svc: Service, data: EventData, *, subject: str, version: int) -> dict[str, Any]:
    """Publish an event with the given aggregate version; returns its envelope as JSON."""
    envelope = registry.build(data, subject=subject, aggregate_version=version)
    body = json.loads(envelope.model_dump_json())
    await send_raw(svc, body)
    return dict(body)


async def send_raw(svc: Service, body: dict[str, Any], *, msg_id: str | None = None) -> None:
    """Put an envelope on the stream as is; a new `msg_id` stores it again (a redelivery)."""
    connection = await nats.connect(svc.nats_server.url)
    try:
        await connection.jetstream().publish(
            subject_of(body["type"]),
            json.dumps(body).encode(),
            headers={"Nats-Msg-Id": msg_id or body["id"]},
        )
    finally:
        await connection.close()


async def publish(svc: Service, initiative: Initiative, contract: Any = None, **extra: Any) -> None:
    """The next event of the initiative (default: created), as the catalogue numbers them."""
    data = (contract or catalog.InitiativeCreated)(**initiative.state(), **extra)
    await svc.publish(data, subject=initiative.id)


async def stored(svc: Service, initiative_id: str) -> dict[str, Any] | None:
    engine = create_engine(svc.database_url)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    select(
                        CatalogInitiative.status,
                        CatalogInitiative.catalog_version,
                        CatalogInitiative.updated_at,
                        CatalogInitiative.partner_centres,
                    ).where(CatalogInitiative.id == initiative_id)
                )
            ).first()
            return dict(row._mapping) if row else None
    finally:
        await engine.dispose()


async def wait_stored(svc: Service, initiative: Initiative, version: int) -> None:
    async def applied() -> bool:
        row = await stored(svc, initiative.id)
        return row is not None and row["catalog_version"] == version

    await eventually(applied, message=f"initiative {initiative.id} at version {version}")


async def wait_centre(svc: Service, centre_id: str, status: str) -> None:
    """Wait until the membership event is applied (another stream, another consumer)."""

    async def applied() -> bool:
        engine = create_engine(svc.database_url)
        try:
            async with engine.connect() as connection:
                found = await connection.scalar(
                    select(Centre.status).where(Centre.centre_id == centre_id)
                )
        finally:
            await engine.dispose()
        return found == status

    await eventually(applied, message=f"centre {centre_id} {status}")


async def settle(svc: Service) -> None:
    """Wait until every event published so far was handled: a closed initiative published
    last is stored (one consumer applies the stream in order)."""
    marker = Initiative(
        COSVIG,
        "dissemination_event",
        text(it="Giornata conclusa"),
        text(it="Un evento già chiuso."),
        "closed",
        start_date=date(2026, 1, 20),
        province="GR",
        municipality="Grosseto",
    )
    await publish(svc, marker)
    await wait_stored(svc, marker, 1)


async def table_count(svc: Service, table: Any, *where: Any) -> int:
    engine = create_engine(svc.database_url)
    try:
        async with engine.connect() as connection:
            return int(
                (
                    await connection.execute(select(func.count()).select_from(table).where(*where))
                ).scalar_one()
            )
    finally:
        await engine.dispose()


@dataclass
class Register:
    training: Initiative
    project: Initiative
    closed_project: Initiative
    past_event: Initiative
    full_training: Initiative
    planned_project: Initiative
    suspended_training: Initiative
    wine_tourism: Initiative


async def publish_register(svc: Service) -> Register:
    """Two open initiatives about composites that fit, five about composites that are not
    open (or whose centre is suspended), and an open one about something else."""
    composites_course = text(
        it="Corso di laminazione dei materiali compositi in fibra di carbonio",
        en="Course on laminating carbon fibre composite materials",
    )
    composites_course_text = text(
        it="Corso pratico per i tecnici dei cantieri nautici: resine, fibre di carbonio e di "
        "vetro, laminazione e riparazione di scafi in materiale composito.",
    )
    composites_project = text(
        it="Compositi riciclabili in fibra di carbonio per la nautica",
        en="Recyclable carbon fibre composites for boats",
    )
    composites_project_text = text(
        it="Ricerca su resine termoplastiche e riciclo dei laminati in fibra di carbonio per "
        "scafi e componenti nautici.",
        en="Research on thermoplastic resins and recycling of carbon fibre laminates for hulls "
        "and boat components.",
    )
    register = Register(
        training=Initiative(
            NAVIGO,
            "training",
            composites_course,
            composites_course_text,
            "planned",
            start_date=date(2026, 4, 15),
            registration_open=True,
            tags={"s3": ["S3-2021.MAT"]},
            province="LU",
            municipality="Viareggio",
        ),
        project=Initiative(
            NAVIGO,
            "research_project",
            composites_project,
            composites_project_text,
            "running",
            start_date=date(2026, 1, 1),
            end_date=date(2028, 12, 31),
            funding_programme="horizon_europe",
            partners=[
                catalog.InitiativePartner(
                    centre_id=COSVIG, status="confirmed", confirmed_at=svc.clock.now
                ),
                catalog.InitiativePartner(centre_id=TLS, status="proposed"),
            ],
        ),
        closed_project=Initiative(
            NAVIGO,
            "innovation_project",
            text(it="Scafi in composito più leggeri", en="Lighter composite hulls"),
            composites_project_text,
            "running",
            start_date=date(2024, 1, 1),
            end_date=date(2026, 12, 31),
        ),
        past_event=Initiative(
            NAVIGO,
            "training",
            text(it="Corso base sui materiali compositi per la nautica"),
            composites_course_text,
            "planned",
            start_date=date(2026, 2, 20),
            registration_open=True,
            province="LU",
            municipality="Viareggio",
        ),
        full_training=Initiative(
            NAVIGO,
            "training",
            text(it="Riparazione degli scafi in materiale composito"),
            composites_course_text,
            "planned",
            start_date=date(2026, 5, 10),
            registration_open=False,
            province="LU",
            municipality="Viareggio",
        ),
        planned_project=Initiative(
            NAVIGO,
            "research_project",
            text(it="Resine biobased per compositi nautici"),
            composites_project_text,
            "planned",
            start_date=date(2026, 9, 1),
            end_date=date(2029, 8, 31),
        ),
        suspended_training=Initiative(
            PIN,
            "training",
            text(it="Laboratorio pratico: laminazione di compositi in fibra di carbonio"),
            composites_course_text,
            "planned",
            start_date=date(2026, 4, 20),
            registration_open=True,
            province="PO",
            municipality="Prato",
        ),
        wine_tourism=Initiative(
            TLS,
            "dissemination_event",
            text(it="Enoturismo e accoglienza in cantina", en="Wine tourism and cellar visits"),
            text(
                it="Giornata sull'accoglienza dei turisti nelle cantine del Chianti, "
                "degustazioni guidate e promozione del territorio.",
            ),
            "planned",
            start_date=date(2026, 4, 18),
            registration_open=True,
            province="SI",
            municipality="Siena",
        ),
    )
    everything = [
        register.training,
        register.project,
        register.closed_project,
        register.past_event,
        register.full_training,
        register.planned_project,
        register.suspended_training,
        register.wine_tourism,
    ]
    for initiative in everything:
        await publish(svc, initiative)
    register.closed_project.status = "closed"
    await publish(svc, register.closed_project, catalog.InitiativeClosed)
    await svc.member_event(PIN, "suspended")
    await wait_centre(svc, PIN, "suspended")
    await wait_stored(svc, register.closed_project, 2)
    for initiative in everything:
        if initiative is not register.closed_project:
            await wait_stored(svc, initiative, 1)
    return register


async def boatyard_demand(svc: Service) -> tuple[str, dict[str, str]]:
    firm_id = await svc.firm(
        OTHER_VAT,
        name="Cantiere Nautico Esempio",
        ateco_code="30.12",
        province="LU",
        municipality="Viareggio",
    )
    firm = as_(Role.FIRM, firm_id)
    demand = await svc.demand(
        firm_id,
        firm,
        title="Laminazione di scafi in materiali compositi",
        description="Piccolo cantiere: vogliamo formare i tecnici e migliorare la laminazione "
        "in fibra di carbonio dei nostri scafi.",
        needs=[
            {"text": "Formazione sulla laminazione dei materiali compositi in fibra di carbonio"}
        ],
        trl_current=5,
        trl_target=7,
    )
    return str(demand["id"]), firm


async def proposed(svc: Service, demand_id: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await svc.client.get(f"/demands/{demand_id}/matches", headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["initiatives"])


async def test_open_initiatives_that_fit_are_proposed_with_their_explanation(
    svc: Service, cat: Catalogue
) -> None:
    register = await publish_register(svc)
    demand_id, firm = await boatyard_demand(svc)

    response = await svc.client.get(f"/demands/{demand_id}/matches", headers=firm)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["items"][0]["lab_id"] == cat.composites.id  # the labs are as before
    found = {i["initiative_id"]: i for i in page["initiatives"]}
    # Only the open ones of active members that fit: not closed, past, full, planned
    # projects, a suspended centre's or unrelated ones.
    assert set(found) == {register.training.id, register.project.id}
    assert [i["score"] for i in page["initiatives"]] == sorted(
        (i["score"] for i in page["initiatives"]), reverse=True
    )

    training = found[register.training.id]
    assert training["kind"] == "training" and training["status"] == "planned"
    assert training["centre_id"] == NAVIGO
    assert training["start_date"] == "2026-04-15" and training["municipality"] == "Viareggio"
    assert training["title"] == register.training.title.it
    assert 0.4 < training["score"] <= 1
    assert set(training["evidence"]) == {"semantic", "lexical", "tags", "trl", "geo"}
    explanation = training["explanation"]
    assert explanation["terms"] and explanation["distance_km"] is not None
    assert explanation["text"].startswith(
        f"The training course “{register.training.title.it}” fits the demand"
    )
    assert "they share the terms" in explanation["text"]
    assert any(term in explanation["text"] for term in ("compositi", "laminazione", "carbonio"))
    assert "It takes place on 2026-04-15 in Viareggio, next to the firm." in explanation["text"]

    project = found[register.project.id]
    assert project["kind"] == "research_project" and project["status"] == "running"
    assert project["funding_programme"] == "horizon_europe"
    assert project["partner_centre_ids"] == [COSVIG]  # the proposed partner has not confirmed
    assert project["end_date"] == "2028-12-31" and project["province"] is None
    assert project["explanation"]["text"].startswith("The running research project “")
    assert project["explanation"]["text"].endswith("It runs until 2028-12-31.")

    # The proposal is recorded with the labs.
    events = await svc.wait_for_events("demand.matches_proposed")
    proposal = [e for e in events if e["type"].endswith("matches_proposed.v1")][-1]["data"]
    assert {i["initiative_id"] for i in proposal["initiatives"]} == set(found)
    assert [i["rank"] for i in proposal["initiatives"]] == [1, 2]

    # Rebuilt from the stream, the proposals are the same.
    await reindex(svc.settings())
    again = await svc.client.get(f"/demands/{demand_id}/matches", headers=firm)
    assert again.json() == page


async def test_closing_an_initiative_removes_it_and_older_or_repeated_events_change_nothing(
    svc: Service, cat: Catalogue
) -> None:
    register = await publish_register(svc)
    demand_id, firm = await boatyard_demand(svc)
    assert register.training.id in [
        i["initiative_id"] for i in await proposed(svc, demand_id, firm)
    ]

    # The partner confirms: the projection follows. The same event stored again on the stream
    # (delivered again, as after a lost ack) is applied once.
    register.project.partners = [
        catalog.InitiativePartner(centre_id=COSVIG, status="confirmed", confirmed_at=svc.clock.now),
        catalog.InitiativePartner(centre_id=TLS, status="confirmed", confirmed_at=svc.clock.now),
    ]
    confirmed = await send(
        svc,
        catalog.InitiativeParticipationConfirmed(**register.project.state(), partner_centre_id=TLS),
        subject=register.project.id,
        version=2,
    )
    await wait_stored(svc, register.project, 2)
    before = await stored(svc, register.project.id)
    await send_raw(svc, confirmed, msg_id=new_id())
    await settle(svc)
    assert await stored(svc, register.project.id) == before
    assert await table_count(svc, inbox, inbox.c.event_id == confirmed["id"]) == 1
    project = next(
        i for i in await proposed(svc, demand_id, firm) if i["initiative_id"] == register.project.id
    )
    assert project["partner_centre_ids"] == [COSVIG, TLS]

    # An update that closes the training removes it from the proposals.
    register.training.status = "closed"
    await publish(svc, register.training, catalog.InitiativeUpdated, changed=["status"])
    await wait_stored(svc, register.training, 2)
    assert [i["initiative_id"] for i in await proposed(svc, demand_id, firm)] == [
        register.project.id
    ]

    # An older event (version 1, the training still open) arriving late is ignored.
    register.training.status = "planned"
    await send(
        svc,
        catalog.InitiativeUpdated(**register.training.state(), changed=["title"]),
        subject=register.training.id,
        version=1,
    )
    await settle(svc)
    row = await stored(svc, register.training.id)
    assert row is not None and row["status"] == "closed" and row["catalog_version"] == 2
    assert register.training.id not in [
        i["initiative_id"] for i in await proposed(svc, demand_id, firm)
    ]

    # The centre is reinstated: its training is proposed again (it is open and fits).
    await svc.member_event(PIN, "active")

    async def reinstated() -> bool:
        ids = [i["initiative_id"] for i in await proposed(svc, demand_id, firm)]
        return register.suspended_training.id in ids

    await eventually(reinstated, message="the reinstated centre's training proposed")


async def test_a_malformed_initiative_event_is_dead_lettered_and_bad_requests_are_refused(
    svc: Service, cat: Catalogue
) -> None:
    good = Initiative(
        NAVIGO,
        "training",
        text(it="Corso sui materiali compositi"),
        text(it="Laminazione di compositi in fibra di carbonio per i cantieri."),
        "planned",
        start_date=date(2026, 4, 15),
        province="LU",
        municipality="Viareggio",
    )
    body = json.loads(
        registry.build(
            catalog.InitiativeCreated(**good.state()), subject=good.id, aggregate_version=1
        ).model_dump_json()
    )
    body["data"]["kind"] = "hackathon"  # not a kind of the contract
    await send_raw(svc, body)
    svc.versions[good.id] = 0
    await publish(svc, good)  # the next event still applies
    await wait_stored(svc, good, 1)
    assert await table_count(svc, dead_letters, dead_letters.c.event_id == body["id"]) == 1
    assert await table_count(svc, CatalogInitiative.__table__) == 1

    demand_id, firm = await boatyard_demand(svc)
    assert [i["initiative_id"] for i in await proposed(svc, demand_id, firm)] == [good.id]
    bad_limit = await svc.client.get(f"/demands/{demand_id}/matches?limit=0", headers=firm)
    assert bad_limit.status_code == 422
    assert bad_limit.headers["content-type"].startswith("application/problem+json")
    missing = await svc.client.get(f"/demands/{new_id()}/matches", headers=firm)
    assert missing.status_code == 404
    other_firm = as_(Role.FIRM, new_id())
    refused = await svc.client.get(f"/demands/{demand_id}/matches", headers=other_firm)
    assert refused.status_code == 403
