"""HTTP routes of the initiatives register (mounted by the gateway at /api/v1/catalog).

Thin: parse, call the service, commit, shape the response. The fixed paths under
`/initiatives` (overlaps, calendar, export) are declared before `/initiatives/{id}`.
"""

import base64
import binascii
import json
import re
from datetime import date
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BeforeValidator
from sqlalchemy import select
from starlette.convertors import Convertor, register_url_convertor

from kernel.deps import PrincipalDep, SessionDep
from kernel.openapi import problems
from services.catalog import service as catalog
from services.catalog.api import (
    S3Q,
    AtecoQ,
    CentreId,
    ClockDep,
    Cursor,
    ErcQ,
    FordQ,
    IfMatch,
    KetQ,
    Limit,
    Province,
    decision_fields,
    not_modified,
    tag_filters,
)
from services.catalog.initiatives import calendar, linked_data, service
from services.catalog.initiatives.models import InitiativeOverlap
from services.catalog.initiatives.schemas import (
    ExportFormat,
    InitiativeIn,
    InitiativeKind,
    InitiativeOut,
    InitiativePatch,
    InitiativeRef,
    InitiativeStatus,
    InitiativeWritten,
    OverlapOut,
    OverlapResolutionIn,
    OverlapStatus,
    PossibleOverlap,
)
from services.catalog.models import Member
from services.catalog.schemas import Language, Page

router = APIRouter(tags=["initiatives"])

Id = Annotated[str, Path(max_length=36)]


def _iso_date(value: object) -> object:
    """A query's date as YYYY-MM-DD only (pydantic alone would take `0` as 1970-01-01)."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
DateFrom = Annotated[
    IsoDate | None,
    Query(alias="from", description="Events ending on or after this date (default: today)."),
]
DateTo = Annotated[IsoDate | None, Query(alias="to", description="Events starting by this date.")]


class EventKind(StrEnum):
    TRAINING = InitiativeKind.TRAINING.value
    DISSEMINATION_EVENT = InitiativeKind.DISSEMINATION_EVENT.value


EventKindQuery = Annotated[
    EventKind | None, Query(description="training or dissemination_event (the kinds of events).")
]


class _InitiativeIdConvertor(Convertor[str]):
    """An initiative's id in a path: any segment but the names of the routes beside it, so
    that `/initiatives/calendar` is not also `/initiatives/{initiative_id}` (whose PATCH the
    405 of another method would list)."""

    regex = r"(?!(?:calendar|calendar\.ics|overlaps|export)(?:/|$))[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("initiative_id", _InitiativeIdConvertor())
ONE = "/initiatives/{initiative_id:initiative_id}"
"""One initiative's path (the convertor keeps the routes beside it apart)."""
CALENDAR_MAX = 1000


# -- shaping --------------------------------------------------------------------------------


def initiative_out(record: service.Record) -> InitiativeOut:
    row = record.initiative
    return InitiativeOut.model_validate(
        {
            **{name: getattr(row, name) for name in service.COLUMNS},
            "id": row.id,
            "centre_id": row.centre_id,
            "joint": record.joint,
            "partner_centres": [
                {"centre_id": p.centre_id, "status": p.status, "confirmed_at": p.confirmed_at}
                for p in record.partners
            ],
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            "closed_at": row.closed_at,
            "version": row.version,
        }
    )


def written(record: service.Record) -> InitiativeWritten:
    return InitiativeWritten(
        **initiative_out(record).model_dump(),
        possible_overlaps=[
            PossibleOverlap(
                id=c.initiative.id,
                centre_id=c.initiative.centre_id,
                kind=InitiativeKind(c.initiative.kind),
                title=c.initiative.title,
                similarity=c.similarity,
                reason=c.reason,
                overlap_id=c.overlap_id,
            )
            for c in record.candidates
        ],
    )


def overlap_out(pair: InitiativeOverlap) -> OverlapOut:
    return OverlapOut(
        a=InitiativeRef(id=pair.a_id, centre_id=pair.a_centre_id, kind=InitiativeKind(pair.a_kind)),
        b=InitiativeRef(id=pair.b_id, centre_id=pair.b_centre_id, kind=InitiativeKind(pair.b_kind)),
        status=OverlapStatus(pair.status),
        **decision_fields(pair),
    )


def _base_url(request: Request) -> str:
    return str(request.app.state.settings.public_url).rstrip("/")


# -- overlaps -------------------------------------------------------------------------------


@router.get("/initiatives/overlaps", responses=problems(403))
async def list_overlaps(
    session: SessionDep,
    principal: PrincipalDep,
    status: OverlapStatus = OverlapStatus.OPEN,
    centre: Annotated[
        str | None, Query(max_length=36, description="Overlaps of this centre.")
    ] = None,
    limit: Limit = catalog.DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[OverlapOut]:
    """Overlapping initiatives of different centres, for the committee (Region and centres)."""
    rows, next_cursor = await service.list_overlaps(
        session, principal=principal, status=status, centre=centre, limit=limit, cursor=cursor
    )
    return Page[OverlapOut](items=[overlap_out(p) for p in rows], next_cursor=next_cursor)


@router.get("/initiatives/overlaps/{overlap_id}", responses=problems(403, 404))
async def get_overlap(overlap_id: Id, session: SessionDep, principal: PrincipalDep) -> OverlapOut:
    return overlap_out(
        await service.get_overlap(session, overlap_id=overlap_id, principal=principal)
    )


@router.post("/initiatives/overlaps/{overlap_id}/resolution", responses=problems(403, 404, 409))
async def resolve_overlap(
    overlap_id: Id,
    body: OverlapResolutionIn,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> OverlapOut:
    """Record the committee's decision (the Region): `distinct` or `to_coordinate`. A resolved
    overlap is never reported again."""
    pair = await service.resolve_overlap(
        session, overlap_id=overlap_id, resolution=body.resolution, principal=principal, now=clock()
    )
    await session.commit()
    return overlap_out(pair)


# -- calendar -------------------------------------------------------------------------------


async def calendar_filters(
    clock: ClockDep,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    province: Province = None,
    kind: EventKindQuery = None,
    centre: CentreId = None,
    ateco: AtecoQ = None,
    s3: S3Q = None,
    ket: KetQ = None,
    erc: ErcQ = None,
    ford: FordQ = None,
) -> service.Filters:
    """The filters of the calendar and of its iCalendar feed (upcoming events by default)."""
    return service.Filters(
        centre=centre,
        kind=kind.value if kind else None,
        province=province,
        starts_from=date_from or service.today(clock()),
        starts_to=date_to,
        tags=tag_filters(ateco=ateco, s3=s3, ket=ket, erc=erc, ford=ford),
    )


CalendarFilters = Annotated[service.Filters, Depends(calendar_filters)]


def _calendar_cursor(record: service.Record) -> str:
    row = record.initiative
    key = [row.start_date.isoformat() if row.start_date else "", row.start_time or "", row.id]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _after(cursor: str) -> tuple[str, str, str]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not (isinstance(key, list) and len(key) == 3 and all(isinstance(k, str) for k in key)):
            raise ValueError("bad cursor")
        return key[0], key[1], key[2]
    except (ValueError, binascii.Error) as exc:
        raise catalog.invalid_cursor() from exc


@router.get("/initiatives/calendar", responses=problems(422))
async def events_calendar(
    session: SessionDep,
    _: PrincipalDep,
    filters: CalendarFilters,
    limit: Limit = catalog.DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[InitiativeOut]:
    """The public calendar: upcoming training and dissemination events (not drafts, of active
    member centres) by date, filterable by province, tag, date and centre."""
    found = await service.public_events(session, filters=filters, limit=CALENDAR_MAX)
    if cursor:
        after = _after(cursor)
        found = [
            r
            for r in found
            if (
                r.initiative.start_date.isoformat() if r.initiative.start_date else "",
                r.initiative.start_time or "",
                r.initiative.id,
            )
            > after
        ]
    page = found[:limit]
    next_cursor = _calendar_cursor(page[-1]) if len(found) > limit else None
    return Page[InitiativeOut](items=[initiative_out(r) for r in page], next_cursor=next_cursor)


@router.get(
    "/initiatives/calendar.ics",
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {}}, "description": "An iCalendar feed (RFC 5545)."},
        **problems(422),
    },
)
async def events_calendar_ics(
    request: Request,
    session: SessionDep,
    _: PrincipalDep,
    filters: CalendarFilters,
    lang: Annotated[Language, Query(description="Language of the text.")] = Language.IT,
) -> Response:
    """The same calendar as an iCalendar feed to subscribe to (up to 1000 events)."""
    found = await service.public_events(session, filters=filters, limit=CALENDAR_MAX)
    body = calendar.ics([r.initiative for r in found], base_url=_base_url(request), lang=lang.value)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'inline; filename="clock-events.ics"'},
    )


# -- open data ------------------------------------------------------------------------------


@router.get(
    "/initiatives/export",
    response_class=Response,
    responses={
        200: {
            "content": {linked_data.MEDIA_TYPE: {}},
            "description": "The public initiatives as JSON-LD aligned with HER-AP_IT.",
        },
        **problems(422),
    },
)
async def export_initiatives(
    request: Request,
    session: SessionDep,
    _: PrincipalDep,
    format: Annotated[ExportFormat, Query(description="jsonld")] = ExportFormat.JSONLD,
) -> Response:
    """Every public initiative as linked data (JSON-LD) aligned with HER-AP_IT, the Italian
    profile for higher education, research and innovation."""
    found = await service.public_initiatives(session)
    ids = {r.initiative.centre_id for r in found} | {p.centre_id for r in found for p in r.partners}
    members = (
        await session.scalars(select(Member).where(Member.organisation_id.in_(list(ids))))
    ).all()
    names = {m.organisation_id: m.name for m in members if m.name}
    document = linked_data.document(found, base_url=_base_url(request), names=names)
    return Response(
        json.dumps(document, ensure_ascii=False, separators=(",", ":")),
        media_type=linked_data.MEDIA_TYPE,
    )


# -- initiatives ----------------------------------------------------------------------------


@router.post("/initiatives", status_code=201, responses=problems(403, 409))
async def create_initiative(
    body: InitiativeIn,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> InitiativeWritten:
    """Register an initiative your centre leads (staff of an active member centre). The answer
    lists `possible_overlaps`: similar initiatives of other centres in overlapping time."""
    record = await service.create_initiative(
        session, data=dict(body), principal=principal, now=clock()
    )
    await session.commit()
    response.headers["ETag"] = catalog.etag(record.initiative.version)
    response.headers["Location"] = f"initiatives/{record.initiative.id}"
    return written(record)


@router.get("/initiatives", responses=problems(422))
async def list_initiatives(
    session: SessionDep,
    principal: PrincipalDep,
    centre: Annotated[
        str | None, Query(max_length=36, description="Led by this centre or with it as partner.")
    ] = None,
    kind: InitiativeKind | None = None,
    status: InitiativeStatus | None = None,
    joint: Annotated[bool | None, Query(description="Joint actions (2+ centres) only.")] = None,
    province: Province = None,
    ateco: AtecoQ = None,
    s3: S3Q = None,
    ket: KetQ = None,
    erc: ErcQ = None,
    ford: FordQ = None,
    limit: Limit = catalog.DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[InitiativeOut]:
    """Initiatives you may see, oldest first: those not in draft of active members; your
    centre's own and those it is a partner of in any status; everything for the Region."""
    filters = service.Filters(
        centre=centre,
        kind=kind.value if kind else None,
        status=status.value if status else None,
        province=province,
        joint=joint,
        tags=tag_filters(ateco=ateco, s3=s3, ket=ket, erc=erc, ford=ford),
    )
    rows, next_cursor = await service.list_initiatives(
        session, principal=principal, filters=filters, limit=limit, cursor=cursor
    )
    return Page[InitiativeOut](items=[initiative_out(r) for r in rows], next_cursor=next_cursor)


@router.get(ONE, response_model=None, responses=problems(404))
async def get_initiative(
    initiative_id: Id,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
) -> InitiativeOut | Response:
    record = await service.get_initiative(session, initiative_id=initiative_id, principal=principal)
    etag = catalog.etag(record.initiative.version)
    if (cached := not_modified(request, etag)) is not None:
        return cached
    response.headers["ETag"] = etag
    return initiative_out(record)


@router.patch(ONE, responses=problems(403, 404, 409, 412, 428))
async def update_initiative(
    initiative_id: Id,
    body: InitiativePatch,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    if_match: IfMatch = None,
) -> InitiativeWritten:
    """Change some fields of an initiative your centre leads (needs If-Match). Status moves
    forward only: draft → planned → running → closed."""
    record = await service.update_initiative(
        session,
        initiative_id=initiative_id,
        changes=body.changes(),
        if_match=if_match,
        principal=principal,
        now=clock(),
    )
    await session.commit()
    response.headers["ETag"] = catalog.etag(record.initiative.version)
    return written(record)


@router.post(
    ONE + "/partners/{centre_id}/confirmation",
    responses=problems(403, 404, 409, 412),
)
async def confirm_participation(
    initiative_id: Id,
    centre_id: Id,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    if_match: IfMatch = None,
) -> InitiativeOut:
    """A partner centre confirms its own participation (until then it shows as proposed)."""
    record = await service.confirm_participation(
        session,
        initiative_id=initiative_id,
        centre_id=centre_id,
        if_match=if_match,
        principal=principal,
        now=clock(),
    )
    await session.commit()
    response.headers["ETag"] = catalog.etag(record.initiative.version)
    return initiative_out(record)
