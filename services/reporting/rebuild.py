"""Rebuilding the event log from the streams (`clock rebuild reporting`).

Each stream is replayed from its first message with the live consumer's code path; the rows of
that stream, and the aggregates and state derived from them, are deleted first. Issued reports
are left alone: they are immutable.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel.bus import Bus
from kernel.db import create_engine
from kernel.replay import ReplayStats, Reset, replay_stream
from services.reporting import projection
from services.reporting.events import CONSUMER, SUBSCRIPTIONS
from services.reporting.settings import ReportingSettings

log = logging.getLogger(__name__)


def reset_stream(source: str) -> Reset:
    async def reset(session: AsyncSession) -> None:
        await projection.reset_stream(session, source)
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
