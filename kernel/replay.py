"""Rebuilding a projection by replaying a stream from its first message.

`replay_stream` takes the consumer's lease (so the live consumer of any replica pauses), resets
the projection and the consumer's inbox and version rows in one transaction, then reads the
whole stream through an ephemeral consumer and applies every event with the same code path as
the live consumer. Events that arrive during the replay are either replayed or, later, delivered
by the live consumer; the inbox makes each count once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import nats.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel.bus import Bus
from kernel.consumer import Consumer, Handler, Outcome
from kernel.events import EventRegistry, registry
from kernel.tables import inbox, projection_versions

log = logging.getLogger(__name__)

Reset = Callable[[AsyncSession], Awaitable[None]]
"""Deletes the projection's rows (flush, no commit)."""


@dataclass
class ReplayStats:
    stream: str
    last_sequence: int
    counts: dict[Outcome, int] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return sum(self.counts.values())


async def replay_stream(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    bus: Bus,
    service: str,
    source: str,
    handlers: Mapping[str, Handler],
    reset: Reset | None,
    events: EventRegistry = registry,
    lease_ttl: float = 10.0,
    batch_size: int = 256,
    skip_stale: bool = True,
) -> ReplayStats:
    """Replay the stream of `source` into the projection `service` keeps from it."""
    consumer = Consumer(
        sessionmaker,
        bus,
        service,
        source,
        handlers,
        events=events,
        lease_ttl=lease_ttl,
        skip_stale=skip_stale,
    )
    # Take the lease from the live consumer and give it time to notice and stop, so that no
    # event is applied by it between the reset and the replay of the same aggregate.
    await consumer.lease.steal()
    await asyncio.sleep(lease_ttl)
    await consumer.lease.acquire()
    try:
        async with sessionmaker() as session:
            if reset is not None:
                await reset(session)
            for table in (inbox, projection_versions):
                await session.execute(delete(table).where(table.c.consumer == service))
            await session.commit()

        js = bus.jetstream
        info = await js.stream_info(consumer.stream)
        stats = ReplayStats(consumer.stream, info.state.last_seq)
        if info.state.messages == 0:
            return stats
        subscription = await js.pull_subscribe(
            f"clock.{source}.>",
            durable=None,
            stream=consumer.stream,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.EXPLICIT,
                inactive_threshold=60.0,
                max_deliver=1,
            ),
        )
        try:
            position = 0
            while position < stats.last_sequence:
                if not consumer.lease.held:
                    await consumer.lease.acquire()
                try:
                    messages = await subscription.fetch(batch_size, timeout=2)
                except (nats.errors.TimeoutError, TimeoutError):
                    continue
                for message, outcome in zip(
                    messages, await consumer.handle_batch(messages), strict=True
                ):
                    stats.counts[outcome] = stats.counts.get(outcome, 0) + 1
                    position = max(position, message.metadata.sequence.stream)
        finally:
            await subscription.unsubscribe()
        log.info(
            "replayed %s into %s: %d events",
            consumer.stream,
            service,
            stats.events,
            extra={"counts": {k.value: v for k, v in stats.counts.items()}},
        )
        return stats
    finally:
        await consumer.lease.release()
