"""KPI values per period bucket (and dimension key), read from the aggregates.

One grouped query per kind of aggregation, bucketed in the database: sums and counts (stocks
add the level before the first bucket), distinct items, and the values of medians (the median
itself is taken here).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from services.reporting.kpis import BY_NAME, Kpi, present
from services.reporting.models import TOTAL, KpiDaily, KpiItem, KpiKey, KpiValue
from services.reporting.periods import Period
from services.reporting.projection import unscaled

Cell = tuple[str, str, str, int]
"""(kpi, dimension, key, bucket index)."""


def _bucket(day: Any, periods: Sequence[Period]) -> ColumnElement[int]:
    return case(*((day < p.end.toordinal(), i) for i, p in enumerate(periods)), else_=-1)


def _inside(table: Any, kpis: Sequence[str], dims: Sequence[str], periods: Sequence[Period]) -> Any:
    return and_(
        table.kpi.in_(kpis),
        table.dimension.in_(dims),
        table.day >= periods[0].start.toordinal(),
        table.day < periods[-1].end.toordinal(),
    )


async def _sums(
    session: AsyncSession, kpis: Sequence[str], dims: Sequence[str], periods: Sequence[Period]
) -> dict[Cell, tuple[int, int, int]]:
    if not kpis:
        return {}
    bucket = _bucket(KpiDaily.day, periods).label("bucket")
    rows = await session.execute(
        select(
            KpiDaily.kpi,
            KpiDaily.dimension,
            KpiDaily.key,
            bucket,
            func.sum(KpiDaily.value),
            func.sum(KpiDaily.denominator),
            func.sum(KpiDaily.facts),
        )
        .where(_inside(KpiDaily, kpis, dims, periods))
        .group_by(KpiDaily.kpi, KpiDaily.dimension, KpiDaily.key, bucket)
    )
    return {(k, d, key, b): (int(v), int(n), int(c)) for k, d, key, b, v, n, c in rows}


async def _levels_before(
    session: AsyncSession, kpis: Sequence[str], dims: Sequence[str], day: int
) -> dict[tuple[str, str, str], int]:
    if not kpis:
        return {}
    rows = await session.execute(
        select(KpiDaily.kpi, KpiDaily.dimension, KpiDaily.key, func.sum(KpiDaily.value))
        .where(KpiDaily.kpi.in_(kpis), KpiDaily.dimension.in_(dims), KpiDaily.day < day)
        .group_by(KpiDaily.kpi, KpiDaily.dimension, KpiDaily.key)
    )
    return {(k, d, key): int(v) for k, d, key, v in rows}


async def _distinct(
    session: AsyncSession, kpis: Sequence[str], dims: Sequence[str], periods: Sequence[Period]
) -> dict[Cell, int]:
    if not kpis:
        return {}
    bucket = _bucket(KpiItem.day, periods).label("bucket")
    rows = await session.execute(
        select(
            KpiItem.kpi, KpiItem.dimension, KpiItem.key, bucket, func.count(KpiItem.item.distinct())
        )
        .where(_inside(KpiItem, kpis, dims, periods))
        .group_by(KpiItem.kpi, KpiItem.dimension, KpiItem.key, bucket)
    )
    return {(k, d, key, b): int(n) for k, d, key, b, n in rows}


async def _medians(
    session: AsyncSession, kpis: Sequence[str], dims: Sequence[str], periods: Sequence[Period]
) -> dict[Cell, Decimal]:
    if not kpis:
        return {}
    bucket = _bucket(KpiValue.day, periods).label("bucket")
    rows = await session.execute(
        select(KpiValue.kpi, KpiValue.dimension, KpiValue.key, bucket, KpiValue.value).where(
            _inside(KpiValue, kpis, dims, periods)
        )
    )
    values: dict[Cell, list[int]] = defaultdict(list)
    for k, d, key, b, value in rows:
        values[(k, d, key, b)].append(value)
    return {cell: _median(found) for cell, found in values.items()}


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
    bucket (contiguous periods, in order), then, for each dimension of `by`, every key seen for
    that KPI up to the last bucket, in every bucket (zero, or null for an undefined
    median/mean/ratio, when nothing happened)."""
    dims = [TOTAL, *by]
    of: dict[str, list[str]] = defaultdict(list)
    for name in kpis:
        aggregation = BY_NAME[name].aggregation
        group = aggregation if aggregation in ("distinct", "median") else "sums"
        of[group].append(name)
        if aggregation == "stock":
            of["stock"].append(name)
    first, end = periods[0].start.toordinal(), periods[-1].end.toordinal()
    sums = await _sums(session, of["sums"], dims, periods)
    levels = await _levels_before(session, of["stock"], dims, first)
    distinct = await _distinct(session, of["distinct"], dims, periods)
    medians = await _medians(session, of["median"], dims, periods)
    keys = await _keys(session, kpis, by, end)

    items: list[dict[str, Any]] = []
    for name in kpis:
        kpi = BY_NAME[name]
        rows = [(TOTAL, TOTAL)] + [(d, key) for d in by for key in keys.get((name, d), [])]
        for dimension, key in rows:
            level = Decimal(0)
            if kpi.aggregation == "stock":
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
