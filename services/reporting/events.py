"""Handlers of the events the reporting service consumes: every event of the three streams
is kept in the `events` log (unknown types too; the KPIs ignore what they do not know), and its
facts are added to the KPI aggregates in the same transaction.

The consumers run with `skip_stale=False`: a log keeps a late or out-of-order event too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.consumer import ANY_EVENT
from kernel.events import CloudEvent, parse_type, stream_of
from kernel.runtime import Subscriptions
from services.reporting.facts import LoggedEvent
from services.reporting.models import StoredEvent
from services.reporting.projection import Incoming, project

CONSUMER = "reporting"
EVENTS = cast(Table, StoredEvent.__table__)
"""Written with Core: cheaper than the ORM's unit of work for a row per event."""


async def keep(session: AsyncSession, event: CloudEvent[Any]) -> None:
    """Log the event and project it (once: a copy already in the log, e.g. after a partial
    replay, is left as it is)."""
    await keep_all(session, [event])


async def keep_all(session: AsyncSession, events: Sequence[CloudEvent[Any]]) -> int:
    """Log and project a batch of events in the order given; returns how many were new."""
    ids = [str(e.id) for e in events]
    known = set(await session.scalars(select(StoredEvent.id).where(StoredEvent.id.in_(ids))))
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    incoming: list[Incoming] = []
    for event in events:
        if str(event.id) in known:
            continue
        known.add(str(event.id))
        service, _, _, _ = parse_type(event.type)
        row = {
            "id": str(event.id),
            "stream": stream_of(service),
            "type": event.type,
            "source": event.source,
            "subject": event.subject,
            "time": event.time.astimezone(UTC),
            "aggregate_version": event.aggregateversion,
            "data": event.data.model_dump(mode="json"),
            "received_at": now,
        }
        rows.append(row)
        incoming.append(
            Incoming(LoggedEvent(row["id"], event.type, row["time"], row["data"]), service)
        )
    if rows:
        await session.execute(insert(EVENTS), rows)
        await project(session, incoming)
    return len(rows)


SUBSCRIPTIONS: Subscriptions = {
    "membership": {ANY_EVENT: keep},
    "catalog": {ANY_EVENT: keep},
    "matching": {ANY_EVENT: keep},
}
