"""A harness around the catalog service: the real app on a migrated database (SQLite and
PostgreSQL), a real nats-server, signed principals, membership events published to the
CLOCK_MEMBERSHIP stream as the membership service would, and helpers to count rows and read
the events that reached the CLOCK_CATALOG stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.js.errors import NotFoundError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from clock_cli.nats_server import NatsServer
from kernel.bus import ensure_stream, stream_config
from kernel.contracts import membership
from kernel.db import create_engine
from kernel.events import registry, subject_of
from kernel.principal import PRINCIPAL_HEADER, Principal, Role, sign
from kernel.tables import outbox
from services.catalog import models, seed
from services.catalog.app import create_app
from services.catalog.settings import CatalogSettings
from tests.conftest import eventually, migrate, principal_refresher

SECRET = "catalog-test-secret"
START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CATALOG_STREAM = "CLOCK_CATALOG"

ASEV = seed.CENTRES["asev"]
COSVIG = seed.CENTRES["cosvig"]
CPTM = seed.CENTRES["cptm"]
LUCENSE = seed.CENTRES["lucense"]
NAVIGO = seed.CENTRES["navigo"]
TLS = seed.CENTRES["tls"]
UNKNOWN_CENTRE = "01900000-0000-7000-8000-00000000c0de"

TABLES = {
    "labs": models.Lab.__table__,
    "competences": models.Competence.__table__,
    "equipment": models.Equipment.__table__,
    "service_offerings": models.ServiceOffering.__table__,
    "search_documents": models.SearchDocument.__table__,
    "search_postings": models.SearchPosting.__table__,
    "duplicate_pairs": models.DuplicatePair.__table__,
    "outbox": outbox,
}


def as_(role: Role = Role.REGION, org_id: str | None = None) -> dict[str, str]:
    """Headers of a request the gateway signed for this principal."""
    return {PRINCIPAL_HEADER: sign(Principal(role=role, org_id=org_id, key_id="k-test"), SECRET)}


def centre(org_id: str) -> dict[str, str]:
    return as_(Role.CENTRE, org_id)


REGION = as_(Role.REGION)
ANONYMOUS = as_(Role.ANONYMOUS)


def lab_body(**fields: Any) -> dict[str, Any]:
    return {
        "name": {"it": "Laboratorio prove materiali", "en": "Materials testing laboratory"},
        "description": {
            "it": "Prove meccaniche e caratterizzazione dei materiali compositi per la nautica.",
            "en": "Mechanical testing and characterisation of composite materials for boats.",
        },
        "province": "PI",
        "municipality": "Pontedera",
        "accreditations": ["ISO/IEC 17025"],
        "access_modes": ["contract research"],
        "contact_email": "lab@example.org",
    } | fields


def competence_body(**fields: Any) -> dict[str, Any]:
    return {
        "title": {
            "it": "Caratterizzazione dei materiali compositi",
            "en": "Characterisation of composite materials",
        },
        "description": {
            "it": "Prove di trazione e analisi di frattura su laminati in fibra di carbonio.",
            "en": "Tensile tests and fracture analysis of carbon fibre laminates.",
        },
        "trl_min": 3,
        "trl_max": 6,
        "keywords": ["compositi", "composites"],
        "tags": {"ateco": ["71.20"], "s3": ["S3-2021.MAT"], "ket": ["advanced_materials"]},
    } | fields


def sem_body(**fields: Any) -> dict[str, Any]:
    return {
        "name": {"it": "Microscopio elettronico a scansione", "en": "Scanning electron microscope"},
        "description": {
            "it": "SEM con microanalisi EDS per superfici di frattura.",
            "en": "SEM with EDS microanalysis of fracture surfaces.",
        },
        "category": "microscopia elettronica",
        "manufacturer": "JEOL",
        "model": "JSM-IT500",
        "year": 2020,
        "shareable": True,
        "tariff_eur_per_hour": "85.00",
        "tags": {"ateco": ["71.20"]},
    } | fields


def service_body(**fields: Any) -> dict[str, Any]:
    return {
        "name": {"it": "Prove di laboratorio su campioni", "en": "Laboratory tests on samples"},
        "kind": "testing",
        "description": {"it": "Prove accreditate su campioni.", "en": "Accredited tests."},
        "price_model": "per sample",
        "tags": {"ateco": ["71.20"]},
    } | fields


ACRONYMS = {ASEV: "ASEV", COSVIG: "COSVIG", CPTM: "CPTM", LUCENSE: "LUCENSE", NAVIGO: "NAVIGO"}


@dataclass
class Catalog:
    database_url: str
    nats_server: NatsServer
    tmp_path: Path
    client: httpx.AsyncClient = field(init=False)
    versions: dict[str, int] = field(default_factory=dict)
    """Membership aggregate version of each organisation, as the events published so far."""
    _engine: AsyncEngine | None = None

    def settings(self, **overrides: Any) -> CatalogSettings:
        options: dict[str, Any] = {
            "database_url": self.database_url,
            "nats_url": self.nats_server.url,
            "principal_secret": SECRET,
            "data_dir": self.tmp_path,
            "relay_poll_interval": 0.05,
            "demo_data": False,
            "log_json": False,
        }
        options.update(overrides)
        return CatalogSettings(**options)

    @asynccontextmanager
    async def app(self, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        """Start (another instance of) the service on the same database and NATS."""
        app = create_app(self.settings(**overrides), clock=lambda: START)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://catalog",
                event_hooks={"request": [principal_refresher(SECRET)]},
            ) as c:
                yield c

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = create_engine(self.database_url)
        return self._engine

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()

    async def counts(self) -> dict[str, int]:
        """Rows in the service's tables, the outbox included."""
        async with self.engine.connect() as connection:
            return {
                name: (
                    await connection.execute(select(func.count()).select_from(table))
                ).scalar_one()
                for name, table in TABLES.items()
            }

    # -- membership events ----------------------------------------------------------------

    async def publish_membership(self, data: Any, *, subject: str, version: int) -> None:
        """Publish a membership event to CLOCK_MEMBERSHIP, as the membership relay does."""
        envelope = registry.build(data, subject=subject, aggregate_version=version)
        connection = await nats.connect(self.nats_server.url)
        try:
            js = connection.jetstream()
            await ensure_stream(js, stream_config("membership"))
            await js.publish(
                subject_of(envelope.type),
                envelope.model_dump_json().encode(),
                headers={"Nats-Msg-Id": str(envelope.id)},
            )
        finally:
            await connection.close()

    async def member_status(self, org_id: str) -> str | None:
        async with self.engine.connect() as connection:
            status: str | None = (
                await connection.execute(
                    select(models.Member.status).where(models.Member.organisation_id == org_id)
                )
            ).scalar_one_or_none()
            return status

    async def _member_event(
        self,
        contract: type[membership._MemberChange],
        org_id: str,
        status: str,
        previous: str | None,
        **extra: Any,
    ) -> None:
        version = self.versions.get(org_id, 0) + 1
        self.versions[org_id] = version
        data = contract(
            organisation_id=org_id,
            name=f"Centro {ACRONYMS.get(org_id, org_id[:8])}",
            acronym=ACRONYMS.get(org_id),
            kind="technology_transfer_centre",
            province="LU",
            municipality="Lucca",
            role="founding",
            status=status,
            previous_status=previous,
            term_end=date(2028, 12, 9),
            since=START,
            actor=membership.Actor(role="region"),
            reason="test",
            **extra,
        )
        await self.publish_membership(data, subject=org_id, version=version)

        async def applied() -> bool:
            return await self.member_status(org_id) == status

        await eventually(applied, timeout=5, message=f"{org_id} {status} in the projection")

    async def register(self, org_id: str, name: str) -> None:
        """An organisation registered in the membership, not (yet) a member."""
        data = membership.OrganisationRegistered(
            organisation_id=org_id,
            name=name,
            acronym=None,
            kind="university",
            legal_form=None,
            vat_number=None,
            province="PI",
            province_name="Pisa",
            region="Toscana",
            municipality="Pisa",
            address=None,
            website=None,
            actor=membership.Actor(role="region"),
        )
        await self.publish_membership(data, subject=org_id, version=1)

        async def applied() -> bool:
            async with self.engine.connect() as connection:
                found = await connection.execute(
                    select(models.Member.name).where(models.Member.organisation_id == org_id)
                )
                return found.scalar_one_or_none() == name

        await eventually(applied, timeout=5, message=f"{org_id} registered in the projection")

    async def admit(self, *org_ids: str) -> None:
        for org_id in org_ids:
            await self._member_event(
                membership.MemberAdmitted, org_id, "active", None, application_id=None
            )

    async def suspend(self, org_id: str) -> None:
        await self._member_event(membership.MemberSuspended, org_id, "suspended", "active")

    async def reinstate(self, org_id: str) -> None:
        await self._member_event(membership.MemberReinstated, org_id, "active", "suspended")

    # -- the catalog stream ---------------------------------------------------------------

    async def events(self) -> list[dict[str, Any]]:
        """Every event on the CLOCK_CATALOG stream, in stream order."""
        connection = await nats.connect(self.nats_server.url)
        try:
            js = connection.jetstream()
            try:
                info = await js.stream_info(CATALOG_STREAM)
            except NotFoundError:
                return []
            found = []
            if info.state.messages:
                for seq in range(info.state.first_seq, info.state.last_seq + 1):
                    message = await js.get_msg(CATALOG_STREAM, seq)
                    assert message.data is not None
                    found.append(json.loads(message.data))
            return found
        finally:
            await connection.close()

    async def wait_for_events(
        self, *types: str, subject: str | None = None
    ) -> list[dict[str, Any]]:
        """Poll the stream until each of `types` (repeats count) is there; returns the events."""
        wanted = [f"clock.catalog.{t}.v1" for t in types]
        seen: list[dict[str, Any]] = []

        async def arrived() -> bool:
            nonlocal seen
            seen = [e for e in await self.events() if subject is None or e["subject"] == subject]
            remaining = [e["type"] for e in seen]
            for event_type in wanted:
                if event_type not in remaining:
                    return False
                remaining.remove(event_type)
            return True

        await eventually(arrived, timeout=5, message=f"events {types} on {CATALOG_STREAM}")
        return seen

    # -- shortcuts ------------------------------------------------------------------------

    async def create_lab(self, org_id: str, **fields: Any) -> dict[str, Any]:
        response = await self.client.post("/labs", json=lab_body(**fields), headers=centre(org_id))
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def add(
        self, org_id: str, lab_id: str, plural: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        response = await self.client.post(
            f"/labs/{lab_id}/{plural}", json=body, headers=centre(org_id)
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def publish(self, org_id: str, lab_id: str) -> dict[str, Any]:
        response = await self.client.post(f"/labs/{lab_id}/publication", headers=centre(org_id))
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def search(self, **params: Any) -> dict[str, Any]:
        response = await self.client.get("/search", params=params, headers=ANONYMOUS)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def found(self, q: str, **params: Any) -> set[str]:
        """Ids the public search returns for `q`."""
        return {item["id"] for item in (await self.search(q=q, **params))["items"]}


@pytest.fixture
async def catalog(
    database_url: str, nats_server: NatsServer, tmp_path: Path
) -> AsyncIterator[Catalog]:
    """The catalog service, started without demo data; no centre is a member yet."""
    service = Catalog(migrate("catalog", database_url), nats_server, tmp_path)
    try:
        async with service.app() as client:
            service.client = client
            yield service
    finally:
        await service.close()


@pytest.fixture
async def members(catalog: Catalog) -> Catalog:
    """The catalog, with ASEV, CPTM, LUCENSE and NAVIGO active members."""
    await catalog.admit(ASEV, CPTM, LUCENSE, NAVIGO)
    return catalog
