"""The KPI aggregates, kept up to date event by event.

Each logged event is turned into facts (`facts`), and the facts are added to the aggregates
in the same transaction as the event enters the log, with upserts that add to what is there:
so the aggregates never disagree with the log, whatever the order in which the streams'
events arrive, and a KPI query reads a few thousand summed rows, never the log itself.

Distinct items and median values are also counted per calendar period (`kpi_counts`): an item
counts when the insert of its row returns it, i.e. when its period did not hold it yet, so a
redelivered event or an item seen before is not counted twice.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from kernel.events import stream_of
from services.reporting.facts import Fact, LoggedEvent, facts_of_event, state_keys
from services.reporting.kpis import BY_NAME, CATALOGUE, DIMENSIONS
from services.reporting.models import (
    TOTAL,
    Base,
    FoldState,
    KpiCount,
    KpiDaily,
    KpiItem,
    KpiKey,
    KpiMonthly,
    KpiValue,
    StoredEvent,
)
from services.reporting.periods import GRANULARITIES, containing

SCALE = 1_000_000
"""Aggregates hold values in millionths (integers): sums are exact on every database."""


def scaled(value: Decimal) -> int:
    return int((value * SCALE).to_integral_value(rounding=ROUND_HALF_UP))


def unscaled(value: int) -> Decimal:
    return Decimal(value) / SCALE


def _keys_of(fact: Fact) -> list[tuple[str, str]]:
    """(dimension, key) pairs a fact counts under: the total, then each dimension key once."""
    pairs = [(TOTAL, TOTAL)]
    for dimension in DIMENSIONS:
        for key in dict.fromkeys(fact.dims.get(dimension, ())):
            pairs.append((dimension, str(key)[:100]))
    return pairs


GRAINS = ("day", "month", "quarter", "year")
BUCKET = ("kpi", "dimension", "grain", "period", "key")
"""The columns that place an item or value (and its count) in `kpi_items`, `kpi_values` and
`kpi_counts`."""


@functools.lru_cache(maxsize=4096)
def periods_of(day: int) -> tuple[tuple[str, str], ...]:
    """(grain, label) of the day and of the month, quarter and year that contain it."""
    when = date.fromordinal(day)
    calendar = [(grain, containing(when, grain).label) for grain in GRANULARITIES]
    return (("day", when.isoformat()), *calendar)


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


@dataclass
class Additions:
    """What a batch of facts adds to the aggregates."""

    daily: dict[tuple[str, str, str, int], list[int]] = field(default_factory=dict)
    monthly: dict[tuple[str, str, str, int], list[int]] = field(default_factory=dict)
    items: set[tuple[str, str, str, str, str, str]] = field(default_factory=set)
    values: list[tuple[str, str, str, str, str, int]] = field(default_factory=list)
    keys: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def add(self, facts: Iterable[Fact]) -> None:
        for fact in facts:
            when = fact.time.date()
            day = when.toordinal()
            pairs = _keys_of(fact)
            self._first_seen(fact.kpi, pairs[1:], day)  # pairs[0] is the total
            aggregation = BY_NAME[fact.kpi].aggregation
            if aggregation == "distinct":
                if fact.key is not None:
                    self._add_items(fact.kpi, pairs, day, fact.key[:100])
            elif aggregation == "median":
                self._add_values(fact.kpi, pairs, day, scaled(fact.value))
            else:
                self._add_sums(fact, pairs, day, month_index(when))

    def _first_seen(self, kpi: str, pairs: Sequence[tuple[str, str]], day: int) -> None:
        keys = self.keys
        for dimension, key in pairs:
            seen = keys.get((kpi, dimension, key))
            if seen is None or day < seen:
                keys[(kpi, dimension, key)] = day

    def _add_items(self, kpi: str, pairs: Sequence[tuple[str, str]], day: int, item: str) -> None:
        periods = periods_of(day)
        self.items.update(
            (kpi, d, grain, label, key, item) for d, key in pairs for grain, label in periods
        )

    def _add_values(self, kpi: str, pairs: Sequence[tuple[str, str]], day: int, value: int) -> None:
        periods = periods_of(day)
        self.values.extend(
            (kpi, d, grain, label, key, value) for d, key in pairs for grain, label in periods
        )

    def _add_sums(self, fact: Fact, pairs: Sequence[tuple[str, str]], day: int, month: int) -> None:
        value, denominator = scaled(fact.value), scaled(fact.denominator)
        for sums, at in ((self.daily, day), (self.monthly, month)):
            for dimension, key in pairs:
                found = sums.get(cell := (fact.kpi, dimension, key, at))
                if found is None:
                    sums[cell] = [value, denominator, 1]
                else:
                    found[0] += value
                    found[1] += denominator
                    found[2] += 1

    def statements(self, dialect: str) -> list[tuple[Executable, list[dict[str, Any]]]]:
        """The upserts that add these to the aggregates, with their rows."""
        upserts = _upserts(dialect)
        found: list[tuple[Executable, list[dict[str, Any]]]] = []
        for name, period, sums in (
            ("daily", "day", self.daily),
            ("monthly", "month", self.monthly),
        ):
            if sums:
                rows = [
                    {
                        "kpi": k,
                        "dimension": d,
                        "key": key,
                        period: at,
                        "value": v,
                        "denominator": n,
                        "facts": c,
                    }
                    for (k, d, key, at), (v, n, c) in sorted(sums.items())
                ]
                found.append((upserts[name], rows))
        days = sorted(row for row in self.items if row[2] == "day")
        if days:
            found.append((upserts["items"], _item_rows(days)))
        if self.values:
            rows = [dict(zip((*BUCKET, "value"), row, strict=True)) for row in self.values]
            found.append((upserts["values"], rows))
        if self.keys:
            rows = [
                {"kpi": k, "dimension": d, "key": key, "first_day": day}
                for (k, d, key), day in sorted(self.keys.items())
            ]
            found.append((upserts["keys"], rows))
        return found

    def calendar_item_rows(self) -> list[dict[str, Any]]:
        """The rows of `kpi_items` of calendar periods, inserted apart (`counted_items`): those
        new to their period are counted. The day grain is not counted (custom ranges count
        distinct items across days), so its rows are in `statements`, without the cost of
        returning rows."""
        return _item_rows(sorted(row for row in self.items if row[2] != "day"))

    def size_rows(self, new_items: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
        """What to add to `kpi_counts`: each value of a median KPI, and each item a calendar
        period did not hold yet (`new_items`: the buckets of the item rows inserted)."""
        sizes = Counter(row[:5] for row in self.values if row[2] != "day")
        sizes.update(map(tuple, new_items))
        return [
            dict(zip((*BUCKET, "size"), (*bucket, size), strict=True))
            for bucket, size in sorted(sizes.items())
        ]


def _item_rows(items: Iterable[tuple[str, ...]]) -> list[dict[str, Any]]:
    return [dict(zip((*BUCKET, "item"), row, strict=True)) for row in items]


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


@functools.cache
def _upserts(dialect: str) -> dict[str, Executable]:
    """Core statements (built once: cheaper than the ORM's bulk path), for `sqlite` or
    `postgresql`: they add to existing rows rather than replace them."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    daily, monthly, items, values, counts, keys, state = (
        _table(model)
        for model in (KpiDaily, KpiMonthly, KpiItem, KpiValue, KpiCount, KpiKey, FoldState)
    )

    def add_sums(table: Table, period: str) -> Executable:
        stmt = insert(table)
        return stmt.on_conflict_do_update(
            index_elements=["kpi", "dimension", period, "key"],
            set_={
                "value": table.c.value + stmt.excluded.value,
                "denominator": table.c.denominator + stmt.excluded.denominator,
                "facts": table.c.facts + stmt.excluded.facts,
            },
        )

    add_sizes = insert(counts)
    add_sizes = add_sizes.on_conflict_do_update(
        index_elements=list(BUCKET), set_={"size": counts.c.size + add_sizes.excluded.size}
    )
    add_keys = insert(keys)
    add_keys = add_keys.on_conflict_do_update(
        index_elements=["kpi", "dimension", "key"],
        set_={"first_day": add_keys.excluded.first_day},
        where=add_keys.excluded.first_day < keys.c.first_day,
    )
    set_state = insert(state)
    set_state = set_state.on_conflict_do_update(
        index_elements=["key"], set_={"value": set_state.excluded.value}
    )
    return {
        "daily": add_sums(daily, "day"),
        "monthly": add_sums(monthly, "month"),
        "items": insert(items).on_conflict_do_nothing(),
        # Returns only the rows inserted: the items new to their period.
        "counted_items": insert(items)
        .on_conflict_do_nothing()
        .returning(*(items.c[name] for name in BUCKET)),
        "values": insert(values),
        "sizes": add_sizes,
        "keys": add_keys,
        "state": set_state,
    }


@dataclass(frozen=True)
class Incoming:
    event: LoggedEvent
    source: str
    """The service whose stream it came from (`catalog`, ...)."""


async def project(session: AsyncSession, incoming: Sequence[Incoming]) -> None:
    """Add the facts of newly logged events (in the order given) to the aggregates."""
    wanted = {key: item.source for item in incoming for key in state_keys(item.event)}
    state: dict[str, Any] = {}
    if wanted:
        rows = await session.execute(
            select(FoldState.key, FoldState.value).where(FoldState.key.in_(list(wanted)))
        )
        state = {key: value for key, value in rows}
    before = dict(state)
    additions = Additions()
    for item in incoming:
        additions.add(facts_of_event(item.event, state))
    dialect = session.get_bind().dialect.name
    for stmt, params in additions.statements(dialect):
        await session.execute(stmt, params)
    new_items: Sequence[Any] = ()
    if items := additions.calendar_item_rows():
        new_items = (await session.execute(_upserts(dialect)["counted_items"], items)).all()
    sizes = additions.size_rows(new_items)
    if sizes:
        await session.execute(_upserts(dialect)["sizes"], sizes)
    await _save_state(session, dialect, before, state, wanted)


async def _save_state(
    session: AsyncSession,
    dialect: str,
    before: dict[str, Any],
    after: dict[str, Any],
    streams: dict[str, str],
) -> None:
    gone = [key for key in before if key not in after]
    if gone:
        await session.execute(delete(FoldState).where(FoldState.key.in_(gone)))
    changed = [
        {"key": key, "stream": streams.get(key, ""), "value": value}
        for key, value in after.items()
        if before.get(key) != value
    ]
    if changed:
        await session.execute(_upserts(dialect)["state"], changed)


def _stream_kpis(stream: str) -> list[str]:
    return [k.kpi for k in CATALOGUE if k.stream == stream]


async def reset_stream(session: AsyncSession, source: str) -> None:
    """Forget the events of a service's stream and everything derived from them (before a
    replay)."""
    kpis = _stream_kpis(source)
    await session.execute(delete(StoredEvent).where(StoredEvent.stream == stream_of(source)))
    await session.execute(delete(FoldState).where(FoldState.stream == source))
    for table in (KpiDaily, KpiMonthly, KpiItem, KpiValue, KpiCount, KpiKey):
        await session.execute(delete(table).where(table.kpi.in_(kpis)))


def backfill(
    connection: Connection,
    *,
    batch: int = 5000,
    counts: bool = True,
    kpis: Collection[str] | None = None,
) -> int:
    """Rebuild the aggregates from the log, in the order the events were received (used by
    the migration that introduced the aggregates, before `kpi_counts` existed: `counts=False`;
    synchronous). Returns the events read.

    With `kpis`, only those KPIs are rebuilt, from the events they count alone, with their
    state afresh: for KPIs added later whose events keep a state of their own (the
    migration that introduced the initiatives' KPIs); the other KPIs are left as they are."""
    tables: list[Any] = [KpiDaily, KpiMonthly, KpiItem, KpiValue, KpiKey]
    if counts:
        tables.append(KpiCount)
    for table in tables:
        statement = delete(table)
        connection.execute(statement if kpis is None else statement.where(table.kpi.in_(kpis)))
    if kpis is None:
        connection.execute(delete(FoldState))
    types = sorted({t for name in kpis or () for t in BY_NAME[name].events})
    state: dict[str, Any] = {}
    streams: dict[str, str] = {}
    additions = Additions()
    count = 0
    last = 0
    while True:
        query = (
            select(
                StoredEvent.seq,
                StoredEvent.id,
                StoredEvent.type,
                StoredEvent.time,
                StoredEvent.stream,
                StoredEvent.data,
            )
            .where(StoredEvent.seq > last)
            .order_by(StoredEvent.seq)
            .limit(batch)
        )
        rows = connection.execute(
            query if kpis is None else query.where(StoredEvent.type.in_(types))
        ).all()
        if not rows:
            break
        for seq, id_, type_, time, stream, data in rows:
            event = LoggedEvent(id_, type_, time, data)
            for key in state_keys(event):
                streams[key] = stream.removeprefix("CLOCK_").lower()
            facts = facts_of_event(event, state)
            additions.add(facts if kpis is None else [f for f in facts if f.kpi in kpis])
            last = seq
        count += len(rows)
    dialect = connection.dialect.name
    for stmt, values in additions.statements(dialect):
        connection.execute(stmt, values)
    new_items: Sequence[Any] = ()
    if items := additions.calendar_item_rows():
        new_items = connection.execute(_upserts(dialect)["counted_items"], items).all()
    sizes = additions.size_rows(new_items)
    if counts and sizes:
        connection.execute(_upserts(dialect)["sizes"], sizes)
    if state:
        connection.execute(
            _upserts(dialect)["state"],
            [{"key": k, "stream": streams.get(k, ""), "value": v} for k, v in state.items()],
        )
    return count
