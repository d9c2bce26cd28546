"""Access requests for shareable equipment: a time window, a purpose, the owning centre's answer.

No double booking: a request, and its approval, check the approved windows of the equipment
while holding a lock on the equipment's index row (`SELECT ... FOR UPDATE` on PostgreSQL; on
SQLite every write transaction holds the database's write lock from its start), so two
overlapping windows cannot both be approved, even by concurrent requests or replicas.
Cancelling an approved request frees its window.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from uuid6 import uuid7

from kernel.contracts import matching as contracts
from kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from kernel.outbox import record_event
from kernel.principal import Principal, Role
from services.matching.index import lab_tags
from services.matching.models import AccessRequest, CatalogEntry, Firm
from services.matching.paging import page
from services.matching.schemas import AccessIn, AccessStatus
from services.matching.service import (
    Actor,
    flush,
    invalid,
    may_see_firm,
    profile,
    require_org,
)


def hours(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() / 3600, 2)


async def _locked_equipment(session: AsyncSession, equipment_id: str) -> CatalogEntry:
    equipment = await session.scalar(
        select(CatalogEntry)
        .where(CatalogEntry.id == equipment_id, CatalogEntry.entity == "equipment")
        .with_for_update()
    )
    if equipment is None:
        raise NotFound(f"no equipment {equipment_id} in the catalogue")
    return equipment


async def _overlapping(
    session: AsyncSession, equipment_id: str, start: datetime, end: datetime, *, skip: str = ""
) -> AccessRequest | None:
    found: AccessRequest | None = await session.scalar(
        select(AccessRequest)
        .where(
            AccessRequest.equipment_id == equipment_id,
            AccessRequest.status == AccessStatus.APPROVED.value,
            AccessRequest.start < end,
            AccessRequest.end > start,
            AccessRequest.id != skip,
        )
        .order_by(AccessRequest.start)
        .limit(1)
    )
    return found


def _taken(other: AccessRequest) -> Conflict:
    return Conflict(
        f"the equipment is booked from {other.start.isoformat()} to {other.end.isoformat()}",
        errors=[{"field": "start", "in": "body", "message": "window taken", "type": "overlap"}],
        booked={"start": other.start.isoformat(), "end": other.end.isoformat()},
    )


async def _firm_profile(session: AsyncSession, firm_id: str | None) -> contracts.FirmProfile | None:
    if firm_id is None:
        return None
    firm = await session.get(Firm, firm_id)
    return profile(firm) if firm else None


async def _contract(session: AsyncSession, request: AccessRequest) -> dict[str, object]:
    return {
        "request_id": request.id,
        "equipment_id": request.equipment_id,
        "lab_id": request.lab_id,
        "centre_id": request.centre_id,
        "firm": await _firm_profile(session, request.firm_id),
        "requester": contracts.Actor(
            role=request.requester_role,
            org_id=request.requester_org_id,
            key_id=request.requester_key_id,
        ),
        "start": request.start,
        "end": request.end,
        "hours": hours(request.start, request.end),
        "requested_at": request.requested_at,
        "lab_tags": await lab_tags(session, [request.lab_id]),
    }


async def request_access(
    session: AsyncSession,
    *,
    equipment_id: str,
    data: AccessIn,
    principal: Principal,
    now: datetime,
) -> AccessRequest:
    if principal.role is Role.ANONYMOUS:
        raise Forbidden("sign in to request access to equipment")
    equipment = await _locked_equipment(session, equipment_id)
    if not equipment.visible:
        raise Conflict(f"equipment {equipment_id} is not in the public catalogue any more")
    if not equipment.shareable:
        raise Conflict(
            f"equipment {equipment_id} is not shareable: its lab does not book it to others"
        )
    firm_id = data.firm_id
    if principal.role is Role.FIRM:
        org = require_org(principal)
        if firm_id not in (None, org):
            raise Forbidden("a firm requests access for itself only")
        firm_id = org
    if firm_id is not None:
        firm = await session.get(Firm, firm_id)
        if firm is None:
            raise NotFound(f"no firm {firm_id}", errors=[_field("firm_id", "unknown firm")])
        if principal.role in (Role.PARTNER, Role.CENTRE) and not may_see_firm(principal, firm):
            # As for demands: on behalf of the firms it registered, not of any firm.
            raise Forbidden("a partner or centre requests access only for the firms it registered")
    if data.start < now:
        raise invalid("start", "the window starts in the past")
    other = await _overlapping(session, equipment_id, data.start, data.end)
    if other is not None:
        raise _taken(other)
    actor = Actor.of(principal)
    request = AccessRequest(
        id=str(uuid7()),
        equipment_id=equipment.id,
        lab_id=equipment.lab_id,
        centre_id=equipment.centre_id,
        firm_id=firm_id,
        start=data.start,
        end=data.end,
        purpose=data.purpose,
        status=AccessStatus.PENDING.value,
        requested_at=now,
        requester_role=actor.role,
        requester_org_id=actor.org_id,
        requester_key_id=actor.key_id,
        version=1,
    )
    session.add(request)
    await flush(session)
    await record_event(
        session,
        contracts.AccessRequested(**await _contract(session, request)),
        subject=request.id,
        aggregate_version=request.version,
    )
    return request


def _field(field: str, message: str) -> dict[str, str]:
    return {"field": field, "in": "body", "message": message, "type": "reference"}


def _may_see(principal: Principal, request: AccessRequest) -> bool:
    if principal.role is Role.REGION:
        return True
    org = principal.org_id
    if org is None:
        return False
    if principal.role is Role.CENTRE and request.centre_id == org:
        return True
    if principal.role is Role.FIRM and request.firm_id == org:
        return True
    return request.requester_role == principal.role.value and request.requester_org_id == org


async def get_request(
    session: AsyncSession, *, request_id: str, principal: Principal
) -> AccessRequest:
    request = await session.get(AccessRequest, request_id)
    if request is None:
        raise NotFound(f"no access request {request_id}")
    if not _may_see(principal, request):
        raise Forbidden("this access request is not yours to read")
    return request


async def list_requests(
    session: AsyncSession,
    *,
    principal: Principal,
    status: AccessStatus | None,
    equipment_id: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[AccessRequest], str | None]:
    statement = select(AccessRequest)
    if principal.role is not Role.REGION:
        org = require_org(principal)
        mine = (AccessRequest.requester_role == principal.role.value) & (
            AccessRequest.requester_org_id == org
        )
        if principal.role is Role.CENTRE:
            statement = statement.where(or_(AccessRequest.centre_id == org, mine))
        elif principal.role is Role.FIRM:
            statement = statement.where(or_(AccessRequest.firm_id == org, mine))
        else:
            statement = statement.where(mine)
    if status is not None:
        statement = statement.where(AccessRequest.status == status.value)
    if equipment_id is not None:
        statement = statement.where(AccessRequest.equipment_id == equipment_id)
    rows, next_cursor = await page(
        session,
        statement,
        created=AccessRequest.requested_at,
        key=AccessRequest.id,
        limit=limit,
        cursor=cursor,
        position=lambda row: (row[0].requested_at, row[0].id),
    )
    return [row[0] for row in rows], next_cursor


async def _owned_pending(
    session: AsyncSession, request_id: str, principal: Principal
) -> AccessRequest:
    request = await session.get(AccessRequest, request_id)
    if request is None:
        raise NotFound(f"no access request {request_id}")
    if principal.role is not Role.CENTRE or principal.org_id != request.centre_id:
        raise Forbidden("only the centre that owns the equipment answers an access request")
    if request.status != AccessStatus.PENDING.value:
        raise Conflict(f"this request is already {request.status}", current_status=request.status)
    return request


async def approve(
    session: AsyncSession,
    *,
    request_id: str,
    reason: str | None,
    principal: Principal,
    now: datetime,
) -> AccessRequest:
    request = await _owned_pending(session, request_id, principal)
    equipment = await _locked_equipment(session, request.equipment_id)
    if not equipment.visible or not equipment.shareable:
        raise Conflict("the equipment is no longer shareable in the catalogue")
    other = await _overlapping(session, request.equipment_id, request.start, request.end)
    if other is not None:
        raise _taken(other)
    actor = Actor.of(principal)
    request.status = AccessStatus.APPROVED.value
    request.reason = reason
    request.answered_at = now
    request.answered_by_role = actor.role
    request.answered_by_org_id = actor.org_id
    request.answered_by_key_id = actor.key_id
    request.version += 1
    await flush(session)
    await record_event(
        session,
        contracts.AccessApproved(
            **await _contract(session, request),
            answered_at=now,
            answered_by=actor.contract(),
            reason=reason,
        ),
        subject=request.id,
        aggregate_version=request.version,
    )
    return request


async def decline(
    session: AsyncSession, *, request_id: str, reason: str, principal: Principal, now: datetime
) -> AccessRequest:
    request = await _owned_pending(session, request_id, principal)
    actor = Actor.of(principal)
    request.status = AccessStatus.DECLINED.value
    request.reason = reason
    request.answered_at = now
    request.answered_by_role = actor.role
    request.answered_by_org_id = actor.org_id
    request.answered_by_key_id = actor.key_id
    request.version += 1
    await flush(session)
    await record_event(
        session,
        contracts.AccessDeclined(
            **await _contract(session, request),
            answered_at=now,
            answered_by=actor.contract(),
            reason=reason,
        ),
        subject=request.id,
        aggregate_version=request.version,
    )
    return request


async def cancel(
    session: AsyncSession,
    *,
    request_id: str,
    reason: str | None,
    principal: Principal,
    now: datetime,
) -> AccessRequest:
    request = await get_request(session, request_id=request_id, principal=principal)
    if request.status not in (AccessStatus.PENDING.value, AccessStatus.APPROVED.value):
        raise Conflict(f"this request is already {request.status}", current_status=request.status)
    await _locked_equipment(session, request.equipment_id)
    previous = request.status
    actor = Actor.of(principal)
    request.status = AccessStatus.CANCELLED.value
    request.reason = reason
    request.cancelled_at = now
    request.version += 1
    await flush(session)
    await record_event(
        session,
        contracts.AccessCancelled(
            **await _contract(session, request),
            previous_status=previous,
            cancelled_at=now,
            cancelled_by=actor.contract(),
            reason=reason,
        ),
        subject=request.id,
        aggregate_version=request.version,
    )
    return request


__all__ = ["InvalidInput", "approve", "cancel", "decline", "list_requests", "request_access"]
