"""The KPI aggregates, kept up to date event by event.

Each logged event is turned into facts (`facts`), and the facts are added to the aggregates
in the same transaction as the event enters the log, with upserts that add to what is there:
so the aggregates never disagree with the log, whatever the order in which the streams'
events arrive, and a KPI query reads a few thousand summed rows, never the log itself.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
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
            aggregation = BY_NAME[fact.kpi].aggregation
            when = fact.time.date()
            day, month = when.toordinal(), month_index(when)
            value, denominator = scaled(fact.value), scaled(fact.denominator)
            for dimension, key in _keys_of(fact):
                if dimension != TOTAL:
                    seen = self.keys.get((fact.kpi, dimension, key))
                    if seen is None or day < seen:
                        self.keys[(fact.kpi, dimension, key)] = day
                if aggregation == "distinct":
                    if fact.key is not None:
                        for grain, label in periods_of(day):
                            self.items.add((fact.kpi, dimension, grain, label, key, fact.key[:100]))
                elif aggregation == "median":
                    for grain, label in periods_of(day):
                        self.values.append((fact.kpi, dimension, grain, label, key, value))
                else:
                    for sums in (
                        self.daily.setdefault((fact.kpi, dimension, key, day), [0, 0, 0]),
                        self.monthly.setdefault((fact.kpi, dimension, key, month), [0, 0, 0]),
                    ):
                        sums[0] += value
                        sums[1] += denominator
                        sums[2] += 1

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
        columns = ("kpi", "dimension", "grain", "period", "key")
        if self.items:
            rows = [dict(zip((*columns, "item"), row, strict=True)) for row in sorted(self.items)]
            found.append((upserts["items"], rows))
        if self.values:
            rows = [dict(zip((*columns, "value"), row, strict=True)) for row in self.values]
            found.append((upserts["values"], rows))
        if self.keys:
            rows = [
                {"kpi": k, "dimension": d, "key": key, "first_day": day}
                for (k, d, key), day in sorted(self.keys.items())
            ]
            found.append((upserts["keys"], rows))
        return found


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


@functools.cache
def _upserts(dialect: str) -> dict[str, Executable]:
    """Core statements (built once: cheaper than the ORM's bulk path), for `sqlite` or
    `postgresql`: they add to existing rows rather than replace them."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    daily, monthly, items, values, keys, state = (
        _table(model) for model in (KpiDaily, KpiMonthly, KpiItem, KpiValue, KpiKey, FoldState)
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
        "values": insert(values),
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
    for table in (KpiDaily, KpiMonthly, KpiItem, KpiValue, KpiKey):
        await session.execute(delete(table).where(table.kpi.in_(kpis)))


def backfill(connection: Connection, *, batch: int = 5000) -> int:
    """Rebuild every aggregate from the log, in the order the events were received (used by
    the migration that introduced the aggregates; synchronous). Returns the events read."""
    for table in (KpiDaily, KpiMonthly, KpiItem, KpiValue, KpiKey, FoldState):
        connection.execute(delete(table))
    state: dict[str, Any] = {}
    streams: dict[str, str] = {}
    additions = Additions()
    count = 0
    last = 0
    while True:
        rows = connection.execute(
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
        ).all()
        if not rows:
            break
        for seq, id_, type_, time, stream, data in rows:
            event = LoggedEvent(id_, type_, time, data)
            for key in state_keys(event):
                streams[key] = stream.removeprefix("CLOCK_").lower()
            additions.add(facts_of_event(event, state))
            last = seq
        count += len(rows)
    for stmt, values in additions.statements(connection.dialect.name):
        connection.execute(stmt, values)
    if state:
        connection.execute(
            _upserts(connection.dialect.name)["state"],
            [{"key": k, "stream": streams.get(k, ""), "value": v} for k, v in state.items()],
        )
    return count
