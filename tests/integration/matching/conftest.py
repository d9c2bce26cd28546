"""A harness around the matching service: the real app on a migrated database (SQLite and
PostgreSQL), a real nats-server, signed principals, an injectable clock, catalogue and
membership events published to their streams as those services would (the app consumes them
through its real consumers), and helpers to count rows and read the CLOCK_MATCHING stream."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.js.errors import NotFoundError
from sqlalchemy import func, select

from clock_cli.nats_server import NatsServer
from kernel.contracts import catalog, membership
from kernel.db import create_engine
from kernel.events import EventData, registry, subject_of
from kernel.principal import PRINCIPAL_HEADER, Principal, Role, sign
from kernel.tables import outbox
from services.matching import models
from services.matching.app import create_app
from services.matching.embedding import default_embedder
from services.matching.settings import MatchingSettings
from tests.conftest import eventually, migrate, principal_refresher

SECRET = "matching-test-secret"
START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
STREAM = "CLOCK_MATCHING"

# Centres (membership organisation ids).
NAVIGO = "01900000-0000-7000-8000-0000000000a1"
TLS = "01900000-0000-7000-8000-0000000000a2"
COSVIG = "01900000-0000-7000-8000-0000000000a3"
PIN = "01900000-0000-7000-8000-0000000000a4"
PARTNER = "01900000-0000-7000-8000-0000000000b1"
OTHER_PARTNER = "01900000-0000-7000-8000-0000000000b2"

VAT = "00743110157"
OTHER_VAT = "00000010033"
THIRD_VAT = "00000020032"

TABLES = {
    "firms": models.Firm.__table__,
    "demands": models.Demand.__table__,
    "introductions": models.Introduction.__table__,
    "engagements": models.Engagement.__table__,
    "access_requests": models.AccessRequest.__table__,
    "outbox": outbox,
}


def as_(role: Role = Role.REGION, org_id: str | None = None) -> dict[str, str]:
    """Headers of a request the gateway signed for this principal."""
    return {PRINCIPAL_HEADER: sign(Principal(role=role, org_id=org_id, key_id="k-test"), SECRET)}


REGION = as_(Role.REGION)


def new_id() -> str:
    return str(uuid.uuid4())


def text(it: str | None = None, en: str | None = None) -> catalog.Text:
    return catalog.Text(it=it, en=en)


SYSTEM = catalog.Actor(role="system")


@dataclass
class FakeClock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Lab:
    id: str
    centre_id: str
    name: catalog.Text
    description: catalog.Text
    province: str
    municipality: str
    version: int = 0


@dataclass
class Service:
    database_url: str
    nats_server: NatsServer
    tmp_path: Path
    clock: FakeClock = field(default_factory=FakeClock)
    client: httpx.AsyncClient = field(init=False)
    versions: dict[str, int] = field(default_factory=dict)

    def settings(self, **overrides: Any) -> MatchingSettings:
        options: dict[str, Any] = {
            "database_url": self.database_url,
            "nats_url": self.nats_server.url,
            "principal_secret": SECRET,
            "data_dir": self.tmp_path,
            "relay_poll_interval": 0.05,
            "lease_ttl": 1.0,
            "index_check_interval": 0.0,
        }
        options.update(overrides)
        return MatchingSettings(**options)

    @asynccontextmanager
    async def app(self, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        """Start (another instance of) the service on the same database and NATS."""
        app = create_app(self.settings(**overrides), clock=self.clock, embedder=default_embedder())
        async with app.router.lifespan_context(app):
            await app.state.runtime.bus.wait_ready(10)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://matching",
                event_hooks={"request": [principal_refresher(SECRET)]},
            ) as c:
                yield c

    # -- publishing what other services would publish --------------------------------------

    async def publish(self, data: EventData, *, subject: str) -> str:
        version = self.versions.get(subject, 0) + 1
        self.versions[subject] = version
        envelope = registry.build(data, subject=subject, aggregate_version=version)
        connection = await nats.connect(self.nats_server.url)
        try:
            js = connection.jetstream()
            await js.publish(
                subject_of(envelope.type),
                envelope.model_dump_json().encode(),
                headers={"Nats-Msg-Id": str(envelope.id)},
            )
        finally:
            await connection.close()
        return str(envelope.id)

    def lab(
        self,
        centre_id: str,
        *,
        name: catalog.Text,
        description: catalog.Text,
        province: str,
        municipality: str,
    ) -> Lab:
        return Lab(new_id(), centre_id, name, description, province, municipality)

    async def publish_lab(self, lab: Lab, *, withdrawn: bool = False) -> None:
        state: dict[str, Any] = {
            "lab_id": lab.id,
            "centre_id": lab.centre_id,
            "name": lab.name,
            "description": lab.description,
            "province": lab.province,
            "municipality": lab.municipality,
            "accreditations": [],
            "access_modes": ["on_site"],
            "contact_email": None,
            "status": "withdrawn" if withdrawn else "published",
            "tags": catalog.Tags(),
            "actor": SYSTEM,
        }
        data: EventData = (
            catalog.LabWithdrawn(**state, reason="lab_withdrawn")
            if withdrawn
            else catalog.LabPublished(**state)
        )
        await self.publish(data, subject=lab.id)

    def _entry(self, lab: Lab, status: str, tags: dict[str, list[str]] | None) -> dict[str, Any]:
        return {
            "lab_id": lab.id,
            "centre_id": lab.centre_id,
            "lab_name": lab.name,
            "province": lab.province,
            "municipality": lab.municipality,
            "status": status,
            "tags": catalog.Tags(**(tags or {})),
            "actor": SYSTEM,
        }

    async def publish_competence(
        self,
        lab: Lab,
        *,
        title: catalog.Text,
        description: catalog.Text,
        trl: tuple[int, int] = (3, 7),
        tags: dict[str, list[str]] | None = None,
        competence_id: str | None = None,
        withdrawn: bool = False,
    ) -> str:
        entry_id = competence_id or new_id()
        state = self._entry(lab, "withdrawn" if withdrawn else "published", tags) | {
            "competence_id": entry_id,
            "title": title,
            "description": description,
            "trl_min": trl[0],
            "trl_max": trl[1],
            "keywords": [],
        }
        data: EventData = (
            catalog.CompetenceWithdrawn(**state, reason="deleted")
            if withdrawn
            else catalog.CompetencePublished(**state)
        )
        await self.publish(data, subject=entry_id)
        return entry_id

    async def publish_equipment(
        self,
        lab: Lab,
        *,
        name: catalog.Text,
        description: catalog.Text,
        shareable: bool = True,
        equipment_id: str | None = None,
    ) -> str:
        entry_id = equipment_id or new_id()
        state = self._entry(lab, "published", None) | {
            "equipment_id": entry_id,
            "name": name,
            "description": description,
            "category": None,
            "manufacturer": None,
            "model": None,
            "year": 2022,
            "shareable": shareable,
            "tariff_eur_per_hour": "80.00",
            "booking_conditions": None,
        }
        await self.publish(catalog.EquipmentPublished(**state), subject=entry_id)
        return entry_id

    async def publish_service(
        self, lab: Lab, *, name: catalog.Text, description: catalog.Text, kind: str = "testing"
    ) -> str:
        entry_id = new_id()
        state = self._entry(lab, "published", None) | {
            "service_id": entry_id,
            "name": name,
            "kind": kind,
            "description": description,
            "price_model": "quote",
        }
        await self.publish(catalog.ServicePublished(**state), subject=entry_id)
        return entry_id

    async def member_event(self, centre_id: str, status: str) -> None:
        contract = {
            "active": membership.MemberReinstated,
            "suspended": membership.MemberSuspended,
            "withdrawn": membership.MemberWithdrawn,
        }[status]
        await self.publish(
            contract(
                organisation_id=centre_id,
                name="Centre",
                acronym=None,
                kind="technology_transfer_centre",
                province="LU",
                municipality="Lucca",
                role="founding",
                status=status,
                previous_status="active" if status != "active" else "suspended",
                term_end=date(2028, 12, 9),
                since=START,
                actor=membership.Actor(role="region"),
                reason="test",
            ),
            subject=centre_id,
        )

    # -- reading the service's state -------------------------------------------------------

    async def visible(self, entry_id: str) -> bool | None:
        engine = create_engine(self.database_url)
        try:
            async with engine.connect() as connection:
                return (
                    await connection.execute(
                        select(models.CatalogEntry.visible).where(
                            models.CatalogEntry.id == entry_id
                        )
                    )
                ).scalar_one_or_none()
        finally:
            await engine.dispose()

    async def wait_visible(self, *entry_ids: str, visible: bool = True) -> None:
        async def check() -> bool:
            return all([await self.visible(e) is visible for e in entry_ids])

        await eventually(check, message=f"entries visible={visible}")

    async def counts(self) -> dict[str, int]:
        engine = create_engine(self.database_url)
        try:
            async with engine.connect() as connection:
                return {
                    name: (
                        await connection.execute(select(func.count()).select_from(table))
                    ).scalar_one()
                    for name, table in TABLES.items()
                }
        finally:
            await engine.dispose()

    async def events(self) -> list[dict[str, Any]]:
        """Every event on the CLOCK_MATCHING stream, in stream order."""
        connection = await nats.connect(self.nats_server.url)
        try:
            js = connection.jetstream()
            try:
                info = await js.stream_info(STREAM)
            except NotFoundError:
                return []
            found = []
            if info.state.messages:
                for seq in range(info.state.first_seq, info.state.last_seq + 1):
                    message = await js.get_msg(STREAM, seq)
                    assert message.data is not None
                    found.append(json.loads(message.data))
            return found
        finally:
            await connection.close()

    async def wait_for_events(self, *types: str) -> list[dict[str, Any]]:
        """Poll the stream until each of `types` (repeats count) is there; returns the events."""
        wanted = [f"clock.matching.{t}.v1" for t in types]
        seen: list[dict[str, Any]] = []

        async def arrived() -> bool:
            nonlocal seen
            seen = await self.events()
            remaining = [e["type"] for e in seen]
            for event_type in wanted:
                if event_type not in remaining:
                    return False
                remaining.remove(event_type)
            return True

        await eventually(arrived, message=f"events {types} on {STREAM}")
        return seen

    # -- shortcuts -------------------------------------------------------------------------

    async def firm(self, vat: str = VAT, headers: dict[str, str] = REGION, **fields: Any) -> str:
        body = {
            "name": "Frantoio Colline di Scansano",
            "vat_number": vat,
            "ateco_code": "10.41",
            "employees": 8,
            "turnover_eur": "1200000.00",
            "province": "GR",
            "municipality": "Scansano",
        } | fields
        response = await self.client.post("/firms", json=body, headers=headers)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def demand(self, firm_id: str, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
        body = {
            "firm_id": firm_id,
            "title": "Analisi dei polifenoli del nostro olio",
            "description": "Piccolo frantoio: vogliamo il claim salutistico in etichetta.",
            "needs": [{"text": "Misurare i biofenoli dell'olio con HPLC per il claim salutistico"}],
            "trl_current": 6,
            "trl_target": 8,
        } | fields
        response = await self.client.post("/demands", json=body, headers=headers)
        assert response.status_code == 201, response.text
        return dict(response.json())


@pytest.fixture(scope="session")
def embedder_loaded() -> None:
    """Load the sentence encoder once per test session."""
    default_embedder().encode(["carica il modello"])


@pytest.fixture
async def svc(
    database_url: str, nats_server: NatsServer, tmp_path: Path, embedder_loaded: None
) -> AsyncIterator[Service]:
    service = Service(migrate("matching", database_url), nats_server, tmp_path)
    async with service.app() as client:
        service.client = client
        yield service


@dataclass
class Catalogue:
    """A small catalogue of four labs of four centres, published through the stream."""

    olive: Lab
    olive_hplc: str
    biogas: Lab
    biogas_digestion: str
    digesters: str
    composites: Lab
    hull: str
    textile: Lab
    martindale: str


async def publish_catalogue(svc: Service) -> Catalogue:
    olive = svc.lab(
        TLS,
        name=text(en="Olive Oil Quality Lab"),
        description=text(en="Quality, authenticity and by-products of extra virgin olive oil."),
        province="GR",
        municipality="Grosseto",
    )
    biogas = svc.lab(
        COSVIG,
        name=text(en="Circular Bioenergy Lab"),
        description=text(en="Biomass and biogas from residues of farms and food industry."),
        province="GR",
        municipality="Santa Fiora",
    )
    composites = svc.lab(
        NAVIGO,
        name=text(it="Laboratorio Compositi Nautici"),
        description=text(it="Materiali compositi per i cantieri di Viareggio."),
        province="LU",
        municipality="Viareggio",
    )
    textile = svc.lab(
        PIN,
        name=text(it="Laboratorio Prove Tessili"),
        description=text(it="Prove di laboratorio per il distretto tessile di Prato."),
        province="PO",
        municipality="Prato",
    )
    for lab in (olive, biogas, composites, textile):
        await svc.publish_lab(lab)
    olive_hplc = await svc.publish_competence(
        olive,
        title=text(en="Olive oil polyphenol analysis by HPLC"),
        description=text(
            en="Biophenols by HPLC for the EU health claim, free acidity, peroxides and a "
            "certified sensory panel."
        ),
        trl=(6, 9),
        tags={"ateco": ["10.41"]},
    )
    biogas_digestion = await svc.publish_competence(
        biogas,
        title=text(en="Anaerobic digestion of agrifood residues"),
        description=text(
            en="Biochemical methane potential tests and biogas plants fed with olive pomace, "
            "whey and winery residues."
        ),
        trl=(4, 8),
    )
    digesters = await svc.publish_equipment(
        biogas,
        name=text(en="Pilot biogas digesters"),
        description=text(en="Three 200-litre continuous digesters for pilot runs."),
        shareable=True,
    )
    hull = await svc.publish_competence(
        composites,
        title=text(it="Laminazione di scafi in fibra di carbonio"),
        description=text(it="Piani di laminazione in carbonio e vetro per scafi e coperte."),
        trl=(4, 8),
    )
    martindale = await svc.publish_equipment(
        textile,
        name=text(it="Abrasimetro Martindale"),
        description=text(it="Prove di abrasione e pilling su tessuti."),
        shareable=False,
    )
    await svc.wait_visible(olive_hplc, biogas_digestion, digesters, hull, martindale, textile.id)
    return Catalogue(
        olive,
        olive_hplc,
        biogas,
        biogas_digestion,
        digesters,
        composites,
        hull,
        textile,
        martindale,
    )


@pytest.fixture
async def cat(svc: Service) -> Catalogue:
    return await publish_catalogue(svc)
