"""Durable pull consumers with an inbox: each event applied once, in order, or dead-lettered.

One consumer per (consuming service, stream). Among replicas of a service the holder of the
consumer's lease fetches, so events of an aggregate are applied in stream order. For every
message, in one transaction: the inbox row (consumer, event id) is inserted, the event is
skipped if the projection already saw a newer version of its aggregate, else the handler runs;
then the message is acked, only after the commit. A redelivery finds the inbox row and changes
nothing. After `max_deliveries` failures the message is stored in `dead_letters` and terminated.

A fetched batch is applied in one transaction, each message inside its own savepoint: a
handler that fails rolls back its message alone, which is retried later, and one commit serves
the batch (a commit per message capped reporting near 160 events/s). If the batch cannot
commit, its messages are applied again one transaction each.

Fetches use a short timeout in a loop: a long or unbounded fetch never returns after the server
restarts (nats.py issues #504, #234); a short one resumes by itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel import metrics
from kernel.bus import Bus
from kernel.events import CloudEvent, EventRegistry, parse_type, registry, stream_of
from kernel.faults import NO_FAULTS, FaultPoint, Faults
from kernel.leases import Lease
from kernel.tables import dead_letters, inbox, projection_versions
from kernel.tasks import cancel_and_wait

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, CloudEvent[Any]], Awaitable[None]]
"""Applies one event to the service's state, in the consumer's transaction (flush, no commit)."""

ANY_EVENT = "*"
"""Handler key that receives every event type of the stream without a handler of its own."""


@dataclass
class _Delivery:
    """A fetched message on its way through a batch."""

    message: Msg
    position: int
    count: int
    stream_seq: int | None
    event: CloudEvent[Any] | None = None
    outcome: Outcome | None = None
    error: Exception | None = None

    @classmethod
    def of(cls, message: Msg, position: int) -> _Delivery:
        metadata = message.metadata
        stream_seq = metadata.sequence.stream if metadata.sequence else None
        return cls(message, position, metadata.num_delivered or 1, stream_seq)


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    IGNORED = "ignored"
    RETRY = "retry"
    DEAD = "dead"


@dataclass
class Consumer:
    sessionmaker: async_sessionmaker[AsyncSession]
    bus: Bus
    service: str
    """The consuming service; also the durable name and the inbox key."""
    source: str
    """The publishing service whose stream is consumed."""
    handlers: Mapping[str, Handler]
    events: EventRegistry = registry
    batch_size: int = 64
    max_deliveries: int = 5
    ack_wait: float = 30.0
    fetch_timeout: float = 1.0
    lease_ttl: float = 10.0
    retry_delay: float = 0.5
    skip_stale: bool = True
    """Skip an event older than the projection's version of its aggregate. An event log that
    keeps everything (reporting) turns it off."""
    faults: Faults = NO_FAULTS
    on_outcome: Callable[[CloudEvent[Any] | None, Outcome], None] | None = None
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.stream = stream_of(self.source)
        self.durable = self.service
        self.lease = Lease(
            self.sessionmaker, name=f"consumer:{self.service}:{self.stream}", ttl=self.lease_ttl
        )
        self._subscription: Any = None
        self.counts: dict[Outcome, int] = dict.fromkeys(Outcome, 0)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"consumer-{self.service}-{self.stream}")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        await self._drop_subscription()
        try:
            if self.lease.held:
                await self.lease.release()
        except Exception:  # the database may be gone at shutdown; the lease just expires
            log.debug("could not release consumer lease", exc_info=True)

    def consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            description=f"{self.service} consuming {self.stream}",
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            # Bounded by us, from num_delivered, so that the message is recorded before it
            # is terminated; the server alone would drop it silently.
            max_deliver=-1,
            max_ack_pending=1_000,
        )

    async def _subscribe(self) -> Any:
        js = self.bus.jetstream
        await js.add_consumer(self.stream, self.consumer_config())
        return await js.pull_subscribe_bind(durable=self.durable, stream=self.stream)

    async def _drop_subscription(self) -> None:
        """Unsubscribe, so that a drain at shutdown does not wait on messages nobody reads."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            try:
                await subscription.unsubscribe()
            except Exception:  # the connection may be gone already
                log.debug("unsubscribe failed", exc_info=True)

    async def run(self) -> None:
        backoff = 0.2
        while True:
            try:
                if not self.bus.is_connected:
                    await asyncio.sleep(0.2)
                    continue
                if not self.lease.held and not await self.lease.acquire():
                    await self._drop_subscription()
                    await asyncio.sleep(min(self.lease_ttl / 3, 1.0))
                    continue
                if self._subscription is None:
                    self._subscription = await self._subscribe()
                try:
                    messages = await self._subscription.fetch(
                        self.batch_size, timeout=self.fetch_timeout
                    )
                except (nats.errors.TimeoutError, TimeoutError):
                    continue
                if not self.lease.held and not await self.lease.acquire():
                    # Lost the lease (e.g. a replay took it): leave them unacked; they are
                    # redelivered to the holder.
                    continue
                await self.handle_batch(messages)
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except (nats.js.errors.ServiceUnavailableError, nats.js.errors.NotFoundError) as exc:
                # Stream or consumer missing (store wiped): re-create them, with backoff.
                log.warning("consumer %s/%s: %s", self.service, self.stream, exc)
                self._subscription = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception as exc:
                log.warning("consumer %s/%s: %r", self.service, self.stream, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def handle_batch(self, messages: Sequence[Msg]) -> list[Outcome]:
        """Apply fetched messages in one transaction; ack after the commit. Outcomes in order."""
        batch: list[_Delivery] = []
        outcomes: dict[int, Outcome] = {}
        for position, message in enumerate(messages):
            delivery = _Delivery.of(message, position)
            try:
                delivery.event = self.events.parse(message.data)
            except ValidationError as exc:
                # Not an event at all: retrying cannot help.
                await self._dead_letter(
                    message, None, f"invalid event: {exc}", delivery.count, delivery.stream_seq
                )
                outcomes[position] = self._count(None, Outcome.DEAD)
                continue
            batch.append(delivery)
        if batch:
            try:
                await self._apply_batch(batch)
            except Exception as exc:
                log.warning(
                    "consumer %s/%s: batch of %d not applied (%r); one by one",
                    self.service,
                    self.stream,
                    len(batch),
                    exc,
                )
                for delivery in batch:
                    outcomes[delivery.position] = await self.handle(delivery.message)
                return [outcomes[n] for n in range(len(messages))]
            self.faults.hit(FaultPoint.COMMIT_BEFORE_ACK)
            for delivery in batch:
                outcomes[delivery.position] = await self._settle(delivery)
        return [outcomes[n] for n in range(len(messages))]

    async def _apply_batch(self, batch: list[_Delivery]) -> None:
        """Each delivery gets its outcome, or the error its handler raised; one commit."""
        async with self.sessionmaker() as session:
            try:
                ids = [str(d.event.id) for d in batch if d.event is not None]
                seen = set(
                    await session.scalars(
                        select(inbox.c.event_id).where(
                            inbox.c.consumer == self.service, inbox.c.event_id.in_(ids)
                        )
                    )
                )
                for delivery in batch:
                    assert delivery.event is not None
                    event_id = str(delivery.event.id)
                    if event_id in seen:
                        delivery.outcome = Outcome.DUPLICATE
                        continue
                    try:
                        async with session.begin_nested():
                            delivery.outcome = await self._apply_in(
                                session, delivery.event, delivery.stream_seq
                            )
                    except Exception as exc:
                        delivery.error = exc
                        continue
                    seen.add(event_id)
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def _settle(self, delivery: _Delivery) -> Outcome:
        """After the commit: ack what was applied, retry or dead-letter what failed."""
        event = delivery.event
        if delivery.outcome is not None:
            await self.ack(delivery.message)
            return self._count(event, delivery.outcome)
        assert event is not None and delivery.error is not None
        return await self._failed(delivery.message, event, delivery.error, delivery.count)

    async def handle(self, message: Msg) -> Outcome:
        deliveries = message.metadata.num_delivered or 1
        stream_seq = message.metadata.sequence.stream if message.metadata.sequence else None
        try:
            event = self.events.parse(message.data)
        except ValidationError as exc:
            # Not an event at all: retrying cannot help.
            await self._dead_letter(message, None, f"invalid event: {exc}", deliveries, stream_seq)
            return self._count(None, Outcome.DEAD)
        try:
            outcome = await self._apply(event, stream_seq)
        except Exception as exc:
            return await self._failed(message, event, exc, deliveries)
        self.faults.hit(FaultPoint.COMMIT_BEFORE_ACK)
        await self.ack(message)
        return self._count(event, outcome)

    async def _failed(
        self, message: Msg, event: CloudEvent[Any], exc: Exception, deliveries: int
    ) -> Outcome:
        """A handler failed: retry later, with backoff, or dead-letter after the last try."""
        stream_seq = message.metadata.sequence.stream if message.metadata.sequence else None
        if deliveries >= self.max_deliveries:
            log.error(
                "event dead-lettered after %d deliveries: %r",
                deliveries,
                exc,
                extra={"event_id": str(event.id), "event_type": event.type},
            )
            await self._dead_letter(message, event, repr(exc), deliveries, stream_seq)
            return self._count(event, Outcome.DEAD)
        log.warning(
            "handler failed (delivery %d of %d): %r",
            deliveries,
            self.max_deliveries,
            exc,
            extra={"event_id": str(event.id), "event_type": event.type},
        )
        await message.nak(delay=min(self.retry_delay * 2 ** (deliveries - 1), 30.0))
        return self._count(event, Outcome.RETRY)

    async def ack(self, message: Msg) -> None:
        """Ack after commit. If this is lost, the redelivery finds the inbox row."""
        await message.ack()

    async def _apply(self, event: CloudEvent[Any], stream_seq: int | None) -> Outcome:
        """One event in a transaction of its own."""
        event_id = str(event.id)
        async with self.sessionmaker() as session:
            try:
                seen = await session.scalar(
                    select(inbox.c.event_id).where(
                        inbox.c.consumer == self.service, inbox.c.event_id == event_id
                    )
                )
                if seen is not None:
                    await session.rollback()
                    return Outcome.DUPLICATE
                outcome = await self._apply_in(session, event, stream_seq)
                await session.commit()
                return outcome
            except IntegrityError:
                # Another holder applied it concurrently (lease handover): same as a duplicate.
                await session.rollback()
                exists = await self._in_inbox(event_id)
                if exists:
                    return Outcome.DUPLICATE
                raise
            except BaseException:
                await session.rollback()
                raise

    async def _apply_in(
        self, session: AsyncSession, event: CloudEvent[Any], stream_seq: int | None
    ) -> Outcome:
        """The inbox row, then the handler unless the event is stale; no commit."""
        await session.execute(
            insert(inbox).values(
                consumer=self.service,
                event_id=str(event.id),
                event_type=event.type,
                stream_seq=stream_seq,
                processed_at=datetime.now(UTC),
            )
        )
        handler = self.handlers.get(event.type) or self.handlers.get(ANY_EVENT)
        if handler is None:
            return Outcome.IGNORED
        if self.skip_stale and await self._is_stale(session, event):
            return Outcome.STALE
        await handler(session, event)
        return Outcome.APPLIED

    async def _in_inbox(self, event_id: str) -> bool:
        async with self.sessionmaker() as session:
            found = await session.scalar(
                select(inbox.c.event_id).where(
                    inbox.c.consumer == self.service, inbox.c.event_id == event_id
                )
            )
            await session.rollback()
            return found is not None

    async def _is_stale(self, session: AsyncSession, event: CloudEvent[Any]) -> bool:
        """True when the projection saw this aggregate at this version or later; else records it."""
        service, aggregate, _, _ = parse_type(event.type)
        key = f"{service}.{aggregate}"
        where = (
            projection_versions.c.consumer == self.service,
            projection_versions.c.aggregate == key,
            projection_versions.c.aggregate_id == event.subject,
        )
        stored = await session.scalar(select(projection_versions.c.version).where(*where))
        if stored is not None and event.aggregateversion <= stored:
            return True
        if stored is None:
            await session.execute(
                insert(projection_versions).values(
                    consumer=self.service,
                    aggregate=key,
                    aggregate_id=event.subject,
                    version=event.aggregateversion,
                )
            )
        else:
            await session.execute(
                update(projection_versions).where(*where).values(version=event.aggregateversion)
            )
        return False

    async def _dead_letter(
        self,
        message: Msg,
        event: CloudEvent[Any] | None,
        error: str,
        deliveries: int,
        stream_seq: int | None,
    ) -> None:
        event_id = str(event.id) if event is not None else _event_id_of(message.data)
        async with self.sessionmaker() as session:
            await session.execute(
                insert(dead_letters).values(
                    consumer=self.service,
                    stream=self.stream,
                    stream_seq=stream_seq,
                    subject=message.subject,
                    event_id=event_id,
                    payload=message.data.decode("utf-8", errors="replace"),
                    error=error[:4000],
                    deliveries=deliveries,
                    created_at=datetime.now(UTC),
                )
            )
            await session.commit()
        metrics.DEAD_LETTERS.labels(self.service, self.stream).inc()
        await message.term()

    def _count(self, event: CloudEvent[Any] | None, outcome: Outcome) -> Outcome:
        self.counts[outcome] += 1
        metrics.EVENTS_CONSUMED.labels(self.service, self.stream, outcome.value).inc()
        if self.on_outcome is not None:
            self.on_outcome(event, outcome)
        return outcome


def _event_id_of(data: bytes) -> str | None:
    try:
        value = json.loads(data).get("id")
    except (ValueError, AttributeError):
        return None
    return str(value)[:36] if value is not None else None
