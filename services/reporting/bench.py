"""Benchmark of the reporting service over a large synthetic event log (not a test).

`bench()` builds a database (SQLite in a temporary folder, or PostgreSQL when
`CLOCK_BENCH_POSTGRES_URL` is set) with the service's migrations, generates `events` synthetic
events (default 1,000,000; valid contracts of the three streams, spread over 2024-01-01 ..
2026-09-30, in time order: 20 centres, a growing catalogue, demands, rankings, introductions,
answers, engagements opened and closed, equipment access) and measures:

1. ingest: every event logged and projected into the KPI aggregates by the consumers' own
   code (`events.keep_all`), in transactions of `batch` events (as a replay does), then the
   rate of one event per transaction (as the live consumer does) on the full database; the
   baseline is logging alone (no aggregates) in the same process;
2. the time to issue the 2026-Q3 report (every KPI, every breakdown, the comparison);
3. KPI queries through the app's HTTP stack (signed principal, JSON): p50/p99 of three
   dashboard queries, against `GET /kpis/definitions` through the same stack as a baseline.

`clock reporting bench [--events N]` runs it; `make bench` includes it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel.contracts import matching as m
from kernel.db import create_engine
from kernel.events import CloudEvent
from kernel.migrations import upgrade
from kernel.principal import PRINCIPAL_HEADER, Principal, Role, sign
from services.reporting import service, synthetic
from services.reporting.app import MIGRATIONS, create_app
from services.reporting.events import keep_all
from services.reporting.models import StoredEvent
from services.reporting.periods import parse_period
from services.reporting.settings import ReportingSettings

SECRET = "bench-secret"
WARM_UP, SAMPLES = 10, 300
"""Requests per query: the first are not timed."""
START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2026, 10, 1, tzinfo=UTC)
PROVINCES = ("FI", "PO", "PI", "LU", "SI", "AR", "LI", "GR", "PT", "MS")
ATECO = ("13.10", "26.51", "62.10", "28.41", "10.51", "21.10", "71.12", "72.19", "25.62", "20.16")
S3 = tuple(f"s3-{i}" for i in range(1, 9))
KET = ("advanced_materials", "photonics", "micro_nanoelectronics", "ai", "biotech", "robotics")
SIZES = ("micro", "micro", "small", "small", "small", "medium", "large")
Build = Callable[[], CloudEvent[Any]]


@dataclass
class Lab:
    id: str
    centre: str
    province: str
    s3: list[str]
    ket: list[str]
    ateco: str

    def tags(self) -> m.LabTags:
        return m.LabTags(s3=self.s3, ket=self.ket)


@dataclass
class Generator:
    """Synthetic activity in time order (a heap of events scheduled for later)."""

    seed: int = 7
    rng: random.Random = field(init=False)
    heap: list[tuple[datetime, int, Build]] = field(default_factory=list)
    counter: Iterator[int] = field(default_factory=itertools.count)
    centres: list[str] = field(default_factory=list)
    labs: list[Lab] = field(default_factory=list)
    equipment: list[tuple[str, Lab, int]] = field(default_factory=list)
    firms: list[m.FirmProfile] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def at(self, when: datetime, build: Build) -> None:
        heapq.heappush(self.heap, (when, next(self.counter), build))

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def _when(self, day: datetime) -> datetime:
        return day + timedelta(seconds=self.rng.randrange(8 * 3600, 19 * 3600))

    def setup(self) -> None:
        for index in range(20):
            centre = f"00000000-0000-0000-0000-{index:012d}"
            self.centres.append(centre)
            province = PROVINCES[index % len(PROVINCES)]
            when = START + timedelta(hours=index)
            self.at(when, partial(synthetic.member, centre, when, province=province))
        for _ in range(2000):
            self._new_lab(START + timedelta(days=self.rng.randrange(0, 120)))
        for _ in range(20_000):
            self.firms.append(
                synthetic.firm(
                    self._id("f"),
                    self.rng.choice(SIZES),
                    self.rng.choice(PROVINCES),
                    self.rng.choice(ATECO),
                )
            )

    def _new_lab(self, day: datetime) -> None:
        rng = self.rng
        lab = Lab(
            self._id("l"),
            rng.choice(self.centres),
            rng.choice(PROVINCES),
            rng.sample(S3, 2),
            rng.sample(KET, 1),
            rng.choice(ATECO),
        )
        self.labs.append(lab)
        when = self._when(day)
        self.at(
            when,
            partial(
                synthetic.lab,
                lab.id,
                lab.centre,
                when,
                province=lab.province,
                s3=lab.s3,
                ket=lab.ket,
                ateco=lab.ateco,
            ),
        )

    def day(self, day: datetime) -> None:
        """Schedule one day of activity: catalogue, duplicates, applications, demands."""
        rng = self.rng
        if rng.random() < 0.5:
            self._new_lab(day)
        for _ in range(rng.randint(120, 180)):
            self._catalogue_entry(self._when(day))
        for _ in range(rng.randint(2, 5)):
            pair, when = self._id("p"), self._when(day)
            self.at(when, partial(synthetic.duplicate, pair, when))
            if rng.random() < 0.7:
                later = when + timedelta(days=rng.randint(1, 20))
                self.at(later, partial(synthetic.duplicate, pair, later, resolved=True))
        if rng.random() < 0.1:
            application, when = self._id("a"), self._when(day)
            decided = when + timedelta(days=rng.randint(5, 40))
            self.at(decided, partial(synthetic.application_decided, application, when, decided))
        for _ in range(rng.randint(180, 240)):
            self._demand(self._when(day))

    def _catalogue_entry(self, when: datetime) -> None:
        """A piece of equipment updated or withdrawn, or a new entry published."""
        rng = self.rng
        if self.equipment and rng.random() < 0.3:
            entry_id, lab, version = self.equipment.pop(rng.randrange(len(self.equipment)))
            withdraw = rng.random() < 0.1
            if not withdraw:
                self.equipment.append((entry_id, lab, version + 1))
            action = "withdrawn" if withdraw else "updated"
            self.at(when, self._equipment(entry_id, lab, when, version + 1, action))
            return
        lab = rng.choice(self.labs)
        kind = rng.choice(("equipment", "competence", "service"))
        entry_id = self._id(kind[0])
        tags = synthetic.tags(lab.s3, lab.ket, lab.ateco)
        if kind == "equipment":
            self.equipment.append((entry_id, lab, 1))
            self.at(when, self._equipment(entry_id, lab, when, 1, "published"))
            return
        publish = synthetic.competence if kind == "competence" else synthetic.service_offering
        self.at(
            when,
            partial(
                publish, entry_id, lab.id, lab.centre, when, entry_tags=tags, province=lab.province
            ),
        )

    def _equipment(
        self, entry_id: str, lab: Lab, when: datetime, version: int, action: str
    ) -> Build:
        return partial(
            synthetic.equipment,
            entry_id,
            lab.id,
            lab.centre,
            when,
            shareable=self.rng.random() < 0.6,
            action=action,
            version=version,
            entry_tags=synthetic.tags(lab.s3, lab.ket, lab.ateco),
            province=lab.province,
        )

    def _demand(self, when: datetime) -> None:
        """A demand, its ranking (85 %), and for most ranked ones introductions, answers,
        engagements and their closing, and equipment access."""
        rng = self.rng
        firm = rng.choice(self.firms)
        demand_id = self._id("d")
        centre = rng.choice(self.centres) if rng.random() < 0.3 else None
        self.at(
            when,
            partial(
                synthetic.demand,
                demand_id,
                firm,
                when,
                s3=rng.sample(S3, 1),
                assisting_centre=centre,
            ),
        )
        if rng.random() > 0.85:
            return
        lab = rng.choice(self.labs)
        proposed = when + timedelta(minutes=rng.randint(1, 30))
        self.at(
            proposed,
            partial(synthetic.matches, demand_id, firm, proposed, lab_id=lab.id, centre=lab.centre),
        )
        if rng.random() < 0.3:
            return
        for _ in range(rng.randint(1, 2)):
            self._introduction(demand_id, firm, proposed + timedelta(hours=rng.randint(1, 200)))

    def _introduction(self, demand_id: str, firm: m.FirmProfile, requested: datetime) -> None:
        rng = self.rng
        lab = rng.choice(self.labs)
        intro = self._id("i")
        about = partial(
            synthetic.introduction,
            intro,
            demand_id,
            firm,
            requested,
            centre=lab.centre,
            lab_id=lab.id,
            tags=lab.tags(),
        )
        self.at(requested, about)
        if rng.random() < 0.2:
            return
        answered = requested + timedelta(hours=rng.randint(2, 120))
        accepted = rng.random() < 0.6
        action = "accepted" if accepted else "declined"
        self.at(answered, partial(about, action=action, answered=answered))
        if not accepted:
            return
        engagement_id = self._id("g")
        kind = rng.choice(("joint_research", "service", "equipment_access"))
        opened = answered + timedelta(hours=1)
        engagement = partial(
            synthetic.engagement,
            engagement_id,
            demand_id,
            firm,
            opened,
            kind=kind,
            centres=(lab.centre,),
            lab_ids=[lab.id],
            tags=lab.tags(),
        )
        self.at(opened, engagement)
        if rng.random() < 0.8:
            closed = opened + timedelta(days=rng.randint(10, 120))
            closing = partial(
                engagement,
                closed=closed,
                value=f"{rng.randint(500, 80_000)}.{rng.randint(0, 99):02d}",
                satisfaction=rng.randint(1, 5),
                innovation=rng.choice(("product", "process", "none")),
            )
            self.at(closed, closing)
        if kind == "equipment_access":
            approved = opened + timedelta(days=2)
            access = partial(
                synthetic.access_approved,
                self._id("r"),
                approved,
                rng.choice((2.0, 4.0, 6.5, 8.0)),
                lab_id=lab.id,
                centre=lab.centre,
                profile=firm,
                tags=lab.tags(),
            )
            self.at(approved, access)

    def events(self, count: int) -> Iterator[CloudEvent[Any]]:
        """`count` events in time order (fewer if the period ends first)."""
        self.setup()
        day, produced = START, 0
        while produced < count and day < END:
            self.day(day)
            day += timedelta(days=1)
            while self.heap and self.heap[0][0] < day and produced < count:
                _, _, build = heapq.heappop(self.heap)
                yield build()
                produced += 1


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"p50": round(statistics.median(ordered) * 1000, 2), "p99": round(p99 * 1000, 2)}


async def _ingest(
    sessionmaker: async_sessionmaker[AsyncSession], events: Iterator[CloudEvent[Any]], batch: int
) -> tuple[int, float]:
    """Log and project in transactions of `batch` events; returns the events and the seconds
    spent in the transactions (not in generating the events)."""
    count, spent = 0, 0.0
    chunk: list[CloudEvent[Any]] = []
    for event in itertools.chain(events, [None]):
        if event is not None:
            chunk.append(event)
        if chunk and (len(chunk) == batch or event is None):
            started = time.perf_counter()
            async with sessionmaker() as session:
                count += await keep_all(session, chunk)
                await session.commit()
            spent += time.perf_counter() - started
            chunk = []
            if count // 100_000 != (count - batch) // 100_000 and batch > 1:
                print(f"... {count} events ingested in {spent:.0f} s", file=sys.stderr)
    return count, spent


async def _log_only(
    sessionmaker: async_sessionmaker[AsyncSession], events: list[CloudEvent[Any]]
) -> float:
    """Baseline: the same events logged without the projection, one per transaction."""
    started = time.perf_counter()
    for event in events:
        async with sessionmaker() as session:
            session.add(
                StoredEvent(
                    id=str(event.id),
                    stream="bench",
                    type=event.type,
                    source=event.source,
                    subject=event.subject,
                    time=event.time,
                    aggregate_version=1,
                    data=event.data.model_dump(mode="json"),
                    received_at=event.time,
                )
            )
            await session.commit()
    return time.perf_counter() - started


async def _run(database_url: str, events: int, batch: int, folder: Path) -> dict[str, Any]:
    upgrade(MIGRATIONS, database_url)
    engine = create_engine(database_url)
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    figures: dict[str, Any] = {"events_requested": events, "batch": batch}
    try:
        generator = Generator()
        stream = generator.events(events)
        tail_size = min(10_000, events // 10)
        bulk = itertools.islice(stream, events - tail_size)
        ingested, seconds = await _ingest(sessionmaker, bulk, batch)
        tail = list(stream)
        if not tail:
            raise RuntimeError(f"the synthetic period gave only {ingested} events")
        single, single_seconds = await _ingest(sessionmaker, iter(tail), 1)
        figures["ingest"] = {
            "events": ingested + single,
            "batched_seconds": round(seconds, 1),
            "batched_events_per_s": round(ingested / seconds),
            "one_per_transaction_events_per_s": round(single / single_seconds),
        }
        baseline_events = tail[: min(2000, len(tail))]
        copies = [e.model_copy(update={"id": uuid.uuid4()}) for e in baseline_events]
        base = await _log_only(sessionmaker, copies)
        figures["ingest"]["baseline_log_only_events_per_s"] = round(len(baseline_events) / base)
        figures["ingest"]["ratio_vs_log_only"] = round(
            (single / single_seconds) / (len(baseline_events) / base), 2
        )
        async with sessionmaker() as session:
            await session.execute(delete(StoredEvent).where(StoredEvent.stream == "bench"))
            await session.commit()
            rows = await session.scalar(select(func.count()).select_from(StoredEvent))
            figures["log_rows"] = rows

        now = datetime(2026, 11, 26, tzinfo=UTC)
        durations = []
        for _ in range(3):
            async with sessionmaker() as session:
                started = time.perf_counter()
                await service.issue(
                    session, parse_period("2026-Q3"), supersede=True, provisional=False, now=now
                )
                durations.append(time.perf_counter() - started)
        figures["quarterly_report_seconds"] = {
            "median": round(statistics.median(durations), 2),
            "runs": [round(d, 2) for d in durations],
        }
        figures["queries_ms"] = await _queries(database_url, folder, now)
    finally:
        await engine.dispose()
    return figures


async def _queries(database_url: str, folder: Path, now: datetime) -> dict[str, Any]:
    from clock_cli.nats_server import NatsServer

    # A real broker, as in production: the app's consumers idle on it while the queries run.
    server = NatsServer(folder / "nats", log_file=folder / "nats.log")
    server.start()
    try:
        return await _timed_queries(database_url, folder, now, server.url)
    finally:
        server.stop()


async def _timed_queries(
    database_url: str, folder: Path, now: datetime, nats_url: str
) -> dict[str, Any]:
    settings = ReportingSettings(
        database_url=database_url,
        nats_url=nats_url,
        principal_secret=SECRET,
        data_dir=folder,
        auto_issue="",
    )
    app = create_app(settings, clock=lambda: now)
    principal = Principal(role=Role.REGION, org_id=None, key_id="bench")
    queries = {
        "definitions (baseline)": "/kpis/definitions",
        "kpis, 12 months, totals": "/kpis?from=2025-10&to=2026-09&period=month",
        "kpis, 4 quarters, by centre": "/kpis?from=2025-10&to=2026-09&period=quarter&by=centre",
        "timeseries, 33 months": "/timeseries?kpi=engagement_value_eur&from=2024-01&to=2026-09",
    }
    found: dict[str, Any] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
            for name, url in queries.items():
                timings = []
                for round_ in range(WARM_UP + SAMPLES):
                    headers = {PRINCIPAL_HEADER: sign(principal, SECRET)}
                    started = time.perf_counter()
                    response = await client.get(url, headers=headers)
                    elapsed = time.perf_counter() - started
                    if response.status_code != 200:
                        raise RuntimeError(f"{url}: {response.status_code} {response.text}")
                    if round_ >= WARM_UP:
                        timings.append(elapsed)
                found[name] = _ms(timings)
    baseline = found["definitions (baseline)"]["p50"]
    for value in found.values():
        value["ratio_p50_vs_baseline"] = round(value["p50"] / baseline, 1) if baseline else None
    return found


def bench(events: int = 1_000_000, batch: int = 1000, output: Path | None = None) -> dict[str, Any]:
    """Run the benchmark; prints the figures and writes them as JSON to `output`."""
    postgres = os.environ.get("CLOCK_BENCH_POSTGRES_URL")
    with tempfile.TemporaryDirectory(prefix="clock-reporting-bench-") as tmp:
        folder = Path(tmp)
        database_url = postgres or f"sqlite+aiosqlite:///{folder / 'reporting.db'}"
        if postgres:
            _reset_postgres(postgres)
        figures = asyncio.run(_run(database_url, events, batch, folder))
    figures["database"] = "postgresql" if postgres else "sqlite"
    text = json.dumps(figures, indent=2)
    print(text)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n")
    return figures


def _reset_postgres(url: str) -> None:
    """An empty schema for the benchmark (it owns the database it is given)."""

    async def drop() -> None:
        from sqlalchemy import text

        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(drop())
