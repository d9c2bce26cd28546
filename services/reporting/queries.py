"""KPI values per period bucket (and dimension key), read from the aggregates.

Calendar buckets (months, quarters, years) read the monthly sums, the counters of distinct
items and of median values kept per calendar period, and the middle values found along an
index: a few thousand rows in all. Custom ranges read the daily rows instead. Stocks add the
level before the first bucket. Everything is grouped in the database; only the results come
back.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, TextClause, and_, case, func, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.kpis import BY_NAME, Kpi, present
from services.reporting.models import (
    TOTAL,
    KpiCount,
    KpiDaily,
    KpiItem,
    KpiKey,
    KpiMonthly,
    KpiValue,
)
from services.reporting.periods import Period
from services.reporting.projection import month_index, unscaled

Cell = tuple[str, str, str, int]
"""(kpi, dimension, key, bucket index)."""


@dataclass(frozen=True)
class Scope:
    kpis: Sequence[str]
    dims: Sequence[str]
    periods: Sequence[Period]

    @property
    def calendar(self) -> bool:
        """Whole months, quarters or years (else a custom range, read by day)."""
        return all(p.granularity != "range" for p in self.periods)

    @property
    def grain(self) -> str:
        return self.periods[0].granularity if self.calendar else "day"

    def labels(self) -> dict[str, int]:
        return {p.label: i for i, p in enumerate(self.periods)}


def _bucket(column: Any, bounds: Sequence[Any]) -> ColumnElement[int]:
    """Index of the bucket a value falls in, given each bucket's (exclusive) upper bound."""
    return case(*((column < bound, i) for i, bound in enumerate(bounds)), else_=-1)


def _month_bounds(scope: Scope) -> tuple[int, int, list[int]]:
    periods = scope.periods
    ends = [month_index(p.end) for p in periods]
    return month_index(periods[0].start), ends[-1], ends


async def _sums(session: AsyncSession, scope: Scope) -> dict[Cell, tuple[int, int, int]]:
    if not scope.kpis:
        return {}
    table: Any = KpiMonthly if scope.calendar else KpiDaily
    at = table.month if scope.calendar else table.day
    if scope.calendar:
        first, end, ends = _month_bounds(scope)
    else:
        first = scope.periods[0].start.toordinal()
        ends = [p.end.toordinal() for p in scope.periods]
        end = ends[-1]
    bucket = _bucket(at, ends).label("bucket")
    rows = await session.execute(
        select(
            table.kpi,
            table.dimension,
            table.key,
            bucket,
            func.sum(table.value),
            func.sum(table.denominator),
            func.sum(table.facts),
        )
        .where(
            table.kpi.in_(scope.kpis),
            table.dimension.in_(scope.dims),
            at >= first,
            at < end,
        )
        .group_by(table.kpi, table.dimension, table.key, bucket)
    )
    return {(k, d, key, b): (int(v), int(n), int(c)) for k, d, key, b, v, n, c in rows}


async def _levels_before(
    session: AsyncSession, kpis: Sequence[str], dims: Sequence[str], day: date
) -> dict[tuple[str, str, str], int]:
    """Stock levels at the start of `day`: whole months from the monthly sums, the days of
    the month before `day` from the daily ones (one statement: a round trip less)."""
    if not kpis:
        return {}
    month_start = date(day.year, day.month, 1).toordinal()
    parts = [
        select(table.kpi, table.dimension, table.key, func.sum(table.value))
        .where(table.kpi.in_(kpis), table.dimension.in_(dims), condition)
        .group_by(table.kpi, table.dimension, table.key)
        for table, condition in (
            (KpiMonthly, KpiMonthly.month < month_index(day)),
            (KpiDaily, and_(KpiDaily.day >= month_start, KpiDaily.day < day.toordinal())),
        )
    ]
    levels: dict[tuple[str, str, str], int] = defaultdict(int)
    for k, d, key, value in await session.execute(union_all(*parts)):
        levels[(k, d, key)] += int(value)
    return levels


def _period_rows(table: Any, scope: Scope) -> tuple[Any, list[ColumnElement[bool]]]:
    """The bucket expression and the conditions of the item/value rows of a scope."""
    conditions = [
        table.kpi.in_(scope.kpis),
        table.dimension.in_(scope.dims),
        table.grain == scope.grain,
    ]
    if scope.calendar:
        conditions.append(table.period.in_(list(scope.labels())))
        return table.period, conditions
    periods = scope.periods
    conditions += [
        table.period >= periods[0].start.isoformat(),
        table.period < periods[-1].end.isoformat(),
    ]
    return _bucket(table.period, [p.end.isoformat() for p in periods]), conditions


def _cells(scope: Scope, rows: Any) -> dict[Cell, Any]:
    """Rows `(kpi, dimension, key, bucket, value)` by cell; a calendar bucket is a label."""
    labels = scope.labels()
    found: dict[Cell, Any] = {}
    for k, d, key, bucket, value in rows:
        index = labels[bucket] if scope.calendar else int(bucket)
        found[(k, d, key, index)] = value
    return found


async def _sizes(session: AsyncSession, scope: Scope) -> dict[Cell, int]:
    """How many items (distinct counts) or values (medians) each calendar bucket holds, from
    the counters kept with them."""
    if not scope.kpis:
        return {}
    _, conditions = _period_rows(KpiCount, scope)
    rows = await session.execute(
        select(
            KpiCount.kpi, KpiCount.dimension, KpiCount.key, KpiCount.period, KpiCount.size
        ).where(*conditions)
    )
    return {cell: int(n) for cell, n in _cells(scope, rows).items()}


async def _distinct_and_medians(
    session: AsyncSession, distinct: Scope, medians: Scope
) -> tuple[dict[Cell, int], dict[Cell, Decimal]]:
    """Distinct counts and exact medians. Custom ranges count the items of their days and
    take the middle of the values here. Calendar periods read both from one read of the
    counters: a distinct count is its counter; a median is found with it (`_middles`)."""
    if not distinct.calendar:
        counts = await _distinct_of_range(session, distinct)
        return counts, await _medians_of_range(session, medians)
    both = Scope([*distinct.kpis, *medians.kpis], distinct.dims, distinct.periods)
    sizes = await _sizes(session, both)
    wanted = set(medians.kpis)
    buckets = [(cell, n) for cell, n in sizes.items() if cell[0] in wanted]
    return sizes, await _medians_of_calendar(session, medians, buckets)


async def _distinct_of_range(session: AsyncSession, scope: Scope) -> dict[Cell, int]:
    if not scope.kpis:
        return {}
    bucket, conditions = _period_rows(KpiItem, scope)
    bucket = bucket.label("bucket")
    counted = func.count(KpiItem.item.distinct())
    rows = await session.execute(
        select(KpiItem.kpi, KpiItem.dimension, KpiItem.key, bucket, counted)
        .where(*conditions)
        .group_by(KpiItem.kpi, KpiItem.dimension, KpiItem.key, bucket)
    )
    return {cell: int(n) for cell, n in _cells(scope, rows).items()}


async def _medians_of_calendar(
    session: AsyncSession, scope: Scope, buckets: Sequence[tuple[Cell, int]]
) -> dict[Cell, Decimal]:
    """Given each bucket's number of values, the database reads only the middle one or two
    along the covering index (`LIMIT 2 OFFSET (n - 1) / 2`, one small subquery per bucket,
    sent together); a window function is several times slower and so is fetching every
    value."""
    found: dict[Cell, Decimal] = {}
    for start in range(0, len(buckets), MIDDLES):
        chunk = buckets[start : start + MIDDLES]
        params: dict[str, Any] = {"g": scope.grain}
        for index, ((k, d, key, bucket), n) in enumerate(chunk):
            period = scope.periods[bucket].label
            params |= {f"k{index}": k, f"d{index}": d, f"p{index}": period, f"y{index}": key}
            params |= {f"l{index}": 2 - n % 2, f"o{index}": (n - 1) // 2}
        values: dict[int, list[int]] = defaultdict(list)
        for index, value in await session.execute(_middles(len(chunk)), params):
            values[index].append(value)
        for index, (cell, _) in enumerate(chunk):
            found[cell] = sum(map(unscaled, values[index]), Decimal(0)) / len(values[index])
    return found


MIDDLES = 200
"""Buckets per median statement (bounded: 7 parameters each)."""


@functools.lru_cache(maxsize=MIDDLES)
def _middles(count: int) -> TextClause:
    """The middle values of `count` buckets, as `(index, value)` rows. Plain SQL, built once
    per size: building and compiling the same statement with SQLAlchemy's constructs on every
    query cost more than running it."""
    seek = (
        "SELECT {i} AS bucket, value FROM (SELECT value FROM kpi_values"
        " WHERE kpi = :k{i} AND dimension = :d{i} AND grain = :g AND period = :p{i}"
        ' AND "key" = :y{i} ORDER BY value LIMIT :l{i} OFFSET :o{i}) AS middle{i}'
    )
    return text(" UNION ALL ".join(seek.format(i=i) for i in range(count)))


async def _medians_of_range(session: AsyncSession, scope: Scope) -> dict[Cell, Decimal]:
    if not scope.kpis:
        return {}
    bucket, conditions = _period_rows(KpiValue, scope)
    rows = await session.execute(
        select(KpiValue.kpi, KpiValue.dimension, KpiValue.key, bucket.label("bucket"))
        .add_columns(KpiValue.value)
        .where(*conditions)
    )
    values: dict[tuple[str, str, str, Any], list[int]] = defaultdict(list)
    for k, d, key, b, value in rows:
        values[(k, d, key, b)].append(value)
    return _cells(
        scope, ((k, d, key, b, _median(found)) for (k, d, key, b), found in values.items())
    )


def _median(values: list[int]) -> Decimal:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return unscaled(ordered[middle])
    return (unscaled(ordered[middle - 1]) + unscaled(ordered[middle])) / 2


async def _keys(
    session: AsyncSession, kpis: Sequence[str], by: Sequence[str], before: int
) -> dict[tuple[str, str], list[str]]:
    if not by:
        return {}
    rows = await session.execute(
        select(KpiKey.kpi, KpiKey.dimension, KpiKey.key).where(
            KpiKey.kpi.in_(kpis), KpiKey.dimension.in_(by), KpiKey.first_day < before
        )
    )
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for k, d, key in rows:
        found[(k, d)].append(key)
    return {pair: sorted(keys) for pair, keys in found.items()}


def _value(
    kpi: Kpi,
    cell: Cell,
    sums: dict[Cell, tuple[int, int, int]],
    distinct: dict[Cell, int],
    medians: dict[Cell, Decimal],
) -> Decimal | None:
    aggregation = kpi.aggregation
    if aggregation == "distinct":
        return Decimal(distinct.get(cell, 0))
    if aggregation == "median":
        return medians.get(cell)
    value, denominator, facts = sums.get(cell, (0, 0, 0))
    if aggregation in ("count", "sum", "stock"):
        return unscaled(value)
    if aggregation == "mean":
        return unscaled(value) / facts if facts else None
    return unscaled(value) * 100 / unscaled(denominator) if denominator else None


async def kpi_items(
    session: AsyncSession,
    periods: Sequence[Period],
    kpis: Sequence[str],
    by: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Items `{"kpi", "period", "dimension", "key", "value"}`: the total of every KPI in every
    bucket (contiguous periods of one granularity, in order), then, for each dimension of `by`,
    every key seen for that KPI up to the last bucket, in every bucket (zero, or null for an
    undefined median/mean/ratio, when nothing happened)."""
    dims = [TOTAL, *by]
    of: dict[str, list[str]] = defaultdict(list)
    for name in kpis:
        aggregation = BY_NAME[name].aggregation
        of[aggregation if aggregation in ("distinct", "median") else "sums"].append(name)
        if aggregation == "stock":
            of["stock"].append(name)
    sums = await _sums(session, Scope(of["sums"], dims, periods))
    levels = await _levels_before(session, of["stock"], dims, periods[0].start)
    distinct, medians = await _distinct_and_medians(
        session, Scope(of["distinct"], dims, periods), Scope(of["median"], dims, periods)
    )
    keys = await _keys(session, kpis, by, periods[-1].end.toordinal())

    labels = [p.label for p in periods]  # once: a property, asked for thousands of items
    items: list[dict[str, Any]] = []
    for name in kpis:
        kpi = BY_NAME[name]
        stock = kpi.aggregation == "stock"
        rows = [(TOTAL, TOTAL)] + [(d, key) for d in by for key in keys.get((name, d), [])]
        for dimension, key in rows:
            level = unscaled(levels.get((name, dimension, key), 0))
            for index, label in enumerate(labels):
                value = _value(kpi, (name, dimension, key, index), sums, distinct, medians)
                if stock:
                    level += value or Decimal(0)
                    value = level
                items.append(
                    {
                        "kpi": name,
                        "period": label,
                        "dimension": dimension or None,
                        "key": key or None,
                        "value": present(kpi, value),
                    }
                )
    return items
