"""What the checker reads after a round: the services' SQLite databases (read-only, directly),
the JetStream streams (an ordered consumer each), and reporting's KPIs through the gateway."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import nats

from clock_cli.chaos.checker import (
    PUBLISHERS,
    SUBSCRIPTIONS,
    EventObservation,
    InboxRow,
    OutboxRow,
    StreamMessage,
    source_of,
)

TRUTH_QUERIES: Mapping[str, tuple[str, str]] = {
    "members_admitted": ("membership", "SELECT COUNT(*) FROM memberships"),
    "applications_submitted": ("membership", "SELECT COUNT(*) FROM applications"),
    "applications_decided": (
        "membership",
        "SELECT COUNT(*) FROM applications WHERE decided_at IS NOT NULL",
    ),
    "labs_published": (
        "catalog",
        "SELECT COUNT(*) FROM labs WHERE status = 'published' AND deleted_at IS NULL",
    ),
    "competences_published": (
        "catalog",
        "SELECT COUNT(*) FROM competences WHERE status = 'published' AND deleted_at IS NULL",
    ),
    "duplicates_found": ("catalog", "SELECT COUNT(*) FROM duplicate_pairs"),
    "demands_received": ("matching", "SELECT COUNT(*) FROM demands"),
    "introductions_requested": ("matching", "SELECT COUNT(*) FROM introductions"),
    "engagements_opened": ("matching", "SELECT COUNT(*) FROM engagements"),
    "engagements_closed": (
        "matching",
        "SELECT COUNT(*) FROM engagements WHERE status = 'closed'",
    ),
}
"""KPIs that are plain counts, and how to count them in the source of truth."""

EFFECT_QUERIES: tuple[tuple[str, str], ...] = (
    ("membership", "SELECT json_extract(organisation, '$.name') FROM applications"),
    ("catalog", "SELECT json_extract(name, '$.it') FROM labs"),
    ("catalog", "SELECT json_extract(title, '$.it') FROM competences"),
    ("matching", "SELECT name FROM firms"),
    ("matching", "SELECT title FROM demands"),
    ("matching", "SELECT message FROM introductions"),
)
"""Where the workload's markers land: one row per effect of a creating operation."""


def timestamp(value: str | None) -> float | None:
    """A stored UTC datetime (ISO text, naive meaning UTC) as seconds since the epoch."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


@contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        yield connection
    finally:
        connection.close()


class Databases:
    """The services' SQLite files in the round's data dir."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, service: str) -> Path:
        return self.root / f"{service}.db"

    def outbox(self, service: str) -> list[OutboxRow]:
        with read_only(self.path(service)) as db:
            rows = db.execute(
                "SELECT event_id, event_type, aggregate_id, created_at, sent_at, stream_seq "
                "FROM outbox ORDER BY seq"
            ).fetchall()
        return [
            OutboxRow(e, t, s, timestamp(c) or 0.0, timestamp(sent), seq)
            for e, t, s, c, sent, seq in rows
        ]

    def inbox(self, consumer: str) -> list[InboxRow]:
        with read_only(self.path(consumer)) as db:
            rows = db.execute(
                "SELECT event_id, event_type, stream_seq, processed_at FROM inbox "
                "WHERE consumer = ?",
                (consumer,),
            ).fetchall()
        return [InboxRow(e, t, s, timestamp(p) or 0.0) for e, t, s, p in rows]

    def dead_letters(self, consumer: str) -> list[str]:
        with read_only(self.path(consumer)) as db:
            rows = db.execute(
                "SELECT event_id FROM dead_letters WHERE consumer = ?", (consumer,)
            ).fetchall()
        return [str(r[0]) for r in rows]

    def count(self, service: str, sql: str) -> int:
        with read_only(self.path(service)) as db:
            value = db.execute(sql).fetchone()[0]
        return int(value or 0)

    def events_produced(self) -> int:
        return sum(self.count(s, "SELECT COUNT(*) FROM outbox") for s in PUBLISHERS)

    def lag(self) -> dict[str, int]:
        """What is still to flow: unsent outbox rows by publisher, and events of each consumed
        stream not yet in each consumer's inbox (or dead letters)."""
        lag: dict[str, int] = {}
        sent: dict[str, int] = {}
        for service in PUBLISHERS:
            unsent = self.count(service, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
            lag[f"{service} outbox"] = unsent
            sent[service] = self.count(
                service, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL"
            )
        for consumer, sources in SUBSCRIPTIONS.items():
            with read_only(self.path(consumer)) as db:
                read = Counter(
                    source_of(t)
                    for (t,) in db.execute(
                        "SELECT event_type FROM inbox WHERE consumer = ? "
                        "UNION ALL SELECT subject FROM dead_letters WHERE consumer = ?",
                        (consumer, consumer),
                    )
                )
            for source in sources:
                lag[f"{consumer} <- {source}"] = max(0, sent[source] - read[source])
        return lag

    def effects(self, round_id: str) -> dict[str, int]:
        pattern = re.compile(rf"chaos-{re.escape(round_id)}-\d+")
        found: Counter[str] = Counter()
        for service, sql in EFFECT_QUERIES:
            with read_only(self.path(service)) as db:
                for (text,) in db.execute(sql):
                    found.update(pattern.findall(text or ""))
        return dict(found)

    def truth(self) -> dict[str, float]:
        return {kpi: float(self.count(s, sql)) for kpi, (s, sql) in TRUTH_QUERIES.items()}

    def observe_events(self, streams: Mapping[str, list[StreamMessage]]) -> EventObservation:
        return EventObservation(
            outbox={s: self.outbox(s) for s in PUBLISHERS},
            streams=streams,
            inbox={c: self.inbox(c) for c in SUBSCRIPTIONS},
            dead_letters={c: self.dead_letters(c) for c in SUBSCRIPTIONS},
        )


def wait_until_caught_up(databases: Databases, *, timeout: float) -> dict[str, int]:
    """Poll until nothing lags (every outbox row sent, every consumer's inbox complete), or the
    deadline; returns the last lag (all zeros when caught up)."""
    deadline = time.monotonic() + timeout
    while True:
        lag = databases.lag()
        if not any(lag.values()) or time.monotonic() > deadline:
            return lag
        time.sleep(0.25)


async def read_streams(nats_url: str) -> dict[str, list[StreamMessage]]:
    """Every message of the three streams: its stream sequence and event id (Nats-Msg-Id)."""
    connection = await nats.connect(servers=nats_url.split(","), connect_timeout=5)
    try:
        js = connection.jetstream(timeout=10)
        result: dict[str, list[StreamMessage]] = {}
        for service in PUBLISHERS:
            stream = f"CLOCK_{service.upper()}"
            info = await js.stream_info(stream)
            messages: list[StreamMessage] = []
            if info.state.messages:
                subscription = await js.subscribe(
                    f"clock.{service}.>", stream=stream, ordered_consumer=True
                )
                for _ in range(info.state.messages):
                    message = await subscription.next_msg(timeout=10)
                    event_id = (message.headers or {}).get("Nats-Msg-Id", "")
                    messages.append(StreamMessage(message.metadata.sequence.stream, event_id))
                await subscription.unsubscribe()
            result[service] = messages
        return result
    finally:
        await connection.close()


def read_kpis(gateway: str, key: str, names: list[str]) -> dict[str, float]:
    """Reporting's totals of `names` over every day of the round (yesterday to tomorrow)."""
    today = date.today()
    params = {
        "from": (today - timedelta(days=1)).isoformat(),
        "to": (today + timedelta(days=1)).isoformat(),
        "period": "range",
        "kpi": ",".join(names),
    }
    response = httpx.get(
        f"{gateway}/api/v1/reporting/kpis",
        params=params,
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    response.raise_for_status()
    return {
        item["kpi"]: float(item["value"])
        for item in response.json()["items"]
        if item.get("dimension") is None and item["value"] is not None
    }


def read_streams_sync(nats_url: str) -> dict[str, list[StreamMessage]]:
    return asyncio.run(read_streams(nats_url))
