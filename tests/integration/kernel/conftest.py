"""A harness around the kernel: a database built by migrations, a real nats-server, relays and
consumers of the 'testing' service, and helpers to write events and read what was applied."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from clock_cli.nats_server import NatsServer
from kernel.bus import Bus
from kernel.consumer import Consumer, Handler
from kernel.db import create_engine, create_sessionmaker
from kernel.events import CloudEvent
from kernel.migrations import upgrade
from kernel.outbox import OutboxRelay, record_event
from kernel.tables import dead_letters, outbox
from tests.integration.kernel.widgets import WidgetChanged, applied_events, events

MIGRATIONS = Path(__file__).parent / "migrations"


async def apply_widget(session: Any, event: CloudEvent[Any]) -> None:
    await session.execute(
        insert(applied_events).values(
            event_id=str(event.id), widget_id=event.subject, n=event.data.n
        )
    )


@dataclass
class Harness:
    database_url: str
    nats: NatsServer
    buses: list[Bus] = field(default_factory=list)
    relays: list[OutboxRelay] = field(default_factory=list)
    consumers: list[Consumer] = field(default_factory=list)

    def __post_init__(self) -> None:
        upgrade(MIGRATIONS, self.database_url)
        self.engine = create_engine(self.database_url)
        self.sessionmaker = create_sessionmaker(self.engine)

    async def bus(self) -> Bus:
        bus = Bus(url=self.nats.url, name=f"test-{len(self.buses)}", streams=("testing",))
        await bus.start()
        await bus.wait_ready(timeout=10)
        self.buses.append(bus)
        return bus

    async def relay(self, **options: Any) -> OutboxRelay:
        relay = OutboxRelay(self.sessionmaker, await self.bus(), "testing", **options)
        relay.start()
        self.relays.append(relay)
        return relay

    async def consumer(
        self, handler: Handler = apply_widget, *, cls: type[Consumer] = Consumer, **options: Any
    ) -> Consumer:
        options.setdefault("lease_ttl", 2.0)
        consumer = cls(
            self.sessionmaker,
            await self.bus(),
            "widgets",
            "testing",
            {WidgetChanged.event_type: handler},
            events=events,
            **options,
        )
        consumer.start()
        self.consumers.append(consumer)
        return consumer

    async def write_events(
        self, count: int, *, widgets: int = 10, per_transaction: int = 100, start: int = 0
    ) -> list[str]:
        """`count` events over `widgets` aggregates, versions increasing per widget."""
        widget_ids = [str(uuid.UUID(int=i + 1)) for i in range(widgets)]
        async with self.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(outbox.c.aggregate_id, func.count()).group_by(outbox.c.aggregate_id)
                )
            ).all()
            versions = {aggregate: int(n) for aggregate, n in rows}
        ids: list[str] = []
        for offset in range(0, count, per_transaction):
            async with self.sessionmaker() as session:
                for n in range(start + offset, start + min(offset + per_transaction, count)):
                    widget = widget_ids[n % widgets]
                    versions[widget] = versions.get(widget, 0) + 1
                    envelope = await record_event(
                        session,
                        WidgetChanged(n=n),
                        subject=widget,
                        aggregate_version=versions[widget],
                        events=events,
                    )
                    ids.append(str(envelope.id))
                await session.commit()
        return ids

    async def applied(self) -> list[tuple[str, str, int]]:
        async with self.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(
                        applied_events.c.event_id, applied_events.c.widget_id, applied_events.c.n
                    ).order_by(applied_events.c.id)
                )
            ).all()
        return [(r.event_id, r.widget_id, r.n) for r in rows]

    async def applied_count(self) -> int:
        async with self.sessionmaker() as session:
            return int(await session.scalar(select(func.count()).select_from(applied_events)) or 0)

    async def pending_count(self) -> int:
        async with self.sessionmaker() as session:
            return int(
                await session.scalar(
                    select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
                )
                or 0
            )

    async def dead_letters(self) -> list[Any]:
        async with self.sessionmaker() as session:
            return list((await session.execute(select(dead_letters))).all())

    async def close(self) -> None:
        for consumer in self.consumers:
            await consumer.stop()
        for relay in self.relays:
            await relay.stop()
        for bus in self.buses:
            await bus.close()
        await self.engine.dispose()


@pytest.fixture
async def harness(database_url: str, nats_server: NatsServer) -> AsyncIterator[Harness]:
    harness = Harness(database_url, nats_server)
    yield harness
    await harness.close()


def assert_exactly_once_in_order(
    applied: list[tuple[str, str, int]], expected_ids: list[str]
) -> None:
    ids = [event_id for event_id, _, _ in applied]
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} events applied twice"
    assert set(ids) == set(expected_ids)
    by_widget: dict[str, list[int]] = {}
    for _, widget, n in applied:
        by_widget.setdefault(widget, []).append(n)
    for widget, ns in by_widget.items():
        assert ns == sorted(ns), f"widget {widget} applied out of order"
