"""Streams, leases and a wiped broker store."""

from __future__ import annotations

import shutil

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
