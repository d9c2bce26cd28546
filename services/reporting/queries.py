"""KPI values per period bucket (and dimension key), read from the aggregates.

Calendar buckets (months, quarters, years) read the monthly sums, the distinct items and the
median values kept per calendar period: a count of rows, a few hundred sums, a median found
along an index. Custom ranges read the daily rows instead. Stocks add the level before the
first bucket. Everything is grouped in the database; only the results come back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.kpis import BY_NAME, Kpi, present
from services.reporting.models import (
    TOTAL,
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
    the month before `day` from the daily ones."""
    if not kpis:
        return {}
    levels: dict[tuple[str, str, str], int] = defaultdict(int)
    month_start = date(day.year, day.month, 1).toordinal()
    for table, condition in (
        (KpiMonthly, KpiMonthly.month < month_index(day)),
        (KpiDaily, and_(KpiDaily.day >= month_start, KpiDaily.day < day.toordinal())),
    ):
        rows = await session.execute(
            select(table.kpi, table.dimension, table.key, func.sum(table.value))
            .where(table.kpi.in_(kpis), table.dimension.in_(dims), condition)
            .group_by(table.kpi, table.dimension, table.key)
        )
        for k, d, key, value in rows:
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


async def _distinct(session: AsyncSession, scope: Scope) -> dict[Cell, int]:
    if not scope.kpis:
        return {}
    bucket, conditions = _period_rows(KpiItem, scope)
    bucket = bucket.label("bucket")
    # A calendar period holds each item once: counting rows is enough.
    counted = func.count() if scope.calendar else func.count(KpiItem.item.distinct())
    rows = await session.execute(
        select(KpiItem.kpi, KpiItem.dimension, KpiItem.key, bucket, counted)
        .where(*conditions)
        .group_by(KpiItem.kpi, KpiItem.dimension, KpiItem.key, bucket)
    )
    return {cell: int(n) for cell, n in _cells(scope, rows).items()}


async def _medians(session: AsyncSession, scope: Scope) -> dict[Cell, Decimal]:
    """Exact medians. For calendar periods the database counts each bucket's values, then
    reads only the middle one or two along the covering index (`LIMIT 2 OFFSET (n - 1) / 2`,
    one small subquery per bucket, sent together); a window function is several times slower
    and so is fetching every value. Custom ranges fetch the values and take the middle here."""
    if not scope.kpis:
        return {}
    if not scope.calendar:
        return await _medians_of_range(session, scope)
    _, conditions = _period_rows(KpiValue, scope)
    counted = await session.execute(
        select(KpiValue.kpi, KpiValue.dimension, KpiValue.key, KpiValue.period, func.count())
        .where(*conditions)
        .group_by(KpiValue.kpi, KpiValue.dimension, KpiValue.period, KpiValue.key)
    )
    buckets: list[tuple[str, str, str, str, int]] = [
        (k, d, key, period, int(n)) for k, d, key, period, n in counted
    ]
    found: dict[Cell, Decimal] = {}
    for start in range(0, len(buckets), 200):  # bounded statements (bound parameters)
        chunk = buckets[start : start + 200]
        middles = []
        for index, (k, d, key, period, n) in enumerate(chunk):
            middle = (
                select(literal(index).label("bucket"), KpiValue.value)
                .where(
                    KpiValue.kpi == k,
                    KpiValue.dimension == d,
                    KpiValue.grain == scope.grain,
                    KpiValue.period == period,
                    KpiValue.key == key,
                )
                .order_by(KpiValue.value)
                .limit(2 - n % 2)
                .offset((n - 1) // 2)
                .subquery()
            )
            middles.append(select(middle.c.bucket, middle.c.value))
        values: dict[int, list[int]] = defaultdict(list)
        for index, value in await session.execute(union_all(*middles)):
            values[index].append(value)
        labels = scope.labels()
        for index, (k, d, key, period, _) in enumerate(chunk):
            pair = values[index]
            found[(k, d, key, labels[period])] = sum(map(unscaled, pair), Decimal(0)) / len(pair)
    return found


async def _medians_of_range(session: AsyncSession, scope: Scope) -> dict[Cell, Decimal]:
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
    distinct = await _distinct(session, Scope(of["distinct"], dims, periods))
    medians = await _medians(session, Scope(of["median"], dims, periods))
    keys = await _keys(session, kpis, by, periods[-1].end.toordinal())

    items: list[dict[str, Any]] = []
    for name in kpis:
        kpi = BY_NAME[name]
        rows = [(TOTAL, TOTAL)] + [(d, key) for d in by for key in keys.get((name, d), [])]
        for dimension, key in rows:
            level = unscaled(levels.get((name, dimension, key), 0))
            for index, period in enumerate(periods):
                value = _value(kpi, (name, dimension, key, index), sums, distinct, medians)
                if kpi.aggregation == "stock":
                    level += value or Decimal(0)
                    value = level
                items.append(
                    {
                        "kpi": name,
                        "period": period.label,
                        "dimension": dimension or None,
                        "key": key or None,
                        "value": present(kpi, value),
                    }
                )
    return items
