"""HTTP routes of the reporting service (mounted by the gateway at /api/v1/reporting).

Thin: parse, check the role, call the service, shape the response. Roles: the Region reads
everything and issues reports; a centre reads the regional totals and its own breakdown
(`by=centre`, its key only); anyone else (anonymous, firm, partner) reads the headline figures
(totals) of issued, non-provisional reports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from kernel.deps import PrincipalDep, SessionDep
from kernel.errors import Forbidden, NotFound
from kernel.openapi import problems
from kernel.principal import Principal, Role
from services.reporting import exports, service
from services.reporting.kpis import CATALOGUE, DIMENSIONS, KPI_NAMES
from services.reporting.models import Report
from services.reporting.periods import parse_period

router = APIRouter()

READERS = (Role.REGION, Role.CENTRE)


def _one_of(names: Sequence[str]) -> str:
    return "(" + "|".join(names) + ")"


PERIOD = r"^[1-9]\d{3}(-(0[1-9]|1[0-2])|-Q[1-4])?$"
"""A year, a quarter or a month: `2026`, `2026-Q3`, `2026-09`."""
DAY_OR_PERIOD = r"^[1-9]\d{3}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?|-Q[1-4])?$"
# Documented, checked by the service (its 422 lists the valid names).
KPI_NAME = f"^{_one_of(KPI_NAMES)}$"
KPI_LIST = f"^({_one_of(KPI_NAMES)}(,{_one_of(KPI_NAMES)})*)?$"
"""Empty: every KPI."""
DIMENSION_NAME = f"^{_one_of(DIMENSIONS)}$"
DIMENSION_LIST = f"^({_one_of(DIMENSIONS)}(,{_one_of(DIMENSIONS)})*)?$"
"""Empty: the totals only."""


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str = Field(pattern=PERIOD, examples=["2026-Q3", "2026-09", "2026"])
    supersede: bool = False
    provisional: bool = False


def now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def require_reader(principal: Principal) -> None:
    if principal.role not in READERS:
        raise Forbidden("KPIs are for the Region and the member centres")


def restrict_dimensions(principal: Principal, by: list[str]) -> None:
    if principal.role is Role.CENTRE and any(d != "centre" for d in by):
        raise Forbidden("a centre reads the regional totals and its own breakdown (by=centre)")


def visible(principal: Principal, item: dict[str, Any]) -> bool:
    """Whether a KPI item (total or breakdown row) may be shown to the principal."""
    if item["dimension"] is None or principal.role is Role.REGION:
        return True
    return (
        principal.role is Role.CENTRE
        and item["dimension"] == "centre"
        and item["key"] == principal.org_id
    )


def report_summary(report: Report) -> dict[str, Any]:
    return {
        "id": report.id,
        "number": report.number,
        "version": report.version,
        "period": report.period,
        "generated_at": report.generated_at.isoformat().replace("+00:00", "Z"),
        "hash": report.hash,
        "provisional": report.provisional,
        "supersedes": report.supersedes,
        "last_event_id": report.last_event_id,
    }


def report_out(report: Report, principal: Principal) -> dict[str, Any]:
    content = report.content
    return report_summary(report) | {
        "previous_period": content.get("previous_period"),
        "centres": content.get("centres", {}),
        "kpis": [i for i in content["kpis"] if visible(principal, i)],
        "comparison": content["comparison"],
    }


async def readable_report(session: SessionDep, principal: Principal, report_id: str) -> Report:
    report = await service.get_report(session, report_id)
    if principal.role not in READERS and report.provisional:
        raise NotFound(f"no report {report_id}")
    return report


@router.get("/kpis/definitions")
async def definitions() -> dict[str, Any]:
    return {"items": [k.public() for k in CATALOGUE], "next_cursor": None}


@router.get("/kpis", responses=problems(403))
async def kpis(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    from_: Annotated[str | None, Query(alias="from", pattern=DAY_OR_PERIOD)] = None,
    to: Annotated[str | None, Query(pattern=DAY_OR_PERIOD)] = None,
    period: Annotated[Literal["month", "quarter", "year", "range"] | None, Query()] = None,
    by: Annotated[str | None, Query(json_schema_extra={"pattern": DIMENSION_LIST})] = None,
    kpi: Annotated[str | None, Query(json_schema_extra={"pattern": KPI_LIST})] = None,
) -> dict[str, Any]:
    require_reader(principal)
    granularity = service.check_granularity(period)
    dimensions = service.check_dimensions(by)
    names = service.check_kpis(kpi)
    periods = service.check_range(from_, to, granularity, now(request).date())
    restrict_dimensions(principal, dimensions)
    items = await service.kpi_items(session, periods, names, dimensions)
    return {"items": [i for i in items if visible(principal, i)], "next_cursor": None}


@router.get("/timeseries", responses=problems(403))
async def timeseries(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    kpi: Annotated[str, Query(json_schema_extra={"pattern": KPI_NAME})],
    from_: Annotated[str | None, Query(alias="from", pattern=DAY_OR_PERIOD)] = None,
    to: Annotated[str | None, Query(pattern=DAY_OR_PERIOD)] = None,
    granularity: Annotated[Literal["month", "quarter", "year"] | None, Query()] = None,
) -> dict[str, Any]:
    """One KPI's totals over time: `labels` and one series, as chart libraries take them."""
    require_reader(principal)
    names = service.check_kpis(kpi)
    if len(names) != 1:
        raise service.invalid("kpi", "exactly one KPI")
    step = service.check_granularity(granularity, "granularity", allow_range=False)
    periods = service.check_range(from_, to, step, now(request).date())
    items = await service.kpi_items(session, periods, names, ())
    definition = next(k for k in CATALOGUE if k.kpi == names[0])
    return {
        "kpi": definition.kpi,
        "title": definition.title,
        "unit": definition.unit,
        "granularity": step,
        "labels": [i["period"] for i in items],
        "series": [{"name": definition.title, "data": [i["value"] for i in items]}],
    }


@router.get("/breakdown", responses=problems(403))
async def breakdown(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    kpi: Annotated[str, Query(json_schema_extra={"pattern": KPI_NAME})],
    by: Annotated[str, Query(json_schema_extra={"pattern": DIMENSION_NAME})],
    period: Annotated[str | None, Query(pattern=PERIOD)] = None,
) -> dict[str, Any]:
    """One KPI in one period split by one dimension: `labels` (keys) and `values`, plus the
    total."""
    require_reader(principal)
    names = service.check_kpis(kpi)
    dimensions = service.check_dimensions(by)
    if len(names) != 1 or len(dimensions) != 1:
        raise service.invalid("by", "exactly one KPI and one dimension")
    restrict_dimensions(principal, dimensions)
    chosen = (
        service.check_period(period, "period") if period else parse_period(str(now(request).year))
    )
    items = await service.kpi_items(session, [chosen], names, dimensions)
    rows = [i for i in items if i["dimension"] is not None and visible(principal, i)]
    total = next(i["value"] for i in items if i["dimension"] is None)
    definition = next(k for k in CATALOGUE if k.kpi == names[0])
    return {
        "kpi": definition.kpi,
        "unit": definition.unit,
        "period": chosen.label,
        "dimension": dimensions[0],
        "labels": [i["key"] for i in rows],
        "values": [i["value"] for i in rows],
        "total": total,
    }


@router.post("/reports", responses=problems(403, 409))
async def create_report(
    body: ReportIn,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    if principal.role is not Role.REGION:
        raise Forbidden("only the Region issues reports")
    period = service.check_period(body.period)
    issued = await service.issue(
        session,
        period,
        supersede=body.supersede,
        provisional=body.provisional,
        now=now(request),
    )
    response.status_code = 201 if issued.created else 200
    response.headers["Location"] = f"/reports/{issued.report.id}"
    return report_out(issued.report, principal)


@router.get("/reports")
async def reports(
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    found = await service.list_reports(session)
    if principal.role not in READERS:
        found = [r for r in found if not r.provisional]
    if cursor is not None:
        if not cursor.isdigit():
            raise service.invalid("cursor", "pass the next_cursor of a previous page", "cursor")
        found = [r for r in found if r.number < int(cursor)]
    page = found[:limit]
    more = len(found) > limit
    return {
        "items": [report_summary(r) for r in page],
        "next_cursor": str(page[-1].number) if more and page else None,
    }


def _download(report: Report, extension: str, content: bytes, media_type: str) -> Response:
    name = f"clock-report-{report.period}-v{report.version}.{extension}"
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _names(report: Report) -> dict[str, str]:
    return dict(report.content.get("centres") or {})


def _export_items(report: Report, principal: Principal) -> list[dict[str, Any]]:
    return [i for i in report.content["kpis"] if visible(principal, i)]


@router.get("/reports/{report_id}.csv", responses=problems(404))
async def report_csv(report_id: str, session: SessionDep, principal: PrincipalDep) -> Response:
    report = await readable_report(session, principal, report_id)
    data = exports.csv_bytes(
        report_summary(report), _export_items(report, principal), _names(report)
    )
    return _download(report, "csv", data, "text/csv; charset=utf-8")


@router.get("/reports/{report_id}.xlsx", responses=problems(404))
async def report_xlsx(report_id: str, session: SessionDep, principal: PrincipalDep) -> Response:
    report = await readable_report(session, principal, report_id)
    data = exports.xlsx_bytes(
        report_summary(report),
        _export_items(report, principal),
        report.content["comparison"],
        _names(report),
    )
    return _download(report, "xlsx", data, exports.XLSX_TYPE)


@router.get("/reports/{report_id}.pdf", responses=problems(404))
async def report_pdf(report_id: str, session: SessionDep, principal: PrincipalDep) -> Response:
    report = await readable_report(session, principal, report_id)
    data = exports.pdf_bytes(
        report_summary(report),
        _export_items(report, principal),
        report.content["comparison"],
        _names(report),
    )
    return _download(report, "pdf", data, "application/pdf")


@router.get("/reports/{report_id}.json", responses=problems(404))
async def report_json_file(
    report_id: str, session: SessionDep, principal: PrincipalDep
) -> Response:
    report = await readable_report(session, principal, report_id)
    return _download(
        report,
        "json",
        service.canonical(report_out(report, principal)).encode(),
        "application/json",
    )


@router.get("/reports/{report_id}", responses=problems(404))
async def report(
    report_id: str, response: Response, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    found = await readable_report(session, principal, report_id)
    response.headers["ETag"] = f'"{found.hash}"'
    response.headers["Cache-Control"] = "private, max-age=3600, immutable"
    return report_out(found, principal)
