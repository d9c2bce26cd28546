"""The kernel against a real nats-server, on SQLite and on PostgreSQL (see the Foundation issue)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select

from kernel.consumer import Consumer, Outcome
from kernel.tables import inbox
from tests.conftest import eventually
from tests.integration.kernel.conftest import Harness, apply_widget, assert_exactly_once_in_order


async def test_a_thousand_events_arrive_exactly_once_in_order(harness: Harness) -> None:
    ids = await harness.write_events(1000, widgets=25)
    consumer = await harness.consumer()
    relay = await harness.relay()

    await eventually(lambda: consumer.counts[Outcome.APPLIED] >= 1000, timeout=60)

    assert_exactly_once_in_order(await harness.applied(), ids)
    # The relay marks a batch sent after the ack, maybe after the consumer applied it.
    await eventually(_no_pending(harness), timeout=10, message="every row marked sent")
    # It counts a batch once the session that marked it is closed: after that commit.
    await eventually(lambda: relay.published >= 1000, timeout=10, message="every row counted")
    assert relay.published == 1000
    info = await harness.buses[0].jetstream.stream_info("CLOCK_TESTING")
    assert info.state.messages == 1000
    print(f"\n[figures] 1000 events: published {relay.published}, counts {consumer.counts}")


async def test_broker_killed_while_outbox_holds_rows_loses_nothing(harness: Harness) -> None:
    ids = await harness.write_events(2000, widgets=20, per_transaction=500)
    consumer = await harness.consumer()
    relay = await harness.relay(batch_size=50)
    await eventually(lambda: relay.published >= 200, message="relay started publishing")

    harness.nats.kill()
    published_at_kill = relay.published
    assert await harness.pending_count() > 0, "the kill must happen while rows are pending"
    more_ids = await harness.write_events(300, widgets=20, start=2000)  # written while down
    harness.nats.start()

    await eventually(lambda: consumer.counts[Outcome.APPLIED] >= 2300, timeout=90)
    assert_exactly_once_in_order(await harness.applied(), ids + more_ids)
    await eventually(_no_pending(harness), timeout=10, message="every row marked sent")
    print(
        f"\n[figures] broker SIGKILL with {2000 - published_at_kill} of 2000 pending,"
        f" 300 written while down: applied {consumer.counts[Outcome.APPLIED]},"
        f" duplicates absorbed by the inbox {consumer.counts[Outcome.DUPLICATE]}"
    )


class _Died(BaseException):
    pass


class DiesBeforeAck(Consumer):
    """Commits the first event, then dies before acking it."""

    async def ack(self, message: Any) -> None:
        raise asyncio.CancelledError  # ends the task as a crash would, without an ack


async def test_consumer_dying_between_commit_and_ack_applies_once(harness: Harness) -> None:
    ids = await harness.write_events(1)
    await harness.relay()
    dying = await harness.consumer(cls=DiesBeforeAck, ack_wait=1.0, lease_ttl=1.0)
    await eventually(lambda: dying._task is not None and dying._task.done())
    await dying.bus.close()  # the process is gone: its connection too
    assert await harness.applied_count() == 1

    survivor = await harness.consumer(ack_wait=1.0, lease_ttl=1.0)
    await eventually(lambda: survivor.counts[Outcome.DUPLICATE] >= 1, timeout=30)

    assert [event_id for event_id, _, _ in await harness.applied()] == ids
    print(
        f"\n[figures] commit-then-die: redelivered {survivor.counts[Outcome.DUPLICATE]}, applied 1"
    )


async def test_poison_message_is_dead_lettered_and_the_next_ones_processed(
    harness: Harness,
) -> None:
    attempts: dict[str, int] = {}

    async def fails_on_three(session: Any, event: Any) -> None:
        if event.data.n == 3:
            attempts[str(event.id)] = attempts.get(str(event.id), 0) + 1
            raise RuntimeError("cannot apply widget 3")
        await apply_widget(session, event)

    ids = await harness.write_events(10, widgets=10)
    await harness.relay()
    consumer = await harness.consumer(fails_on_three, max_deliveries=3, retry_delay=0.05)
    # Not an event at all: dead-lettered at once.
    await harness.buses[0].jetstream.publish(
        "clock.testing.widget.changed", b"{not json", headers={"Nats-Msg-Id": "garbage-1"}
    )

    await eventually(lambda: consumer.counts[Outcome.DEAD] >= 2, timeout=30)
    await eventually(lambda: consumer.counts[Outcome.APPLIED] >= 9)

    letters = await harness.dead_letters()
    assert {letter.event_id for letter in letters} == {ids[3], None}
    poison = next(letter for letter in letters if letter.event_id == ids[3])
    assert poison.deliveries == 3 and "cannot apply widget 3" in poison.error
    assert json.loads(poison.payload)["id"] == ids[3]
    assert attempts == {ids[3]: 3}
    assert sorted(n for _, _, n in await harness.applied()) == [0, 1, 2, 4, 5, 6, 7, 8, 9]


async def test_a_handler_failing_midway_in_a_batch_leaves_nothing_of_its_event(
    harness: Harness,
) -> None:
    """Batches commit once; a handler that wrote before it failed is rolled back alone."""

    async def writes_then_fails_on_three(session: Any, event: Any) -> None:
        await apply_widget(session, event)
        if event.data.n == 3:
            raise RuntimeError("half applied")

    ids = await harness.write_events(10, widgets=10)
    await harness.relay()
    consumer = await harness.consumer(
        writes_then_fails_on_three, max_deliveries=2, retry_delay=0.05, batch_size=64
    )
    await eventually(lambda: consumer.counts[Outcome.DEAD] >= 1, timeout=30)
    assert sorted(n for _, _, n in await harness.applied()) == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    async with harness.sessionmaker() as session:
        inboxed = set(await session.scalars(select(inbox.c.event_id)))
    assert inboxed == set(ids) - {ids[3]}


async def test_consumer_keeps_receiving_after_the_server_restarts(harness: Harness) -> None:
    first = await harness.write_events(5)
    consumer = await harness.consumer()
    await harness.relay()
    await eventually(lambda: consumer.counts[Outcome.APPLIED] >= 5)

    for restart in range(2):
        harness.nats.kill()
        harness.nats.start()
        await harness.write_events(5, start=5 * (restart + 1))
        await eventually(
            lambda r=restart: consumer.counts[Outcome.APPLIED] >= 5 * (r + 2),
            timeout=30,
            message=f"events after restart {restart + 1}",
        )
    applied = await harness.applied()
    assert len(applied) == 15 and {e for e, _, _ in applied} >= set(first)


async def test_an_event_older_than_the_projection_is_skipped(harness: Harness) -> None:
    from kernel.outbox import record_event
    from tests.integration.kernel.widgets import WidgetChanged, events

    async with harness.sessionmaker() as session:
        await record_event(
            session, WidgetChanged(n=2), subject="w", aggregate_version=2, events=events
        )
        await record_event(
            session, WidgetChanged(n=1), subject="w", aggregate_version=1, events=events
        )
        await session.commit()
    consumer = await harness.consumer()
    await harness.relay()
    await eventually(lambda: consumer.counts[Outcome.STALE] >= 1)
    assert [n for _, _, n in await harness.applied()] == [2]


async def test_two_relay_replicas_publish_each_event_once_in_order(harness: Harness) -> None:
    ids = await harness.write_events(600, widgets=12, per_transaction=50)
    consumer = await harness.consumer()
    first = await harness.relay(batch_size=40, lease_ttl=1.0)
    second = await harness.relay(batch_size=40, lease_ttl=1.0)
    await eventually(lambda: consumer.counts[Outcome.APPLIED] >= 600, timeout=60)
    assert_exactly_once_in_order(await harness.applied(), ids)
    # A takeover in the middle of a batch (the holder slowed past its lease) resends rows the
    # other replica had not yet marked sent; the stream's duplicate window drops the copies.
    # (A relay counts a batch once it marked it sent, which may be after the consumer applied it.)
    await eventually(lambda: first.published + second.published >= 600, timeout=10)
    info = await harness.buses[0].jetstream.stream_info("CLOCK_TESTING")
    assert info.state.messages == 600
    print(f"\n[figures] two relays: {first.published + second.published - 600} resends absorbed")


def _no_pending(harness: Harness) -> Callable[[], Awaitable[bool]]:
    """The relay marks a batch sent after its ack, which may be after the consumer applied it."""

    async def check() -> bool:
        return await harness.pending_count() == 0

    return check
