"""A harness around the reporting service: the real app on a migrated database (SQLite and
PostgreSQL), a real nats-server with the three publishing streams, events published to them
as the other services would, signed principals and an injectable clock."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clock_cli.nats_server import NatsServer
from kernel.bus import ensure_stream, stream_config
from kernel.db import create_engine
from kernel.events import CloudEvent, parse_type, subject_of
from kernel.principal import PRINCIPAL_HEADER, Principal, Role, sign
from services.reporting import projection, queries
from services.reporting.app import create_app
from services.reporting.events import keep_all
from services.reporting.kpis import KPI_NAMES
from services.reporting.models import StoredEvent
from services.reporting.periods import parse_period
from services.reporting.settings import ReportingSettings
from tests.conftest import eventually, migrate

SECRET = "reporting-test-secret"
NOW = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)


class Signed(Mapping[str, str]):
    """Headers signed afresh at each use (a signature is only valid for a minute)."""

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


REGION = Signed(Role.REGION)
ANONYMOUS = Signed(Role.ANONYMOUS)


def centre(org_id: str) -> Signed:
    return Signed(Role.CENTRE, org_id)


Rows = dict[tuple[str, str, str | None, str | None], Any]
"""KPI values by (kpi, period, dimension, key)."""


def rows_of(items: Sequence[Mapping[str, Any]]) -> Rows:
    return {(i["kpi"], i["period"], i["dimension"], i["key"]): i["value"] for i in items}


async def get_json(client: httpx.AsyncClient, path: str, **params: str) -> dict[str, Any]:
    """A GET as the Region that must succeed."""
    response = await client.get(path, params=params, headers=REGION)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class FakeClock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Service:
    database_url: str
    nats_server: NatsServer
    tmp_path: Path
    clock: FakeClock = field(default_factory=FakeClock)
    client: httpx.AsyncClient = field(init=False)

    def settings(self, **overrides: Any) -> ReportingSettings:
        options: dict[str, Any] = {
            "database_url": self.database_url,
            "nats_url": self.nats_server.url,
            "principal_secret": SECRET,
            "data_dir": self.tmp_path,
            "auto_issue": "",
        }
        options.update(overrides)
        return ReportingSettings(**options)

    @asynccontextmanager
    async def app(self, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(self.settings(**overrides), clock=self.clock)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as c:
                yield c

    async def publish(self, events: Sequence[CloudEvent[Any] | dict[str, Any]]) -> None:
        """Publish to the real streams, as the outbox relay of each service does."""
        connection = await nats.connect(self.nats_server.url)
        try:
            js = connection.jetstream()
            for service in ("membership", "catalog", "matching"):
                await ensure_stream(js, stream_config(service))
            for event in events:
                if isinstance(event, dict):
                    payload, event_type, event_id = (
                        json.dumps(event).encode(),
                        event["type"],
                        event["id"],
                    )
                else:
                    payload, event_type, event_id = (
                        event.model_dump_json().encode(),
                        event.type,
                        str(event.id),
                    )
                parse_type(event_type)
                await js.publish(
                    subject_of(event_type), payload, headers={"Nats-Msg-Id": str(event_id)}
                )
        finally:
            await connection.close()

    async def stored(self) -> int:
        engine = create_engine(self.database_url)
        try:
            async with engine.connect() as connection:
                count = await connection.scalar(select(func.count()).select_from(StoredEvent))
                return int(count or 0)
        finally:
            await engine.dispose()

    async def wait_stored(self, count: int) -> None:
        async def arrived() -> bool:
            return await self.stored() >= count

        await eventually(arrived, timeout=20, message=f"{count} events stored")
        assert await self.stored() == count


@pytest.fixture
async def svc(database_url: str, nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Service]:
    service = Service(migrate("reporting", database_url), nats_server, tmp_path)
    async with service.app() as client:
        service.client = client
        yield service


# -- the aggregates alone -----------------------------------------------------------------

MONTHS = ("2026-01", "2026-02")
Values = dict[tuple[str, str, str | None, str | None], Any]


class Kpis:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def log(self, events: Sequence[CloudEvent[Any]], *, batch: int = 1) -> None:
        for start in range(0, len(events), batch):
            async with self.sessionmaker() as session:
                await keep_all(session, events[start : start + batch])
                await session.commit()

    async def items(
        self,
        periods: Sequence[str] = MONTHS,
        by: Sequence[str] = (),
        kpis: Sequence[str] = KPI_NAMES,
    ) -> list[dict[str, Any]]:
        async with self.sessionmaker() as session:
            return await queries.kpi_items(session, [parse_period(p) for p in periods], kpis, by)

    async def values(self, by: Sequence[str] = ()) -> Values:
        return {
            (i["kpi"], i["period"], i["dimension"], i["key"]): i["value"]
            for i in await self.items(by=by)
        }

    async def reset(self) -> None:
        async with self.sessionmaker() as session:
            for source in ("membership", "catalog", "matching"):
                await projection.reset_stream(session, source)
            await session.commit()


@pytest.fixture
async def kpis(database_url: str) -> AsyncIterator[Kpis]:
    """Events logged and projected as the consumers do, on a migrated database; no app."""
    engine = create_engine(migrate("reporting", database_url))
    try:
        yield Kpis(async_sessionmaker(engine, expire_on_commit=False))
    finally:
        await engine.dispose()
