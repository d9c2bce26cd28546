"""Initiatives in the catalogue search (SQLite and PostgreSQL, real nats-server): found in Italian
and English with facets and filters next to labs and entries, drafts left out, the document
following every change of the initiative and the membership of its lead centre, the initiatives
registered before search knew them indexed by the migration, and bad search input."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command

from clock_cli.nats_server import NatsServer
from kernel.db import create_engine
from kernel.migrations import alembic_config, upgrade
from services.catalog.initiatives.schemas import InitiativeKind
from services.catalog.schemas import Entity, SearchEntity, SearchKind, ServiceKind
from tests.conftest import ROOT
from tests.integration.catalog.conftest import (
    ANONYMOUS,
    ASEV,
    CPTM,
    LUCENSE,
    Catalog,
    centre,
    service_body,
)
from tests.integration.catalog.test_initiatives import (
    create,
    event_body,
    patch,
    project_body,
    refused,
)

MIGRATIONS = ROOT / "services" / "catalog" / "migrations"


def training_body(**fields: Any) -> dict[str, Any]:
    """ASEV's course in Empoli (FI), funded by the regional ESF+ programme."""
    return (
        event_body(
            title={"it": "Corso di stampa 3D per le PMI", "en": "3D printing course for SMEs"},
            description={
                "it": "Corso pratico di manifattura additiva su metalli e polimeri.",
                "en": "Hands-on course on additive manufacturing of metals and polymers.",
            },
            province="FI",
            municipality="Empoli",
            venue="Polo tecnologico",
            funding_programme="esf_tuscany",
            tags={"ateco": ["85.59.2"], "s3": ["S3-2021.MAN"]},
        )
        | fields
    )


def ids(page: dict[str, Any]) -> set[str]:
    return {item["id"] for item in page["items"]}


def test_search_enums_cover_the_catalogue_and_the_register() -> None:
    assert {k.value for k in SearchKind} == {k.value for k in ServiceKind} | {
        k.value for k in InitiativeKind
    }
    assert {e.value for e in SearchEntity} == {e.value for e in Entity} | {"initiative"}


async def test_initiatives_are_found_with_facets_and_filters(members: Catalog) -> None:
    svc = members
    project = await create(svc, LUCENSE, project_body(partner_centres=[CPTM]))
    training = await create(svc, ASEV, training_body())
    draft = await create(
        svc,
        LUCENSE,
        project_body(status="draft", title={"it": "Bozza riservata sui compositi"}),
    )
    lab = await svc.create_lab(ASEV, province="FI", municipality="Empoli")
    course = await svc.add(
        ASEV,
        lab["id"],
        "services",
        service_body(
            name={"it": "Corsi di formazione", "en": "Training courses"},
            kind="training",
            tags={"ateco": ["85.59.2"]},
        ),
    )
    await svc.publish(ASEV, lab["id"])

    # Italian and English, title, description and the other text (partners, programme, place).
    for q in (
        "compositi riciclabili",
        "recyclable composites",
        "resine termoplastiche",
        "Università di Pisa",
        "Horizon Europe",
        "HORIZON-CL4-2025-TWIN-TRANSITION-01",
    ):
        assert project["id"] in await svc.found(q), q
    for q in ("stampa 3D", "printing", "manifattura additiva", "FSE", "ESF", "Polo tecnologico"):
        assert training["id"] in await svc.found(q), q
    assert draft["id"] not in await svc.found("bozza riservata")

    found = await svc.search(q="composites recycling", lang="en")
    item = next(i for i in found["items"] if i["id"] == project["id"])
    assert item == {
        "entity": "initiative",
        "id": project["id"],
        "lab_id": None,
        "centre_id": LUCENSE,
        "province": "LU",  # no place of its own: the lead centre's
        "kind": "research_project",
        "status": "planned",
        "title": "Recyclable carbon fibre composites for boats",
        "score": item["score"],
        "snippet": project["description"]["en"],
    }
    assert item["score"] > 0
    read = await svc.client.get(f"/initiatives/{item['id']}", headers=ANONYMOUS)
    assert read.status_code == 200
    italian = await svc.search(q="compositi", entity="initiative")
    assert [i["title"] for i in italian["items"]] == [project["title"]["it"]]

    # Facets count initiatives like the rest.
    everything = await svc.search()
    assert everything["total"] == 4 and draft["id"] not in ids(everything)
    facets = everything["facets"]
    assert facets["entity"] == {"initiative": 2, "lab": 1, "service": 1}
    assert facets["kind"] == {"training": 2, "research_project": 1}
    assert facets["status"] == {"published": 2, "planned": 2}
    assert facets["province"] == {"FI": 3, "LU": 1}
    assert facets["centre"] == {ASEV: 3, LUCENSE: 1}
    assert facets["ket"] == {"advanced_materials": 1}
    assert facets["ateco"]["85.59.2"] == 3  # the training, the course and the lab
    assert facets["s3"] == {"S3-2021.MAN": 1, "S3-2021.MAT": 1}

    # Filters, alone and with a query; `training` is a service kind and an initiative kind.
    for params, expected in (
        ({"entity": "initiative"}, {project["id"], training["id"]}),
        ({"kind": "training"}, {training["id"], course["id"]}),
        ({"kind": "training", "entity": "initiative"}, {training["id"]}),
        ({"kind": "training", "entity": "service"}, {course["id"]}),
        ({"kind": "research_project"}, {project["id"]}),
        ({"status": "planned"}, {project["id"], training["id"]}),
        ({"status": "published"}, {lab["id"], course["id"]}),
        ({"province": "LU"}, {project["id"]}),
        ({"province": "fi", "entity": "initiative"}, {training["id"]}),
        ({"centre": LUCENSE}, {project["id"]}),
        ({"ateco": "Q", "entity": "initiative"}, {training["id"]}),  # section Q: education
        ({"ateco": "85.5"}, {training["id"], course["id"], lab["id"]}),
        ({"s3": "S3-2021"}, {project["id"], training["id"]}),
        ({"ket": "advanced_materials"}, {project["id"]}),
        ({"ford": "2"}, {project["id"]}),
        ({"q": "corso", "entity": "initiative"}, {training["id"]}),
        ({"q": "formazione corsi", "kind": "training", "entity": "service"}, {course["id"]}),
        ({"q": "compositi", "province": "FI"}, {lab["id"]}),  # the lab's composites
    ):
        page = await svc.search(**params)
        assert ids(page) == expected, params
        assert page["total"] == len(expected), params


async def test_the_document_follows_the_initiative_and_its_lead_centre(members: Catalog) -> None:
    svc = members
    draft = await create(
        svc,
        LUCENSE,
        project_body(
            status="draft", kind="joint_action", partner_centres=[CPTM], funding_programme=None
        ),
    )
    assert not await svc.found("compositi")

    # Out of draft: indexed.
    planned = await patch(svc, LUCENSE, draft, {"status": "planned"})
    assert await svc.found("compositi") == {draft["id"]}

    # An update rewrites the document: the old words no longer match, the new ones do.
    await patch(
        svc,
        LUCENSE,
        planned,
        {
            "title": {"it": "Idrogeno verde per i porti", "en": "Green hydrogen for ports"},
            "description": {"it": "Elettrolizzatori nei porti toscani."},
            "funding_programme": "erdf_tuscany",
            "tags": {"ket": ["nanotechnology"]},
        },
    )
    assert await svc.found("compositi") == set()
    assert await svc.found("carbon fibre") == set()
    for q in ("idrogeno", "hydrogen", "elettrolizzatori", "FESR", "ERDF"):
        assert await svc.found(q) == {draft["id"]}, q
    assert ids(await svc.search(ket="advanced_materials")) == set()
    assert ids(await svc.search(ket="nanotechnology")) == {draft["id"]}

    # The partner's confirmation keeps it findable.
    confirmed = await svc.client.post(
        f"/initiatives/{draft['id']}/partners/{CPTM}/confirmation", headers=centre(CPTM)
    )
    assert confirmed.status_code == 200, confirmed.text
    assert await svc.found("idrogeno") == {draft["id"]}

    # Running, then closed: still found (the register keeps what the centres did), with its
    # status, which a filter and a facet show.
    running = await patch(svc, LUCENSE, confirmed.json(), {"status": "running"})
    assert (await svc.search(q="idrogeno"))["items"][0]["status"] == "running"
    await patch(svc, LUCENSE, running, {"status": "closed"})
    closed = await svc.search(q="idrogeno")
    assert [(i["id"], i["status"]) for i in closed["items"]] == [(draft["id"], "closed")]
    assert closed["facets"]["status"] == {"closed": 1}
    assert ids(await svc.search(status="closed")) == {draft["id"]}
    assert ids(await svc.search(status="running")) == set()

    # An event held, with its attendance: found in its own province.
    held = await create(svc, ASEV, training_body(start_date="2026-02-20", registration_open=False))
    await patch(svc, ASEV, held, {"attending_participants": 10})
    assert ids(await svc.search(q="stampa", province="FI")) == {held["id"]}

    # A suspended lead centre hides its initiatives, a partner's suspension does not; a
    # reinstatement shows them again.
    await svc.suspend(CPTM)
    assert await svc.found("idrogeno") == {draft["id"]}
    await svc.suspend(LUCENSE)
    assert await svc.found("idrogeno") == set()
    assert ids(await svc.search(entity="initiative")) == {held["id"]}
    await svc.reinstate(LUCENSE)
    assert await svc.found("idrogeno") == {draft["id"]}


async def test_bad_search_input_is_refused(members: Catalog) -> None:
    svc = members
    for params, field in (
        ({"entity": "bogus"}, "entity"),
        ({"entity": "initiatives"}, "entity"),
        ({"kind": "webinar"}, "kind"),
        ({"status": "draft"}, "status"),  # drafts are never in the index
        ({"status": "withdrawn"}, "status"),
        ({"province": "Lucca"}, "province"),
        ({"s3": "S3-9999"}, "s3"),
    ):
        problem = await refused(svc, "GET", "/search", 422, params=params, headers=ANONYMOUS)
        assert field in {e["field"] for e in problem["errors"]}, params


async def test_the_migration_indexes_initiatives_registered_before(
    database_url: str, nats_server: NatsServer, tmp_path: Path
) -> None:
    """A database at catalog_0005 with a published lab's document and three initiatives (one a
    draft, one of a centre without a province): after the upgrade, search finds the two that
    are not drafts next to the lab; the downgrade removes them again and keeps the lab's."""
    upgrade(MIGRATIONS, database_url, "catalog_0005")
    now = datetime(2026, 3, 1, tzinfo=UTC)
    timestamp = sa.DateTime(timezone=True)
    members = sa.table(
        "members",
        *(sa.column(c) for c in ("organisation_id", "name", "province", "status")),
        sa.column("updated_at", timestamp),
    )
    initiatives = sa.table(
        "initiatives",
        *(sa.column(c) for c in ("id", "centre_id", "kind", "funding_programme", "status")),
        *(sa.column(c, timestamp) for c in ("created_at", "updated_at")),
        sa.column("version"),
        *(sa.column(c, sa.JSON) for c in ("title", "description", "partner_organisations")),
        *(sa.column(c, sa.JSON) for c in ("tags", "links", "signature")),
    )
    documents = sa.table(
        "search_documents",
        *(sa.column(c) for c in ("entry_id", "entity", "lab_id", "centre_id", "province")),
        sa.column("length"),
        *(sa.column(c, sa.JSON) for c in ("title", "text", "tags", "signature")),
    )
    nameless = "01900000-0000-7000-8000-00000000abcd"
    tags = {"ateco": [], "s3": ["S3-2021.MAT"], "ket": [], "erc": [], "ford": []}

    def initiative(key: str, centre_id: str, status: str, title: str) -> dict[str, Any]:
        return {
            "id": f"01900000-0000-7000-8000-0000000000{key}",
            "centre_id": centre_id,
            "kind": "research_project",
            "funding_programme": "pnrr",
            "status": status,
            "created_at": now,
            "updated_at": now,
            "version": 1,
            "title": {"it": title},
            "description": {"it": "Idrogeno verde nei porti toscani."},
            "partner_organisations": [{"name": "Università di Siena", "kind": "university"}],
            "tags": tags,
            "links": [],
            "signature": {},
        }

    rows = [
        initiative("a1", LUCENSE, "running", "Porti a idrogeno"),
        initiative("a2", nameless, "planned", "Idrogeno e logistica"),
        initiative("a3", LUCENSE, "draft", "Idrogeno in bozza"),
    ]
    lab_id = "01900000-0000-7000-8000-0000000000b1"
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                sa.insert(members),
                [
                    {
                        "organisation_id": LUCENSE,
                        "name": "LUCENSE",
                        "province": "LU",
                        "status": "active",
                        "updated_at": now,
                    },
                    {
                        "organisation_id": nameless,
                        "name": "Centro senza sede",
                        "province": None,
                        "status": "active",
                        "updated_at": now,
                    },
                ],
            )
            await connection.execute(sa.insert(initiatives), rows)
            await connection.execute(
                sa.insert(documents),
                {
                    "entry_id": lab_id,
                    "entity": "lab",
                    "lab_id": lab_id,
                    "centre_id": LUCENSE,
                    "province": "LU",
                    "length": 0.0,
                    "title": {"it": "Laboratorio"},
                    "text": {},
                    "tags": tags,
                    "signature": {},
                },
            )

        upgrade(MIGRATIONS, database_url)
        svc = Catalog(database_url, nats_server, tmp_path)
        async with svc.app() as client:
            svc.client = client
            page = await svc.search(q="idrogeno PNRR Siena")
            assert {(i["id"], i["province"], i["status"]) for i in page["items"]} == {
                (rows[0]["id"], "LU", "running"),
                (rows[1]["id"], "", "planned"),
            }
            everything = await svc.search()
            assert everything["facets"]["status"] == {"published": 1, "planned": 1, "running": 1}
            assert everything["facets"]["province"] == {"LU": 2}  # '' is no province
            assert ids(await svc.search(s3="S3-2021", entity="initiative")) == {
                rows[0]["id"],
                rows[1]["id"],
            }

        command.downgrade(alembic_config(MIGRATIONS, database_url), "catalog_0005")
        async with engine.connect() as connection:
            left = (await connection.execute(sa.select(documents.c.entry_id))).scalars().all()
            postings = await connection.scalar(
                sa.select(sa.func.count()).select_from(sa.table("search_postings"))
            )
        assert left == [lab_id] and postings == 0
    finally:
        await engine.dispose()
