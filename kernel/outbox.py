"""Transactional outbox: events commit with the state change; a relay publishes them.

`record_event` adds a row in the caller's transaction. `OutboxRelay` runs in every replica of a
service; the one holding the relay lease publishes pending rows in order, with the event id as
`Nats-Msg-Id`, and marks them sent only after JetStream acknowledged them. While NATS is down
it retries with backoff. A resend (after a crash between ack and mark) is absorbed by the
stream's duplicate window.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel import metrics
from kernel.bus import Bus
from kernel.context import request_id_var, traceparent_var
from kernel.events import CloudEvent, EventData, EventRegistry, registry, subject_of
from kernel.faults import NO_FAULTS, FaultPoint, Faults
from kernel.leases import Lease
from kernel.tables import outbox
from kernel.tasks import cancel_and_wait

log = logging.getLogger(__name__)

PENDING_KEY = "clock_outbox_pending"
BATCH_KEY = "clock_outbox_batch"


async def record_event(
    session: AsyncSession,
    data: EventData,
    *,
    subject: str,
    aggregate_version: int,
    events: EventRegistry = registry,
) -> CloudEvent[Any]:
    """Add an event to the outbox within the caller's transaction; returns the envelope.
    Inside `outbox_batch`, the row is written with the batch's others at its end."""
    envelope = events.build(
        data,
        subject=subject,
        aggregate_version=aggregate_version,
        traceparent=traceparent_var.get(),
        request_id=request_id_var.get(),
    )
    row = {
        "event_id": str(envelope.id),
        "event_type": envelope.type,
        "subject": subject_of(envelope.type),
        "aggregate_id": subject,
        "payload": envelope.model_dump_json(),
        "created_at": envelope.time,
    }
    batch: list[dict[str, Any]] | None = session.info.get(BATCH_KEY)
    if batch is not None:
        batch.append(row)
    else:
        await session.execute(insert(outbox).values(**row))
    session.info[PENDING_KEY] = True
    return envelope


@asynccontextmanager
async def outbox_batch(session: AsyncSession) -> AsyncIterator[None]:
    """The events recorded inside are inserted in one statement when it ends without error
    (in the order they were recorded): many writes in one transaction, one round trip. No
    savepoint may be rolled back inside (its events would stay in the batch)."""
    if session.info.get(BATCH_KEY) is not None:
        raise RuntimeError("outbox batches do not nest")
    rows: list[dict[str, Any]] = []
    session.info[BATCH_KEY] = rows
    try:
        yield
    finally:
        session.info.pop(BATCH_KEY, None)
    if rows:
        await session.execute(insert(outbox), rows)


@dataclass
class OutboxRelay:
    sessionmaker: async_sessionmaker[AsyncSession]
    bus: Bus
    service: str
    batch_size: int = 256
    poll_interval: float = 0.25
    lease_ttl: float = 10.0
    ack_timeout: float = 5.0
    faults: Faults = NO_FAULTS
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.lease = Lease(
            self.sessionmaker, name=f"outbox-relay:{self.service}", ttl=self.lease_ttl
        )
        self.published = 0

    def notify(self) -> None:
        """Wake the relay now (called after a commit that added events)."""
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"outbox-relay-{self.service}")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        try:
            if self.lease.held:
                await self.lease.release()
        except Exception:  # the database may be gone at shutdown; the lease just expires
            log.debug("could not release relay lease", exc_info=True)

    async def run(self) -> None:
        backoff = self.poll_interval
        while True:
            try:
                if not self.bus.is_connected:
                    await asyncio.sleep(backoff)
                    continue
                if not self.lease.held and not await self.lease.acquire():
                    await asyncio.sleep(min(self.lease_ttl / 3, 1.0))
                    continue
                sent = await self.publish_pending()
                backoff = self.poll_interval
                if sent < self.batch_size:  # else more may be waiting
                    await self._wait(self.poll_interval)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox relay: %s; retrying in %.1fs", exc, backoff)
                metrics.OUTBOX_ERRORS.labels(self.service).inc()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _wait(self, timeout: float) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
        # (CPython gh-86296) and stop() would hang.
        try:
            async with asyncio.timeout(timeout):
                await self._wakeup.wait()
        except TimeoutError:
            pass
        self._wakeup.clear()

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows in order; returns how many were marked sent."""
        async with self.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(outbox.c.seq, outbox.c.event_id, outbox.c.subject, outbox.c.payload)
                    .where(outbox.c.sent_at.is_(None))
                    .order_by(outbox.c.seq)
                    .limit(self.batch_size)
                )
            ).all()
            await session.rollback()
        if not rows:
            return 0
        js = self.bus.jetstream
        # Pipelined on one connection, so the server stores them in this order.
        futures = [
            await js.publish_async(
                row.subject, row.payload.encode(), headers={"Nats-Msg-Id": row.event_id}
            )
            for row in rows
        ]
        acked: list[tuple[int, int]] = []
        error: Exception | None = None
        for row, future in zip(rows, futures, strict=True):
            try:
                async with asyncio.timeout(self.ack_timeout):
                    ack = await future
            except asyncio.CancelledError:
                for pending in futures:
                    pending.cancel()
                raise
            except Exception as exc:  # stop at the first gap: order must hold
                error = exc
                break
            acked.append((row.seq, ack.seq))
        for future in futures[len(acked) :]:
            future.cancel()
        if acked:
            self.faults.hit(FaultPoint.PUBLISH_BEFORE_MARK)
            now = datetime.now(UTC)
            async with self.sessionmaker() as session:
                await session.execute(
                    update(outbox)
                    .where(outbox.c.seq == bindparam("row_seq"))
                    .values(sent_at=now, stream_seq=bindparam("ack_seq")),
                    [{"row_seq": seq, "ack_seq": stream_seq} for seq, stream_seq in acked],
                )
                await session.commit()
            self.published += len(acked)
            metrics.OUTBOX_PUBLISHED.labels(self.service).inc(len(acked))
        if error is not None:
            raise RuntimeError(f"publish failed after {len(acked)} of {len(rows)}: {error!r}")
        return len(acked)
