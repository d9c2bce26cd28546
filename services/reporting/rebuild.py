"""Rebuilding the event log from the streams (`clock rebuild reporting`).

Each stream is replayed from its first message with the live consumer's code path; the rows of
that stream are deleted first. Issued reports are left alone: they are immutable.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel.bus import Bus
from kernel.db import create_engine
from kernel.events import stream_of
from kernel.replay import ReplayStats, Reset, replay_stream
from services.reporting.events import CONSUMER, SUBSCRIPTIONS
from services.reporting.models import StoredEvent
from services.reporting.settings import ReportingSettings

log = logging.getLogger(__name__)


def reset_stream(source: str) -> Reset:
    stream = stream_of(source)

    async def reset(session: AsyncSession) -> None:
        await session.execute(delete(StoredEvent).where(StoredEvent.stream == stream))
        await session.flush()

    return reset


async def rebuild(settings: ReportingSettings | None = None) -> list[ReplayStats]:
    """Replay CLOCK_MEMBERSHIP, CLOCK_CATALOG and CLOCK_MATCHING into the event log."""
    settings = settings or ReportingSettings()
    engine = create_engine(settings.sqlalchemy_url)
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    bus = Bus(
        url=settings.nats_url,
        name=f"clock-{CONSUMER}-rebuild",
        stream_replicas=settings.stream_replicas,
        streams=tuple(SUBSCRIPTIONS),
    )
    await bus.start()
    stats: list[ReplayStats] = []
    try:
        for source, handlers in SUBSCRIPTIONS.items():
            stats.append(
                await replay_stream(
                    sessionmaker=sessionmaker,
                    bus=bus,
                    service=CONSUMER,
                    source=source,
                    handlers=handlers,
                    skip_stale=False,
                    reset=reset_stream(source),
                    lease_ttl=settings.lease_ttl,
                )
            )
    finally:
        await bus.close()
        await engine.dispose()
    return stats
