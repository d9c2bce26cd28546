"""(d) Events: from the commit in one service to the commit in each consumer, under real
writes at a fixed rate; and the sustained rate of an outbox relay draining a large backlog.

Both are read from the databases: the publisher's `outbox` (event id, created_at, sent_at)
and each consumer's `inbox` (event id, processed_at), written by the services themselves.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from clock_cli.bench.load import Load, percentile, run_hey
from clock_cli.bench.memory import PeakSampler, cpu_seconds
from clock_cli.bench.plan import Plan
from clock_cli.bench.platform import BenchPlatform
from kernel.contracts import matching as contracts
from kernel.principal import Role
from kernel.tables import inbox, outbox

REGISTERED = "clock.membership.organisation.registered.v1"
CONSUMERS = ("catalog", "matching", "reporting")
"""The services that consume membership's organisation events."""
ORGANISATION = {"name": "Organizzazione di prova", "kind": "other", "province": "FI",
                "municipality": "Firenze"}  # fmt: skip
PER_WORKER_RATE = 10.0
"""Writes per second asked of each hey worker: a worker waits for each answer, so it keeps its
pace only while writes take less than 1/PER_WORKER_RATE seconds."""
PROCESSES = ("membership", "catalog", "matching", "reporting")


def _utc(value: datetime) -> datetime:
    """SQLite gives back naive datetimes (written in UTC); PostgreSQL aware ones."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _reader(url: str) -> AsyncEngine:
    # A plain engine: its reads begin DEFERRED on SQLite and never take the services' lock.
    return create_async_engine(url)


async def _published(url: str, since: datetime, until: datetime) -> dict[str, datetime]:
    engine = _reader(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(outbox.c.event_id, outbox.c.created_at).where(
                    outbox.c.event_type == REGISTERED
                )
            )
            # Compared here, not in SQL: SQLite stores naive UTC, PostgreSQL aware values.
            stamped = {row.event_id: _utc(row.created_at) for row in rows}
            return {k: at for k, at in stamped.items() if since <= at <= until}
    finally:
        await engine.dispose()


async def _processed(url: str, consumer: str, ids: set[str]) -> dict[str, datetime]:
    engine = _reader(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(inbox.c.event_id, inbox.c.processed_at).where(
                    inbox.c.consumer == consumer, inbox.c.event_type == REGISTERED
                )
            )
            return {r.event_id: _utc(r.processed_at) for r in rows if r.event_id in ids}
    finally:
        await engine.dispose()


async def _lags(
    platform: BenchPlatform, created: dict[str, datetime], settle: float
) -> dict[str, list[float]]:
    """Per consumer, processed_at - created_at (ms), once it has caught up (or time is up)."""
    ids = set(created)
    deadline = time.monotonic() + settle
    lags: dict[str, list[float]] = {}
    for consumer in CONSUMERS:
        url = platform.database_urls[consumer]
        processed = await _processed(url, consumer, ids)
        while len(processed) < len(ids) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            processed = await _processed(url, consumer, ids)
        lags[consumer] = [
            (at - created[event_id]).total_seconds() * 1000 for event_id, at in processed.items()
        ]
    return lags


def commit_to_commit(platform: BenchPlatform, plan: Plan, sampler: PeakSampler) -> dict[str, Any]:
    """Organisations registered directly in membership at `event_rate`/s (real service code, a
    signed principal, no gateway); each registration's event then reaches three consumers."""
    workers = max(1, round(plan.event_rate / PER_WORKER_RATE))
    load = Load(
        platform.url("membership") + "/organisations",
        workers,
        plan.event_rate / workers,
        headers=(platform.principal_header(Role.REGION),),
        method="POST",
        body=json.dumps(ORGANISATION),
    )
    since = datetime.now(UTC)
    cpu_before = {name: cpu_seconds(platform.pids[name]) for name in PROCESSES}
    with sampler:
        writes = run_hey([load], plan.event_seconds)
        if writes.requests and writes.errors == writes.requests:  # the harness's own mistake
            raise RuntimeError(f"every write failed: {writes.figures()['statuses']}")
        created = asyncio.run(
            _published(platform.database_urls["membership"], since, datetime.now(UTC))
        )
        lags = asyncio.run(_lags(platform, created, plan.settle_seconds))
    cpu_ms = {
        name: round((cpu_seconds(platform.pids[name]) - cpu_before[name]) * 1000 / len(created), 2)
        for name in PROCESSES
        if created
    }
    return {
        "cpu_ms_per_event": cpu_ms,
        "target_rate": plan.event_rate,
        "writes": writes.figures(),
        "events": len(created),
        "consumers": {
            name: {
                "events": len(values),
                "p50_ms": round(percentile(values, 0.5), 1),
                "p99_ms": round(percentile(values, 0.99), 1),
                "max_ms": round(max(values, default=0.0), 1),
            }
            for name, values in lags.items()
        },
    }


def _firm_registered(n: int, now: datetime) -> contracts.FirmRegistered:
    profile = contracts.FirmProfile(
        firm_id=str(uuid.uuid4()), size_class="small", sme=True, province="PO",
        ateco_code="13.20", ateco_section="C", ateco_division="13",
    )  # fmt: skip
    return contracts.FirmRegistered(
        firm_id=profile.firm_id, name=f"Bench firm {n}", vat_number="00743110157",
        profile=profile, municipality="Prato", employees=20, turnover_eur=None,
        balance_sheet_eur=None, registered_by=contracts.Actor(role="system"), registered_at=now,
    )  # fmt: skip


async def _backlog(url: str, count: int) -> int:
    """`count` events in matching's outbox in one transaction (the relay then finds a backlog
    it drains at its own pace); returns the last sequence number before them."""
    from kernel.db import create_engine, create_sessionmaker
    from kernel.outbox import record_event

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            before = (await session.execute(select(func.max(outbox.c.seq)))).scalar() or 0
            now = datetime.now(UTC)
            for n in range(count):
                data = _firm_registered(n, now)
                await record_event(session, data, subject=data.firm_id, aggregate_version=1)
            await session.commit()
            return int(before)
    finally:
        await engine.dispose()


async def _drained(url: str, after: int, timeout: float) -> list[datetime]:
    """Until nothing is pending; the sent_at of the rows after `after`."""
    engine = _reader(url)
    deadline = time.monotonic() + timeout
    try:
        async with engine.connect() as connection:
            while True:
                pending = (
                    await connection.execute(
                        select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
                    )
                ).scalar()
                await connection.rollback()  # a fresh snapshot on the next read
                if not pending or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            rows = await connection.execute(
                select(outbox.c.sent_at).where(outbox.c.seq > after, outbox.c.sent_at.isnot(None))
            )
            return sorted(_utc(row.sent_at) for row in rows)
    finally:
        await engine.dispose()


def relay_rate(platform: BenchPlatform, plan: Plan) -> dict[str, Any]:
    url = platform.database_urls["matching"]
    started = time.perf_counter()
    after = asyncio.run(_backlog(url, plan.relay_events))
    inserted = time.perf_counter() - started
    sent = asyncio.run(_drained(url, after, plan.settle_seconds))
    span = (sent[-1] - sent[0]).total_seconds() if len(sent) > 1 else 0.0
    return {
        "events": plan.relay_events,
        "sent": len(sent),
        "insert_seconds": round(inserted, 2),
        "seconds": round(span, 2),
        "rate": round((len(sent) - 1) / span, 1) if span else 0.0,
    }
