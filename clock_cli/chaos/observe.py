"""What the checker reads after a round: the services' databases (read-only, directly),
the JetStream streams (an ordered consumer each), and reporting's KPIs through the gateway."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import nats
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

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

EFFECTS: tuple[tuple[str, str, str, str | None], ...] = (
    ("membership", "applications", "organisation", "name"),
    ("catalog", "labs", "name", "it"),
    ("catalog", "competences", "title", "it"),
    ("matching", "firms", "name", None),
    ("matching", "demands", "title", None),
    ("matching", "introductions", "message", None),
)
"""Where the workload's markers land, one row per effect of a creating operation: service,
table, column and, for a JSON column, the key holding the text."""


def timestamp(value: str | datetime | None) -> float | None:
    """A stored UTC datetime (ISO text from SQLite, naive meaning UTC; a datetime from
    PostgreSQL) as seconds since the epoch."""
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def sync_url(url: str) -> str:
    """A service's database URL (as the settings take it) for a synchronous, read-only
    observer: SQLite opened read-only, PostgreSQL through psycopg."""
    plain = url.replace("+aiosqlite", "").replace("+asyncpg", "")
    if plain.startswith("sqlite:///"):
        return f"sqlite:///file:{plain.removeprefix('sqlite:///')}?mode=ro&uri=true"
    for scheme in ("postgresql://", "postgres://"):
        if plain.startswith(scheme):
            return "postgresql+psycopg://" + plain.removeprefix(scheme)
    raise ValueError(f"no observer for the database {url!r}")


class Databases:
    """The services' databases, read directly (SQLite files or PostgreSQL databases)."""

    def __init__(self, urls: Mapping[str, str]) -> None:
        self.urls = dict(urls)
        self._engines: dict[str, Engine] = {}

    def engine(self, service: str, *, write: bool = False) -> Engine:
        """Read-only (SQLite opened so), unless `write`: a test moving time along."""
        key = f"{service}:write" if write else service
        if key not in self._engines:
            url = sync_url(self.urls[service])
            if write:
                url = url.replace("?mode=ro&uri=true", "?uri=true")
            if url.startswith("sqlite"):
                engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 30})
            else:
                engine = create_engine(url, poolclass=NullPool)
            self._engines[key] = engine
        return self._engines[key]

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()

    def rows(self, service: str, sql: str, **params: object) -> list[tuple[Any, ...]]:
        with self.engine(service).connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]

    def outbox(self, service: str) -> list[OutboxRow]:
        rows = self.rows(
            service,
            "SELECT event_id, event_type, aggregate_id, created_at, sent_at, stream_seq "
            "FROM outbox ORDER BY seq",
        )
        return [
            OutboxRow(str(e), t, str(s), timestamp(c) or 0.0, timestamp(sent), seq)
            for e, t, s, c, sent, seq in rows
        ]

    def inbox(self, consumer: str) -> list[InboxRow]:
        rows = self.rows(
            consumer,
            "SELECT event_id, event_type, stream_seq, processed_at FROM inbox "
            "WHERE consumer = :consumer",
            consumer=consumer,
        )
        return [InboxRow(str(e), t, s, timestamp(p) or 0.0) for e, t, s, p in rows]

    def dead_letters(self, consumer: str) -> list[str]:
        rows = self.rows(
            consumer,
            "SELECT event_id FROM dead_letters WHERE consumer = :consumer",
            consumer=consumer,
        )
        return [str(r[0]) for r in rows]

    def count(self, service: str, sql: str) -> int:
        return int(self.rows(service, sql)[0][0] or 0)

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
            read = Counter(
                source_of(t)
                for (t,) in self.rows(
                    consumer,
                    "SELECT event_type FROM inbox WHERE consumer = :consumer "
                    "UNION ALL SELECT subject FROM dead_letters WHERE consumer = :consumer",
                    consumer=consumer,
                )
            )
            for source in sources:
                lag[f"{consumer} <- {source}"] = max(0, sent[source] - read[source])
        return lag

    def effects(self, round_id: str) -> dict[str, int]:
        pattern = re.compile(rf"chaos-{re.escape(round_id)}-\d+")
        found: Counter[str] = Counter()
        for service, table, column, key in EFFECTS:
            if key is None:
                expression = column
            elif self.engine(service).dialect.name == "sqlite":
                expression = f"json_extract({column}, '$.{key}')"
            else:
                expression = f"{column}->>'{key}'"
            for (value,) in self.rows(service, f"SELECT {expression} FROM {table}"):
                found.update(pattern.findall(value or ""))
        return dict(found)

    def truth(self) -> dict[str, float]:
        return {kpi: float(self.count(s, sql)) for kpi, (s, sql) in TRUTH_QUERIES.items()}

    def lease_holders(self, service: str) -> dict[str, str]:
        """Lease name -> holder (`host:pid:suffix`), of the leases in force."""
        now = time.time()
        rows = self.rows(service, "SELECT name, holder, expires_at FROM leases")
        return {n: h for n, h, expires in rows if (timestamp(expires) or 0.0) > now}

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
