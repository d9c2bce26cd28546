"""Handlers of the events the reporting service consumes: every event of the three streams
is kept in the `events` log (unknown types too; the KPIs ignore what they do not know).

The consumers run with `skip_stale=False`: a log keeps a late or out-of-order event too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.consumer import ANY_EVENT
from kernel.events import CloudEvent, parse_type, stream_of
from kernel.runtime import Subscriptions
from services.reporting.models import StoredEvent

CONSUMER = "reporting"


async def keep(session: AsyncSession, event: CloudEvent[Any]) -> None:
    """Store the event (once: a copy already in the log, e.g. after a partial replay, is
    left as it is)."""
    service, _, _, _ = parse_type(event.type)
    if await session.scalar(select(StoredEvent.seq).where(StoredEvent.id == str(event.id))):
        return
    session.add(
        StoredEvent(
            id=str(event.id),
            stream=stream_of(service),
            type=event.type,
            source=event.source,
            subject=event.subject,
            time=event.time.astimezone(UTC),
            aggregate_version=event.aggregateversion,
            data=event.data.model_dump(mode="json"),
            received_at=datetime.now(UTC),
        )
    )
    await session.flush()


SUBSCRIPTIONS: Subscriptions = {
    "membership": {ANY_EVENT: keep},
    "catalog": {ANY_EVENT: keep},
    "matching": {ANY_EVENT: keep},
}
