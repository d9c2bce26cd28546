"""The rules of the initiatives register (who may do what: the package's docstring).

Plain async functions, as `services.catalog.service`: they check permissions, validate the
state after the change (so a PATCH is held to the rules of a POST), change rows, keep the
overlap pairs in step, record their events with `record_event` in the same session, and flush;
the caller commits. Errors are `kernel.errors` domain errors; a 422 lists each field in
`errors` (`field`, `in`, `message`, `type`).

Events of one write each get their own `aggregateversion` (a consumer that drops what is not
newer than what it saw would otherwise drop the second): the row's version is the last one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from uuid6 import uuid7

from kernel.contracts import catalog as contracts
from kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from kernel.events import EventData
from kernel.outbox import record_event
from kernel.principal import Principal, Role
from services.catalog import taxonomies
from services.catalog.entries import Actor, language_map, tags_of
from services.catalog.initiatives import documents, overlaps
from services.catalog.initiatives.models import (
    Initiative,
    InitiativeOverlap,
    InitiativePartner,
)
from services.catalog.initiatives.schemas import EVENT_KINDS, OverlapStatus
from services.catalog.models import Member
from services.catalog.service import (
    MAX_LIMIT,
    _active_centres,
    _flush,
    _page,
    check_if_match,
    decide_pair,
    encode_cursor,
    etag,
    require_writer,
)

ROME = ZoneInfo("Europe/Rome")
STATUS_ORDER = ("draft", "planned", "running", "closed")
EVENT_ONLY = (
    "start_time",
    "end_time",
    "venue",
    "province",
    "municipality",
    "registration_open",
    "registered_participants",
    "attending_participants",
)
COLUMNS = (
    "kind",
    "title",
    "description",
    "status",
    "partner_organisations",
    "funding_programme",
    "funding_call",
    "budget_eur",
    "public_funding_eur",
    "start_date",
    "end_date",
    *EVENT_ONLY,
    "tags",
    "links",
)


@dataclass
class Record:
    """An initiative with its partner centres, in their order."""

    initiative: Initiative
    partners: list[InitiativePartner] = field(default_factory=list)
    candidates: list[overlaps.Candidate] = field(default_factory=list)

    @property
    def joint(self) -> bool:
        return bool(self.partners)


# -- values ---------------------------------------------------------------------------------


def _money(value: Any) -> str | None:
    return None if value is None else f"{Decimal(value):.2f}"


def column_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """Columns from a request body (or its PATCH changes), as stored."""
    values: dict[str, Any] = {}
    for name in COLUMNS:
        if name not in data:
            continue
        value = data[name]
        if name in ("title", "description"):
            value = language_map(value)
        elif name == "tags":
            value = tags_of(value)
        elif name in ("budget_eur", "public_funding_eur"):
            value = _money(value)
        elif name in ("kind", "status", "funding_programme"):
            value = None if value is None else str(value)
        elif name == "partner_organisations":
            value = [
                {"name": o.name, "kind": str(o.kind), "country": o.country} for o in value or []
            ]
        elif name == "links":
            value = [{"url": str(link.url), "title": link.title} for link in value or []]
        values[name] = value
    return values


def _error(name: str, message: str, kind: str) -> dict[str, str]:
    return {"field": name, "in": "body", "message": message, "type": kind}


def _invalid(errors: list[dict[str, str]]) -> InvalidInput:
    return InvalidInput("; ".join(e["message"] for e in errors), errors=errors)


def check(state: dict[str, Any], *, today: date) -> None:
    """The rules across fields, on the state after the change (which it normalises: the
    event's place in ISTAT spelling, registration open by default)."""
    errors: list[dict[str, str]] = []
    kind, start, end = state["kind"], state["start_date"], state["end_date"]
    if start is not None and end is not None and end < start:
        errors.append(
            _error("end_date", f"end_date ({end}) is before start_date ({start})", "range")
        )
    if kind in EVENT_KINDS:
        if start is None:
            errors.append(_error("start_date", "an event needs its date (start_date)", "missing"))
        for name in ("province", "municipality"):
            if not state[name]:
                errors.append(_error(name, f"an event needs its place: {name}", "missing"))
        if state["province"] and state["municipality"]:
            try:
                place = taxonomies.check_location(state["province"], state["municipality"])
                state["province"], state["municipality"] = place.province, place.municipality
            except taxonomies.InvalidLocation as exc:
                errors.append(_error(exc.field, exc.message, "location"))
        if state["registration_open"] is None:
            state["registration_open"] = True
        begins, ends = state["start_time"], state["end_time"]
        if begins and ends and (end is None or end == start) and ends < begins:
            errors.append(
                _error("end_time", f"end_time ({ends}) is before start_time ({begins})", "range")
            )
        attending, registered = state["attending_participants"], state["registered_participants"]
        if attending is not None:
            closed = state["registration_open"] is False or state["status"] == "closed"
            if closed and registered is not None and attending > registered:
                errors.append(
                    _error(
                        "attending_participants",
                        f"attending_participants ({attending}) exceeds registered_participants "
                        f"({registered}) and registration is closed",
                        "range",
                    )
                )
            if start is not None and start > today:
                errors.append(
                    _error(
                        "attending_participants",
                        f"the event is on {start}: attendance is recorded once it has been held",
                        "too_early",
                    )
                )
    else:
        for name in EVENT_ONLY:
            if state[name] is not None:
                errors.append(
                    _error(name, f"only training and dissemination events have {name}", "kind")
                )
    budget, public = state["budget_eur"], state["public_funding_eur"]
    if budget is not None and public is not None and Decimal(public) > Decimal(budget):
        errors.append(
            _error(
                "public_funding_eur",
                f"public_funding_eur ({public}) exceeds budget_eur ({budget})",
                "range",
            )
        )
    if errors:
        raise _invalid(errors)


async def _partner_centres(
    session: AsyncSession, lead: str, centre_ids: Sequence[str], *, kind: str, known: set[str]
) -> list[str]:
    """The partner centres without repeats; 422 unless each is a member (an active one, when
    newly named: `known` were accepted before) and not the lead."""
    found: list[str] = []
    errors: list[dict[str, str]] = []
    for index, centre_id in enumerate(centre_ids):
        name = f"partner_centres.{index}"
        if centre_id == lead:
            errors.append(_error(name, "the lead centre is not a partner of its own", "lead"))
            continue
        if centre_id in found:
            continue
        if centre_id not in known:
            member = await session.get(Member, centre_id)
            if member is None or member.status != "active":
                what = "not known to the catalogue" if member is None else "not an active member"
                errors.append(
                    _error(
                        name,
                        f"partner centre {centre_id} is {what}: partner centres are member "
                        "centres of the platform (list others in partner_organisations)",
                        "membership",
                    )
                )
                continue
        found.append(centre_id)
    if kind == "joint_action" and not found and not errors:
        errors.append(
            _error(
                "partner_centres",
                "a joint action involves two or more member centres: name a partner centre",
                "joint_action",
            )
        )
    if errors:
        raise _invalid(errors)
    return found


# -- reading --------------------------------------------------------------------------------


def _involves(centre_id: str) -> Any:
    return or_(
        Initiative.centre_id == centre_id,
        exists().where(
            InitiativePartner.initiative_id == Initiative.id,
            InitiativePartner.centre_id == centre_id,
        ),
    )


def public_condition() -> Any:
    """SQL: initiatives anyone may read (not drafts, lead centre an active member)."""
    return and_(Initiative.status != "draft", Initiative.centre_id.in_(_active_centres()))


def visibility(principal: Principal) -> Any:
    if principal.role is Role.REGION:
        return Initiative.id.is_not(None)
    if principal.role is Role.CENTRE and principal.org_id:
        return or_(public_condition(), _involves(principal.org_id))
    return public_condition()


async def partners_of(
    session: AsyncSession, ids: Sequence[str]
) -> dict[str, list[InitiativePartner]]:
    found: dict[str, list[InitiativePartner]] = {i: [] for i in ids}
    if not ids:
        return found
    rows = await session.scalars(
        select(InitiativePartner)
        .where(InitiativePartner.initiative_id.in_(list(ids)))
        .order_by(InitiativePartner.initiative_id, InitiativePartner.position)
    )
    for row in rows:
        found[row.initiative_id].append(row)
    return found


async def records(session: AsyncSession, rows: Sequence[Initiative]) -> list[Record]:
    partners = await partners_of(session, [row.id for row in rows])
    return [Record(row, partners[row.id]) for row in rows]


async def _initiative(session: AsyncSession, initiative_id: str) -> Initiative:
    initiative = await session.get(Initiative, initiative_id)
    if initiative is None:
        raise NotFound(f"no initiative {initiative_id}")
    return initiative


async def get_initiative(
    session: AsyncSession, *, initiative_id: str, principal: Principal
) -> Record:
    found = await session.scalar(
        select(Initiative).where(Initiative.id == initiative_id, visibility(principal))
    )
    if found is None:
        raise NotFound(f"no initiative {initiative_id}")
    return (await records(session, [found]))[0]


@dataclass(frozen=True)
class Filters:
    centre: str | None = None
    """Initiatives this centre leads or takes part in."""
    kind: str | None = None
    status: str | None = None
    province: str | None = None
    joint: bool | None = None
    starts_from: date | None = None
    """Ending on or after this date (or without an end)."""
    starts_to: date | None = None
    """Starting on or before this date (or without a start)."""
    kinds: Sequence[str] = ()
    tags: Mapping[str, Sequence[str]] | None = None


def _filtered(statement: Any, filters: Filters) -> Any:
    if filters.centre:
        statement = statement.where(_involves(filters.centre))
    if filters.kind:
        statement = statement.where(Initiative.kind == filters.kind)
    if filters.kinds:
        statement = statement.where(Initiative.kind.in_(list(filters.kinds)))
    if filters.status:
        statement = statement.where(Initiative.status == filters.status)
    if filters.province:
        statement = statement.where(Initiative.province == filters.province.upper())
    if filters.joint is not None:
        partnered = exists().where(InitiativePartner.initiative_id == Initiative.id)
        statement = statement.where(partnered if filters.joint else ~partnered)
    if filters.starts_from:
        last_day = Initiative.end_date
        statement = statement.where(
            or_(
                last_day >= filters.starts_from,
                and_(
                    last_day.is_(None),
                    Initiative.kind.in_(list(EVENT_KINDS)),
                    Initiative.start_date >= filters.starts_from,
                ),
                and_(last_day.is_(None), Initiative.kind.not_in(list(EVENT_KINDS))),
            )
        )
    if filters.starts_to:
        statement = statement.where(
            or_(Initiative.start_date.is_(None), Initiative.start_date <= filters.starts_to)
        )
    return statement


def _has_tags(row: Initiative, wanted: Mapping[str, set[str]]) -> bool:
    for dimension, codes in wanted.items():
        if not taxonomies.closure(dimension, row.tags.get(dimension, [])) & codes:
            return False
    return True


async def list_initiatives(
    session: AsyncSession,
    *,
    principal: Principal,
    filters: Filters,
    limit: int,
    cursor: str | None,
) -> tuple[list[Record], str | None]:
    """Initiatives the principal may read, oldest first."""
    statement = _filtered(select(Initiative).where(visibility(principal)), filters)
    wanted = {d: set(codes) for d, codes in (filters.tags or {}).items() if codes}
    page = dict(created=Initiative.created_at, key=Initiative.id)
    if not wanted:
        rows, next_cursor = await _page(session, statement, **page, limit=limit, cursor=cursor)
        return await records(session, rows), next_cursor
    kept: list[Initiative] = []
    while True:  # tags are JSON: filtered here, reading pages until this one is full
        rows, after = await _page(session, statement, **page, limit=MAX_LIMIT, cursor=cursor)
        kept.extend(row for row in rows if _has_tags(row, wanted))
        if len(kept) > limit:
            last = kept[limit - 1]
            return await records(session, kept[:limit]), encode_cursor(last.created_at, last.id)
        if after is None:
            return await records(session, kept), None
        cursor = after


async def public_events(session: AsyncSession, *, filters: Filters, limit: int) -> list[Record]:
    """Training and dissemination events anyone may read, by date (the calendar)."""
    statement = _filtered(
        select(Initiative).where(public_condition(), Initiative.kind.in_(list(EVENT_KINDS))),
        filters,
    )
    wanted = {d: set(codes) for d, codes in (filters.tags or {}).items() if codes}
    rows = [r for r in (await session.scalars(statement)).all() if _has_tags(r, wanted)]
    rows.sort(key=lambda r: (r.start_date or date.min, r.start_time or "", r.id))
    return await records(session, rows[:limit])


async def public_initiatives(session: AsyncSession) -> list[Record]:
    """Every initiative anyone may read, oldest first (the open-data export)."""
    rows = (
        await session.scalars(
            select(Initiative)
            .where(public_condition())
            .order_by(Initiative.created_at, Initiative.id)
        )
    ).all()
    return await records(session, rows)


# -- events ---------------------------------------------------------------------------------


def state(record: Record, actor: Actor) -> dict[str, Any]:
    """The public state events carry."""
    row = record.initiative
    return {
        "initiative_id": row.id,
        "centre_id": row.centre_id,
        "kind": row.kind,
        "joint": record.joint,
        "title": contracts.Text(**row.title),
        "description": contracts.Text(**row.description),
        "partner_centres": [
            contracts.InitiativePartner(
                centre_id=p.centre_id,
                status=cast("contracts.PartnerStatus", p.status),
                confirmed_at=p.confirmed_at,
            )
            for p in record.partners
        ],
        "partner_organisations": [
            contracts.PartnerOrganisation(**o) for o in row.partner_organisations
        ],
        "funding_programme": row.funding_programme,
        "funding_call": row.funding_call,
        "budget_eur": row.budget_eur,
        "public_funding_eur": row.public_funding_eur,
        "start_date": row.start_date,
        "end_date": row.end_date,
        "start_time": row.start_time,
        "end_time": row.end_time,
        "venue": row.venue,
        "province": row.province,
        "municipality": row.municipality,
        "registration_open": row.registration_open,
        "registered_participants": row.registered_participants,
        "attending_participants": row.attending_participants,
        "tags": contracts.Tags(**row.tags),
        "status": row.status,
        "actor": actor.contract(),
    }


async def _record_events(session: AsyncSession, record: Record, events: list[EventData]) -> None:
    """Record `events` with consecutive versions; the row's version is the last one (it was
    incremented once for the write already)."""
    row = record.initiative
    if len(events) > 1:
        row.version += len(events) - 1
        await _flush(session)
    first = row.version - len(events) + 1
    for offset, data in enumerate(events):
        await record_event(session, data, subject=row.id, aggregate_version=first + offset)


def _overlap_state(pair: InitiativeOverlap) -> dict[str, Any]:
    def ref(initiative_id: str, centre_id: str, kind: str) -> contracts.InitiativeRef:
        return contracts.InitiativeRef(
            initiative_id=initiative_id,
            centre_id=centre_id,
            kind=cast("contracts.InitiativeKind", kind),
        )

    return {
        "overlap_id": pair.id,
        "a": ref(pair.a_id, pair.a_centre_id, pair.a_kind),
        "b": ref(pair.b_id, pair.b_centre_id, pair.b_kind),
        "similarity": pair.similarity,
        "reason": pair.reason,
    }


async def _overlaps(session: AsyncSession, record: Record, now: datetime) -> None:
    """Find the overlaps of a written initiative; store them unless it is a draft."""
    row = record.initiative
    candidates = await overlaps.find(session, row)
    if row.status == "draft":
        record.candidates = candidates
        return
    record.candidates, created = await overlaps.record(
        session, initiative=row, candidates=candidates, now=now
    )
    await _flush(session)
    for pair in created:
        await record_event(
            session,
            contracts.InitiativeOverlapFound(**_overlap_state(pair)),
            subject=pair.id,
            aggregate_version=pair.version,
        )


# -- writing --------------------------------------------------------------------------------


def today(now: datetime) -> date:
    return now.astimezone(ROME).date()


async def create_initiative(
    session: AsyncSession, *, data: Mapping[str, Any], principal: Principal, now: datetime
) -> Record:
    centre_id = await require_writer(session, principal)
    values = column_values(data)
    if values["status"] == "closed":
        message = "a new initiative is draft, planned or running (close it later)"
        raise _invalid([_error("status", message, "status")])
    check(values, today=today(now))
    partner_ids = await _partner_centres(
        session, centre_id, data.get("partner_centres") or [], kind=values["kind"], known=set()
    )
    return await add_initiative(
        session,
        centre_id=centre_id,
        values=values,
        partners={c: None for c in partner_ids},
        actor=Actor.of(principal),
        now=now,
    )


async def add_initiative(
    session: AsyncSession,
    *,
    centre_id: str,
    values: Mapping[str, Any],
    partners: Mapping[str, datetime | None],
    actor: Actor,
    now: datetime,
    initiative_id: str | None = None,
) -> Record:
    """Write an initiative whose values were checked, with its partner centres (confirmed at,
    or None: proposed), its events, overlaps and search document. The demo data comes in here
    too, with already confirmed partners and past events held and closed."""
    row = Initiative(
        id=initiative_id or str(uuid7()),
        centre_id=centre_id,
        signature={},
        created_at=now,
        updated_at=now,
        closed_at=now if values["status"] == "closed" else None,
        version=1,
        **values,
    )
    row.signature = overlaps.signature(row.title, row.description, row.tags)
    session.add(row)
    await _flush(session)
    rows = [
        InitiativePartner(
            initiative_id=row.id,
            centre_id=c,
            position=i,
            status="proposed" if confirmed_at is None else "confirmed",
            confirmed_at=confirmed_at,
        )
        for i, (c, confirmed_at) in enumerate(partners.items())
    ]
    session.add_all(rows)
    await _flush(session)
    record = Record(row, rows)
    if row.status != "draft":
        events: list[EventData] = [contracts.InitiativeCreated(**state(record, actor))]
        events.extend(
            contracts.InitiativeParticipationConfirmed(
                **state(record, actor), partner_centre_id=p.centre_id
            )
            for p in rows
            if p.status == "confirmed"
        )
        if row.attending_participants is not None:
            events.append(_held(record, actor))
        if row.status == "closed":
            events.append(contracts.InitiativeClosed(**state(record, actor)))
        await _record_events(session, record, events)
    await _overlaps(session, record, now)
    await documents.reindex(session, row)
    return record


def _held(record: Record, actor: Actor) -> contracts.InitiativeEventHeld:
    row = record.initiative
    return contracts.InitiativeEventHeld(
        **state(record, actor),
        registered=row.registered_participants,
        attending=cast("int", row.attending_participants),
    )


async def _writable(
    session: AsyncSession,
    initiative_id: str,
    principal: Principal,
    if_match: str | None,
    *,
    required: bool,
) -> Initiative:
    if principal.role is not Role.CENTRE:
        raise Forbidden("only the staff of a member centre may write the initiatives register")
    row = await _initiative(session, initiative_id)
    if row.centre_id != principal.org_id:
        raise Forbidden("this initiative is led by another centre: only its staff may change it")
    await require_writer(session, principal, row.centre_id)
    check_if_match(if_match, etag(row.version), "the initiative", required=required)
    return row


async def update_initiative(
    session: AsyncSession,
    *,
    initiative_id: str,
    changes: Mapping[str, Any],
    if_match: str | None,
    principal: Principal,
    now: datetime,
) -> Record:
    row = await _writable(session, initiative_id, principal, if_match, required=True)
    record = (await records(session, [row]))[0]
    values = column_values(changes)
    merged = {name: getattr(row, name) for name in COLUMNS} | values
    if "status" in values and values["status"] != row.status:
        old, new = STATUS_ORDER.index(row.status), STATUS_ORDER.index(values["status"])
        if new < old:
            allowed = list(STATUS_ORDER[old + 1 :])
            raise Conflict(
                f"an initiative's status only moves forward: {row.status} cannot become "
                f"{values['status']} (allowed: {', '.join(allowed) or 'none'})",
                current_status=row.status,
                allowed=allowed,
            )
    check(merged, today=today(now))
    current = [p.centre_id for p in record.partners]
    wanted = (
        await _partner_centres(
            session,
            row.centre_id,
            changes["partner_centres"],
            kind=merged["kind"],
            known=set(current),
        )
        if "partner_centres" in changes
        else await _partner_centres(
            session, row.centre_id, current, kind=merged["kind"], known=set(current)
        )
    )
    changed = sorted(k for k in COLUMNS if k in merged and getattr(row, k) != merged[k])
    partners_changed = wanted != current
    if partners_changed:
        changed = sorted({*changed, "partner_centres"})
    if not changed:
        await _overlaps(session, record, now)
        return record
    was_draft, was_closed = row.status == "draft", row.status == "closed"
    held_before = row.attending_participants
    for name in changed:
        if name != "partner_centres":
            setattr(row, name, merged[name])
    if partners_changed:
        record.partners = await _replace_partners(session, record, wanted)
    if {"title", "description", "tags"} & set(changed):
        row.signature = overlaps.signature(row.title, row.description, row.tags)
    row.updated_at = now
    row.version += 1
    if row.status == "closed" and not was_closed:
        row.closed_at = now
    await _flush(session)
    if row.status != "draft":
        actor = Actor.of(principal)
        events: list[EventData] = []
        if was_draft:
            events.append(contracts.InitiativeCreated(**state(record, actor)))
        elif set(changed) - {"status"} or row.status != "closed":
            events.append(contracts.InitiativeUpdated(**state(record, actor), changed=changed))
        if row.attending_participants is not None and (
            was_draft or row.attending_participants != held_before
        ):
            events.append(_held(record, actor))
        if row.status == "closed" and not was_closed:
            events.append(contracts.InitiativeClosed(**state(record, actor)))
        await _record_events(session, record, events)
    await _overlaps(session, record, now)
    await documents.reindex(session, row)
    return record


async def _replace_partners(
    session: AsyncSession, record: Record, wanted: list[str]
) -> list[InitiativePartner]:
    """Keep the partners still named (with their confirmation), add the new ones as proposed,
    drop the others."""
    kept = {p.centre_id: p for p in record.partners}
    for old in record.partners:
        if old.centre_id not in wanted:
            await session.delete(old)
    await _flush(session)
    result = []
    for position, centre_id in enumerate(wanted):
        partner = kept.get(centre_id)
        if partner is None:
            partner = InitiativePartner(
                initiative_id=record.initiative.id,
                centre_id=centre_id,
                position=position,
                status="proposed",
                confirmed_at=None,
            )
            session.add(partner)
        partner.position = position
        result.append(partner)
    return result


async def confirm_participation(
    session: AsyncSession,
    *,
    initiative_id: str,
    centre_id: str,
    if_match: str | None,
    principal: Principal,
    now: datetime,
) -> Record:
    """A partner centre confirms its own participation (If-Match optional)."""
    if principal.role is not Role.CENTRE or not principal.org_id:
        raise Forbidden("only a partner centre's own staff confirms its participation")
    row = await _initiative(session, initiative_id)
    record = (await records(session, [row]))[0]
    if centre_id != principal.org_id:
        raise Forbidden(
            f"centre {principal.org_id} may confirm its own participation only, not that of "
            f"centre {centre_id}"
        )
    partner = next((p for p in record.partners if p.centre_id == centre_id), None)
    if partner is None:
        raise NotFound(f"centre {centre_id} is not a partner of initiative {initiative_id}")
    await require_writer(session, principal)
    check_if_match(if_match, etag(row.version), "the initiative", required=False)
    if partner.status == "confirmed":
        raise Conflict(
            "this centre already confirmed its participation", current_status=partner.status
        )
    partner.status = "confirmed"
    partner.confirmed_at = now
    partner.confirmed_by_key_id = principal.key_id
    row.updated_at = now
    row.version += 1
    await _flush(session)
    if row.status != "draft":
        await _record_events(
            session,
            record,
            [
                contracts.InitiativeParticipationConfirmed(
                    **state(record, Actor.of(principal)), partner_centre_id=centre_id
                )
            ],
        )
    await documents.reindex(session, row)
    return record


# -- overlaps -------------------------------------------------------------------------------


def _require_committee(principal: Principal) -> None:
    if principal.role not in (Role.REGION, Role.CENTRE):
        raise Forbidden("overlapping initiatives are for the Region and the member centres")


async def list_overlaps(
    session: AsyncSession,
    *,
    principal: Principal,
    status: OverlapStatus,
    centre: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[InitiativeOverlap], str | None]:
    _require_committee(principal)
    statement = select(InitiativeOverlap).where(InitiativeOverlap.status == status.value)
    if centre:
        statement = statement.where(
            or_(InitiativeOverlap.a_centre_id == centre, InitiativeOverlap.b_centre_id == centre)
        )
    return await _page(
        session,
        statement,
        created=InitiativeOverlap.created_at,
        key=InitiativeOverlap.id,
        limit=limit,
        cursor=cursor,
    )


async def get_overlap(
    session: AsyncSession, *, overlap_id: str, principal: Principal
) -> InitiativeOverlap:
    _require_committee(principal)
    pair = await session.get(InitiativeOverlap, overlap_id)
    if pair is None:
        raise NotFound(f"no overlap {overlap_id}")
    return pair


async def resolve_overlap(
    session: AsyncSession,
    *,
    overlap_id: str,
    resolution: OverlapStatus,
    principal: Principal,
    now: datetime,
) -> InitiativeOverlap:
    """The committee's decision, recorded by the Region: `distinct` or `to_coordinate`."""
    pair: InitiativeOverlap
    pair, actor = await decide_pair(
        session,
        model=InitiativeOverlap,
        pair_id=overlap_id,
        resolution=resolution.value,
        principal=principal,
        now=now,
        noun="overlap",
    )
    await record_event(
        session,
        contracts.InitiativeOverlapResolved(
            **_overlap_state(pair),
            resolution=cast("Any", resolution.value),
            actor=actor.contract(),
        ),
        subject=pair.id,
        aggregate_version=pair.version,
    )
    return pair
