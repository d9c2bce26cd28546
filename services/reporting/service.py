"""Reporting rules: KPI queries over the aggregates of the event log, and issuing immutable
periodic reports.

A report's content (period, KPIs with every breakdown, comparison with the previous period,
id of the last event included) is stored with the SHA-256 of its canonical JSON; it is read
back, never recomputed, so a late event cannot change it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.errors import Conflict, InvalidInput, NotFound
from services.reporting import kpis as catalogue
from services.reporting import queries
from services.reporting.kpis import BY_NAME, DIMENSIONS, KPI_NAMES
from services.reporting.models import FoldState, Report, StoredEvent
from services.reporting.periods import (
    GRANULARITIES,
    Kind,
    Period,
    buckets,
    parse_day,
    parse_period,
)


def invalid(field: str, message: str, kind: str = "value_error") -> InvalidInput:
    return InvalidInput(
        f"{field}: {message}",
        errors=[{"field": field, "in": "query", "message": message, "type": kind}],
    )


# -- parsing of query parameters --------------------------------------------------------------


def split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def check_kpis(value: str | None, field: str = "kpi") -> list[str]:
    names = split(value)
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise invalid(
            field,
            f"unknown KPI {', '.join(unknown)}; valid: {', '.join(KPI_NAMES)}",
            "unknown_kpi",
        )
    return names or list(KPI_NAMES)


def check_dimensions(value: str | None, field: str = "by") -> list[str]:
    names = split(value)
    unknown = [n for n in names if n not in DIMENSIONS]
    if unknown:
        raise invalid(
            field,
            f"unknown dimension {', '.join(unknown)}; valid: {', '.join(DIMENSIONS)}",
            "unknown_dimension",
        )
    return list(dict.fromkeys(names))


def check_granularity(
    value: str | None, field: str = "period", *, allow_range: bool = True
) -> Kind:
    for granularity in GRANULARITIES:
        if value == granularity:
            return granularity
    if value is None:
        return "month"
    if value == "range" and allow_range:
        return "range"
    valid = [*GRANULARITIES, "range"] if allow_range else list(GRANULARITIES)
    raise invalid(field, f"unknown period {value!r}; valid: {', '.join(valid)}")


def check_range(start: str | None, end: str | None, granularity: Kind, today: date) -> list[Period]:
    try:
        last = parse_day(end, end=True) if end else today
    except ValueError as exc:
        raise invalid("to", str(exc)) from exc
    try:
        first = parse_day(start) if start else date(last.year, 1, 1)
    except ValueError as exc:
        raise invalid("from", str(exc)) from exc
    if first > last:
        raise invalid("from", "from is after to", "range")
    found = buckets(first, last, granularity)
    if len(found) > 600:
        raise invalid("from", "too many periods in the range (at most 600)", "range")
    return found


def check_period(value: str, field: str = "period") -> Period:
    try:
        return parse_period(value)
    except ValueError as exc:
        raise InvalidInput(
            str(exc),
            errors=[{"field": field, "in": "body", "message": str(exc), "type": "period"}],
        ) from exc


# -- KPIs -------------------------------------------------------------------------------------


async def kpi_items(
    session: AsyncSession, periods: Sequence[Period], kpis: Sequence[str], by: Sequence[str]
) -> list[dict[str, Any]]:
    return await queries.kpi_items(session, periods, kpis, by)


async def last_event_before(session: AsyncSession, before: datetime) -> str | None:
    """The id of the last event of the log before an instant (in time order)."""
    found: str | None = await session.scalar(
        select(StoredEvent.id)
        .where(StoredEvent.time < before)
        .order_by(StoredEvent.time.desc(), StoredEvent.id.desc())
        .limit(1)
    )
    return found


async def centre_names(session: AsyncSession) -> dict[str, str]:
    """Names of the organisations (centres) by id, as of their latest membership event."""
    rows = await session.execute(
        select(FoldState.key, FoldState.value).where(FoldState.key.startswith("name:"))
    )
    return {key.removeprefix("name:"): str(value) for key, value in rows}


# -- reports ----------------------------------------------------------------------------------


def canonical(content: Any) -> str:
    """Sorted keys, no whitespace, decimals as strings."""

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return str(value)
        raise TypeError(f"not JSON: {type(value).__name__}")

    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=default
    )


def content_hash(content: Any) -> str:
    return hashlib.sha256(canonical(content).encode()).hexdigest()


def _decimal(value: int | str | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def comparison(
    current: Sequence[dict[str, Any]], previous: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Per KPI total: current, previous, absolute change and relative change in percent."""
    before = {i["kpi"]: i["value"] for i in previous if i["dimension"] is None}
    found = []
    for item in current:
        if item["dimension"] is not None:
            continue
        kpi = BY_NAME[item["kpi"]]
        now, then = _decimal(item["value"]), _decimal(before.get(item["kpi"]))
        change = now - then if now is not None and then is not None else None
        relative = None
        if change is not None and then:
            relative = catalogue.present(
                catalogue.Kpi("", "", "", "percent", "ratio"), change * 100 / abs(then)
            )
        found.append(
            {
                "kpi": kpi.kpi,
                "current": item["value"],
                "previous": before.get(item["kpi"]),
                "change": catalogue.present(kpi, change),
                "change_pct": relative,
            }
        )
    return found


@dataclass
class Issued:
    report: Report
    created: bool


async def report_content(session: AsyncSession, period: Period) -> dict[str, Any]:
    previous = period.previous()
    current = await queries.kpi_items(session, [period], KPI_NAMES, DIMENSIONS)
    before = await queries.kpi_items(session, [previous], KPI_NAMES, ())
    return {
        "period": period.label,
        "previous_period": previous.label,
        "kpis": current,
        "comparison": comparison(current, before),
        "last_event_id": await last_event_before(session, period.end_at),
        "centres": await centre_names(session),
    }


async def latest_of(session: AsyncSession, period: str) -> Report | None:
    report: Report | None = await session.scalar(
        select(Report).where(Report.period == period).order_by(Report.version.desc()).limit(1)
    )
    return report


async def issue(
    session: AsyncSession,
    period: Period,
    *,
    supersede: bool,
    provisional: bool,
    now: datetime,
) -> Issued:
    """The report of `period`: the existing one, or a new (version of it). Commits."""
    closed = period.end_at <= now
    if not closed and not provisional:
        raise Conflict(
            f"period {period.label} is not closed yet (it ends {period.end.isoformat()}); "
            "ask for a provisional report"
        )
    latest = await latest_of(session, period.label)
    if latest is not None and not supersede and not (latest.provisional and closed):
        return Issued(latest, False)
    content = await report_content(session, period)
    body = canonical(content)
    for _ in range(3):
        number = (await session.scalar(select(func.max(Report.number)))) or 0
        report = Report(
            id=str(uuid.uuid4()),
            number=number + 1,
            period=period.label,
            version=(latest.version + 1) if latest is not None else 1,
            supersedes=latest.id if latest is not None else None,
            provisional=not closed,
            generated_at=now,
            hash=hashlib.sha256(body.encode()).hexdigest(),
            last_event_id=content["last_event_id"],
            content=content,
            body=body,
        )
        session.add(report)
        try:
            await session.commit()
        except IntegrityError:  # another request issued one at the same time
            await session.rollback()
            latest = await latest_of(session, period.label)
            if latest is not None and not supersede:
                return Issued(latest, False)
            continue
        return Issued(report, True)
    raise Conflict("another report is being issued for this period; try again")


async def get_report(session: AsyncSession, report_id: str) -> Report:
    report = await session.get(Report, report_id)
    if report is None:
        raise NotFound(f"no report {report_id}")
    return report


async def list_reports(session: AsyncSession) -> list[Report]:
    rows = await session.scalars(select(Report).order_by(Report.number.desc()))
    return list(rows)
