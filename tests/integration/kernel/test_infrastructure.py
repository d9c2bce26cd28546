"""Streams, leases and a wiped broker store."""

from __future__ import annotations

import shutil

import pytest
from nats.js.api import StreamConfig

from kernel.bus import DUPLICATE_WINDOW_SECONDS, ensure_stream, stream_config
from kernel.consumer import Outcome
from kernel.leases import Lease
from tests.conftest import eventually
from tests.integration.kernel.conftest import Harness


async def test_streams_are_created_and_corrected_idempotently(harness: Harness) -> None:
    js = (await harness.bus()).jetstream
    await js.add_stream(
        StreamConfig(name="CLOCK_CATALOG", subjects=["clock.catalog.>"], duplicate_window=10)
    )
    await ensure_stream(js, stream_config("catalog"))
    await ensure_stream(js, stream_config("catalog"))  # a second start changes nothing
    info = await js.stream_info("CLOCK_CATALOG")
    assert info.config.duplicate_window == DUPLICATE_WINDOW_SECONDS
    assert info.config.storage == "file"
    assert info.config.subjects == ["clock.catalog.>"]


async def test_one_lease_holder_at_a_time_and_takeover_after_expiry(harness: Harness) -> None:
    first = Lease(harness.sessionmaker, name="job", ttl=0.5, holder="a")
    second = Lease(harness.sessionmaker, name="job", ttl=0.5, holder="b")
    assert await first.acquire()
    assert not await second.acquire()
    assert await first.acquire()  # renewal by the holder

    async def taken_over() -> bool:
        return await second.acquire()

    await eventually(taken_over, timeout=5)
    assert not await first.acquire()
    await second.release()
    assert await first.acquire()


async def test_events_flow_again_after_the_broker_store_is_wiped(harness: Harness) -> None:
    await harness.write_events(5)
    consumer = await harness.consumer()
    await harness.relay()
    await eventually(lambda: consumer.counts[Outcome.APPLIED] >= 5)

    harness.nats.kill()
    shutil.rmtree(harness.nats.store_dir)
    harness.nats.start()
    await harness.write_events(5, start=5)

    await eventually(lambda: consumer.counts[Outcome.APPLIED] >= 10, timeout=30)
    assert len(await harness.applied()) == 10


async def test_a_projection_rebuilt_by_replay_is_the_same(harness: Harness) -> None:
    from sqlalchemy import delete

    from kernel.replay import replay_stream
    from tests.integration.kernel.conftest import apply_widget
    from tests.integration.kernel.widgets import WidgetChanged, applied_events, events

    await harness.write_events(120, widgets=7)
    consumer = await harness.consumer()
    await harness.relay()
    await eventually(lambda: consumer.counts[Outcome.APPLIED] >= 120)
    before = sorted((widget, n) for _, widget, n in await harness.applied())

    async def reset(session: object) -> None:
        await session.execute(delete(applied_events))  # type: ignore[attr-defined]

    stats = await replay_stream(
        sessionmaker=harness.sessionmaker,
        bus=await harness.bus(),
        service="widgets",
        source="testing",
        handlers={WidgetChanged.event_type: apply_widget},
        reset=reset,
        events=events,
        lease_ttl=2.0,
    )
    assert stats.counts == {Outcome.APPLIED: 120}
    assert sorted((widget, n) for _, widget, n in await harness.applied()) == before
    await harness.write_events(3, widgets=7, start=120)  # the live consumer carries on
    await eventually(lambda: consumer.counts[Outcome.APPLIED] >= 123, timeout=20)
    assert len(await harness.applied()) == 123


async def test_an_outbox_batch_writes_its_events_at_its_end_in_order_or_not_at_all(
    harness: Harness,
) -> None:
    from sqlalchemy import select

    from kernel.outbox import outbox_batch, record_event
    from kernel.tables import outbox
    from tests.integration.kernel.widgets import WidgetChanged, events

    async def recorded() -> list[str]:
        async with harness.sessionmaker() as session:
            rows = await session.execute(select(outbox.c.event_id).order_by(outbox.c.seq))
            return [str(r[0]) for r in rows]

    async with harness.sessionmaker() as session:
        async with outbox_batch(session):
            ids = [
                str(
                    (
                        await record_event(
                            session,
                            WidgetChanged(n=n),
                            subject="w1",
                            aggregate_version=n + 1,
                            events=events,
                        )
                    ).id
                )
                for n in range(3)
            ]
            async with harness.sessionmaker() as other:  # nothing written yet
                assert (await other.execute(select(outbox.c.event_id))).all() == []
        await session.commit()
    assert await recorded() == ids

    async with harness.sessionmaker() as session:
        try:
            async with outbox_batch(session):
                await record_event(
                    session, WidgetChanged(n=9), subject="w2", aggregate_version=1, events=events
                )
                raise ValueError("a row failed")
        except ValueError:
            await session.rollback()
        with pytest.raises(RuntimeError, match="nest"):
            async with outbox_batch(session), outbox_batch(session):
                pass
    assert await recorded() == ids
