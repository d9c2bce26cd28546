"""A harness around the membership service: the real app on a migrated database (SQLite and
PostgreSQL), a real nats-server, signed principals, an injectable clock, and helpers to count
rows and read the events that reached the CLOCK_MEMBERSHIP stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
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

from clock_cli.nats_server import NatsServer
from kernel.db import create_engine
from kernel.principal import PRINCIPAL_HEADER, Principal, Role, sign
from kernel.tables import outbox
from services.membership import models
from services.membership.app import create_app
from services.membership.settings import MembershipSettings
from tests.conftest import eventually, migrate

SECRET = "membership-test-secret"
SIGNED_ON = date(2025, 12, 9)
TERM_END = date(2028, 12, 9)
START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
STREAM = "CLOCK_MEMBERSHIP"

TABLES = {
    "organisations": models.Organisation.__table__,
    "memberships": models.Membership.__table__,
    "membership_transitions": models.MembershipTransition.__table__,
    "representatives": models.Representative.__table__,
    "applications": models.Application.__table__,
    "protocol": models.Protocol.__table__,
    "protocol_renewals": models.ProtocolRenewal.__table__,
    "outbox": outbox,
}

VALID_VAT = "00743110157"  # the example of python-stdnum's documentation
OTHER_VAT = "00000010033"
THIRD_VAT = "00000020032"


class Signed(Mapping[str, str]):
    """Headers of a request the gateway signed for a principal, signed afresh at each use
    (a signature is only valid for a minute; the suite runs longer)."""

    def __init__(self, role: Role, org_id: str | None = None) -> None:
        self.principal = Principal(role=role, org_id=org_id, key_id="k-test")

    def headers(self) -> dict[str, str]:
        return {PRINCIPAL_HEADER: sign(self.principal, SECRET)}

    def __getitem__(self, key: str) -> str:
        return self.headers()[key]

    def __iter__(self) -> Iterator[str]:
        return iter((PRINCIPAL_HEADER,))

    def __len__(self) -> int:
        return 1

    def __or__(self, other: Mapping[str, str]) -> dict[str, str]:
        return self.headers() | dict(other)


def as_(role: Role = Role.REGION, org_id: str | None = None) -> Signed:
    return Signed(role, org_id)


REGION = as_(Role.REGION)
ANONYMOUS = as_(Role.ANONYMOUS)


def application_body(**organisation: Any) -> dict[str, Any]:
    """A complete, eligible application; keyword arguments override organisation fields."""
    body: dict[str, Any] = {
        "organisation": {
            "name": "Polo Scientifico Tecnologico di Prova",
            "acronym": "PSTP",
            "kind": "research_organisation",
            "legal_form": "S.r.l.",
            "vat_number": VALID_VAT,
            "province": "PI",
            "municipality": "Pontedera",
            "website": "https://example.org",
            "email": "info@example.org",
        },
        "declarations": {
            "operates_in_tuscany": True,
            "operates_in_technology_transfer": True,
            "offer": "Materials testing lab and prototyping services",
        },
        "representative": {
            "full_name": "Giulia Bianchi",
            "email": "giulia.bianchi@example.org",
            "position": "Direttrice tecnica",
        },
    }
    body["organisation"].update(organisation)
    return body


@dataclass
class FakeClock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment


@dataclass
class Service:
    database_url: str
    nats_server: NatsServer
    tmp_path: Path
    clock: FakeClock = field(default_factory=FakeClock)
    client: httpx.AsyncClient = field(init=False)

    def settings(self, **overrides: Any) -> MembershipSettings:
        options: dict[str, Any] = {
            "database_url": self.database_url,
            "nats_url": self.nats_server.url,
            "principal_secret": SECRET,
            "data_dir": self.tmp_path,
            "protocol_signed_on": SIGNED_ON,
            "expiry_interval": 3600.0,
        }
        options.update(overrides)
        return MembershipSettings(**options)

    @asynccontextmanager
    async def app(self, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        """Start (another instance of) the service on the same database and NATS."""
        app = create_app(self.settings(**overrides), clock=self.clock)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://membership") as c:
                yield c

    async def counts(self) -> dict[str, int]:
        """Rows in every table of the service, the outbox included."""
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
        """Every event on the CLOCK_MEMBERSHIP stream, in stream order."""
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

    async def wait_for_events(
        self, *types: str, subject: str | None = None
    ) -> list[dict[str, Any]]:
        """Poll the stream until each of `types` (repeats count) is there; returns the events."""
        wanted = [f"clock.membership.{t}.v1" for t in types]
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

        await eventually(arrived, message=f"events {types} on {STREAM}")
        return seen

    # -- shortcuts ------------------------------------------------------------------------

    async def apply(self, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.client.post(
            "/applications", json=body or application_body(), headers=ANONYMOUS
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def admit(self, body: dict[str, Any] | None = None) -> str:
        """Apply and admit; returns the new member's organisation id."""
        application = await self.apply(body)
        response = await self.client.post(
            f"/applications/{application['id']}/decision",
            json={"decision": "admit", "motivation": "Meets every requirement of the protocol."},
            headers=REGION,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["organisation_id"])


@pytest.fixture
async def svc(database_url: str, nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Service]:
    """The membership service, started, with the signatories loaded."""
    service = Service(migrate("membership", database_url), nats_server, tmp_path)
    async with service.app() as client:
        service.client = client
        yield service
