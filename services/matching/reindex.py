"""`clock matching reindex`: rebuild the catalogue index by replaying the streams.

`reindex(settings)` empties the index (entries, initiatives and centres) and starts a new
epoch, replays the whole CLOCK_CATALOG stream through the same handlers as the live consumer (so
every entry and initiative is analysed and embedded again), then the CLOCK_MEMBERSHIP stream
(which hides the entries of suspended, withdrawn or expired members). Each replay first takes the
live consumer's lease (`kernel.replay.replay_stream`), so replicas pause consuming that stream
meanwhile; every replica's in-memory index sees the new epoch and reloads. Rankings after a
reindex are the same as before it, for the same events.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from kernel.bus import Bus
from kernel.db import create_engine, create_sessionmaker
from kernel.replay import ReplayStats, replay_stream
from services.matching import index
from services.matching.embedding import Embedder
from services.matching.settings import MatchingSettings

log = logging.getLogger(__name__)


@dataclass
class ReindexReport:
    catalog: ReplayStats
    membership: ReplayStats

    def text(self) -> str:
        return (
            f"replayed {self.catalog.events} catalogue events (stream up to "
            f"{self.catalog.last_sequence}) and {self.membership.events} membership events "
            f"(up to {self.membership.last_sequence}) into the matching index"
        )


async def reindex(
    settings: MatchingSettings | None = None, *, embedder: Embedder | None = None
) -> ReindexReport:
    settings = settings or MatchingSettings()
    engine = create_engine(settings.sqlalchemy_url)
    sessionmaker = create_sessionmaker(engine)
    bus = Bus(
        url=settings.nats_url,
        name="clock-matching-reindex",
        stream_replicas=settings.stream_replicas,
        streams=("catalog", "membership"),
    )
    await bus.start()
    try:
        await bus.wait_ready(60)
        catalog = await replay_stream(
            sessionmaker=sessionmaker,
            bus=bus,
            service=settings.service_name,
            source="catalog",
            handlers=index.handlers(embedder),
            reset=index.reset,
            lease_ttl=settings.lease_ttl,
        )
        membership = await replay_stream(
            sessionmaker=sessionmaker,
            bus=bus,
            service=settings.service_name,
            source="membership",
            handlers=index.membership_handlers(),
            reset=None,
            lease_ttl=settings.lease_ttl,
        )
        report = ReindexReport(catalog, membership)
        log.info(report.text())
        return report
    finally:
        await bus.close()
        await engine.dispose()


if __name__ == "__main__":
    print(asyncio.run(reindex()).text())
