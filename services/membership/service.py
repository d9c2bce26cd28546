"""The rules of the membership service.

Plain async functions with keyword-only arguments. They check permissions (object-level too),
change rows, record their events in the same session with `record_event`, and flush; the caller
commits. They raise `kernel.errors` domain errors, never HTTP ones. `now` is always passed in,
so that time is injectable (tests move it past the protocol's term).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError
from uuid6 import uuid7

from kernel import italy
from kernel.contracts import membership as contracts
from kernel.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
)
from kernel.outbox import record_event
from kernel.principal import Principal, Role
from services.membership.models import (
    Application,
    Membership,
    MembershipTransition,
    Organisation,
    Protocol,
    ProtocolRenewal,
    Representative,
)
from services.membership.schemas import (
    Action,
    ApplicationIn,
    ApplicationStatus,
    DecisionIn,
    MemberRole,
    MemberStatus,
    OrganisationIn,
    RepresentativeIn,
)

try:
    ROME: tzinfo = ZoneInfo("Europe/Rome")
except ZoneInfoNotFoundError:  # no time-zone database here: Italian winter time all year
    ROME = timezone(timedelta(hours=1), "CET")
TERM_YEARS = 3
DEFAULT_LIMIT = 50
MAX_LIMIT = 200

# -- actors and permissions -----------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    role: str
    org_id: str | None = None
    key_id: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(principal.role.value, principal.org_id, principal.key_id)

    def contract(self) -> contracts.Actor:
        return contracts.Actor(role=self.role, org_id=self.org_id, key_id=self.key_id)


SYSTEM = Actor("system")


def require_region(principal: Principal, doing: str) -> None:
    if principal.role is not Role.REGION:
        raise Forbidden(f"only the Region may {doing}")


def is_own_centre(principal: Principal, organisation_id: str) -> bool:
    return principal.role is Role.CENTRE and principal.org_id == organisation_id


def require_region_or_own_centre(principal: Principal, organisation_id: str, doing: str) -> None:
    if principal.role is Role.REGION or is_own_centre(principal, organisation_id):
        return
    raise Forbidden(f"only the Region or the centre itself may {doing}")


# -- time -----------------------------------------------------------------------------------


def today(now: datetime) -> date:
    """The calendar day in Italy: terms are days of the Italian calendar."""
    return now.astimezone(ROME).date()


def start_of(day: date) -> datetime:
    """Midnight of `day` in Italy, in UTC."""
    return datetime.combine(day, time(0), ROME).astimezone(UTC)


def add_years(day: date, years: int) -> date:
    """Same day and month `years` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def term_end_for(signed_on: date) -> date:
    """Last day in force of a protocol signed (or renewed from) `signed_on`."""
    return add_years(signed_on, TERM_YEARS)


def in_force(term_end: date, now: datetime) -> bool:
    return today(now) <= term_end


# -- membership lifecycle -------------------------------------------------------------------

TRANSITIONS: Mapping[MemberStatus, Mapping[Action, MemberStatus]] = {
    MemberStatus.ACTIVE: {
        Action.SUSPENSION: MemberStatus.SUSPENDED,
        Action.WITHDRAWAL: MemberStatus.WITHDRAWN,
        Action.EXPIRY: MemberStatus.EXPIRED,
    },
    MemberStatus.SUSPENDED: {
        Action.REINSTATEMENT: MemberStatus.ACTIVE,
        Action.WITHDRAWAL: MemberStatus.WITHDRAWN,
        Action.EXPIRY: MemberStatus.EXPIRED,
    },
    MemberStatus.WITHDRAWN: {},
    MemberStatus.EXPIRED: {},
}
"""Membership statuses and the actions that leave them. Before `active` the lifecycle lives on
the application (under review → admitted | rejected; ineligible → rejected)."""

REQUESTABLE = (Action.SUSPENSION, Action.REINSTATEMENT, Action.WITHDRAWAL)
"""Actions a caller may request; expiry only happens when the protocol's term ends."""


def allowed_actions(status: MemberStatus | str, role: MemberRole | str) -> list[Action]:
    """Requestable actions from `status`. The Region's own membership only ends with the term."""
    if MemberRole(role) is MemberRole.REGION:
        return []
    return [a for a in REQUESTABLE if a in TRANSITIONS[MemberStatus(status)]]


def next_status(status: MemberStatus | str, action: Action, role: MemberRole | str) -> MemberStatus:
    """The status after `action`, or Conflict (409) listing the allowed actions."""
    current = MemberStatus(status)
    target = TRANSITIONS[current].get(action)
    allowed = allowed_actions(current, role)
    if action is not Action.EXPIRY and action not in allowed:
        target = None
    if target is None:
        if MemberRole(role) is MemberRole.REGION:
            detail = f"the Region's membership cannot be subject to {action.value}"
        else:
            choices = ", ".join(a.value for a in allowed) or "none"
            detail = (
                f"{action.value} is not allowed for a {current.value} member (allowed: {choices})"
            )
        raise Conflict(detail, current_status=current.value, allowed=[a.value for a in allowed])
    return target


DECISIONS: Mapping[ApplicationStatus, Mapping[str, ApplicationStatus]] = {
    ApplicationStatus.UNDER_REVIEW: {
        "admit": ApplicationStatus.ADMITTED,
        "reject": ApplicationStatus.REJECTED,
    },
    ApplicationStatus.INELIGIBLE: {"reject": ApplicationStatus.REJECTED},
    ApplicationStatus.ADMITTED: {},
    ApplicationStatus.REJECTED: {},
}


def decision_status(status: ApplicationStatus | str, decision: str) -> ApplicationStatus:
    current = ApplicationStatus(status)
    allowed = DECISIONS[current]
    if decision not in allowed:
        if current in (ApplicationStatus.ADMITTED, ApplicationStatus.REJECTED):
            detail = f"this application was already decided ({current.value})"
        else:
            detail = f"an {current.value} application can only be rejected"
        raise Conflict(detail, current_status=current.value, allowed=sorted(allowed))
    return allowed[decision]


# -- eligibility ----------------------------------------------------------------------------

CHECK_SEAT = "seat_in_tuscany"
CHECK_VAT = "valid_vat"
CHECK_NOT_MEMBER = "not_already_member"
CHECK_DECLARATIONS = "declarations"


@dataclass(frozen=True)
class Check:
    check: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "passed": self.passed, "detail": self.detail}


def _place(province: str, municipality: str) -> str:
    found = italy.gazetteer().province(province)
    if found is None or found.name == municipality:
        return f"{municipality} ({province})"
    return f"{municipality} (province of {found.name}, {province})"


def check_seat(province: str, municipality: str, units: Sequence[tuple[str, str]]) -> Check:
    seat = _place(province, municipality)
    if province in italy.TUSCAN_PROVINCES:
        return Check(CHECK_SEAT, True, f"The registered seat is in {seat}, in Tuscany.")
    for unit_province, unit_municipality in units:
        if unit_province in italy.TUSCAN_PROVINCES:
            unit = _place(unit_province, unit_municipality)
            return Check(
                CHECK_SEAT,
                True,
                f"The registered seat is in {seat}, outside Tuscany, but an operating unit is "
                f"in {unit}, in Tuscany.",
            )
    tuscan = ", ".join(sorted(italy.TUSCAN_PROVINCES))
    return Check(
        CHECK_SEAT,
        False,
        f"The registered seat is in {seat}, outside Tuscany, and no operating unit in a Tuscan "
        f"province ({tuscan}) was declared: only bodies operating in Tuscany may adhere.",
    )


def check_vat(vat_number: str | None) -> Check:
    if not vat_number:
        return Check(CHECK_VAT, False, "No partita IVA was given: one is required to adhere.")
    try:
        vat = italy.normalise_vat(vat_number)
    except italy.InvalidVatNumber as exc:
        return Check(CHECK_VAT, False, f"The partita IVA is not valid: {exc}.")
    return Check(
        CHECK_VAT, True, f"The partita IVA {vat} is well formed and its check digit is right."
    )


def check_not_member(
    vat_number: str | None, member_status: str | None, member_name: str | None = None
) -> Check:
    if not vat_number:
        return Check(
            CHECK_NOT_MEMBER,
            False,
            "Without a partita IVA it cannot be verified that the candidate is not already a "
            "member.",
        )
    if member_status is None:
        return Check(
            CHECK_NOT_MEMBER, True, f"No member of the platform has partita IVA {vat_number}."
        )
    status = MemberStatus(member_status)
    who = member_name or f"The organisation with partita IVA {vat_number}"
    if status in (MemberStatus.WITHDRAWN, MemberStatus.EXPIRED):
        return Check(
            CHECK_NOT_MEMBER,
            True,
            f"{who} was a member until its membership "
            f"{'was withdrawn' if status is MemberStatus.WITHDRAWN else 'expired'}; "
            "it may adhere again.",
        )
    return Check(CHECK_NOT_MEMBER, False, f"{who} is already a member ({status.value}).")


def check_declarations(
    *, operates_in_tuscany: bool, operates_in_technology_transfer: bool, offer: str
) -> Check:
    missing = []
    if not operates_in_tuscany:
        missing.append("that it operates in Tuscany")
    if not operates_in_technology_transfer:
        missing.append("that it operates in the technology-transfer chain")
    if not offer.strip():
        missing.append("what it offers to the platform")
    if missing:
        return Check(
            CHECK_DECLARATIONS,
            False,
            "The candidate did not declare " + " nor ".join(missing) + ".",
        )
    return Check(
        CHECK_DECLARATIONS,
        True,
        "The candidate declares that it operates in Tuscany and in the technology-transfer "
        "chain, and describes what it offers.",
    )


def eligibility_checks(
    *,
    province: str,
    municipality: str,
    operating_units: Sequence[tuple[str, str]],
    vat_number: str | None,
    member_status: str | None,
    member_name: str | None,
    operates_in_tuscany: bool,
    operates_in_technology_transfer: bool,
    offer: str,
) -> list[Check]:
    """The automatic checks of an application, each with a sentence a person can read."""
    return [
        check_seat(province, municipality, operating_units),
        check_vat(vat_number),
        check_not_member(vat_number, member_status, member_name),
        check_declarations(
            operates_in_tuscany=operates_in_tuscany,
            operates_in_technology_transfer=operates_in_technology_transfer,
            offer=offer,
        ),
    ]


# -- helpers: flush, ETags, cursors, locations ----------------------------------------------


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except StaleDataError as exc:
        raise Conflict("this record was changed meanwhile by another request; retry") from exc
    except IntegrityError as exc:
        raise Conflict("this change conflicts with data written meanwhile; retry") from exc


def etag(*versions: int) -> str:
    return '"' + ".".join(str(v) for v in versions) + '"'


def organisation_etag(organisation: Organisation, membership: Membership | None) -> str:
    """Covers the organisation and its membership summary (both are in the representation)."""
    return etag(organisation.version, membership.version if membership else 0)


def member_etag(membership: Membership, organisation: Organisation) -> str:
    return etag(membership.version, organisation.version)


def check_if_match(if_match: str | None, current: str, what: str) -> None:
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(
            f"updating {what} needs an If-Match header with the ETag you read (GET it first)"
        )
    tags = [tag.strip() for tag in if_match.split(",")]
    if "*" in tags or current in tags:  # strong comparison: a weak W/ tag never matches
        return
    raise PreconditionFailed(
        f"{what} changed since you read it: read it again and retry", etag=current
    )


def encode_cursor(created_at: datetime, key: str | int) -> str:
    raw = json.dumps([created_at.isoformat(), key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, key_type: type[str] | type[int] = str) -> tuple[datetime, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, key = json.loads(raw)
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None or type(key) is not key_type:
            raise ValueError("bad cursor")
        return moment, key
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidInput(
            "invalid cursor: pass the next_cursor of a previous page",
            errors=[
                {"field": "cursor", "in": "query", "message": "invalid cursor", "type": "cursor"}
            ],
        ) from exc


async def _page(
    session: AsyncSession,
    statement: Select,  # type: ignore[type-arg]
    *,
    created: Any,
    key: Any,
    limit: int,
    cursor: str | None,
    position: Callable[[Any], tuple[datetime, str | int]],
    key_type: type[str] | type[int] = str,
) -> tuple[list[Any], str | None]:
    """One page of `statement` in (created, key) order; `position(row)` gives a row's pair."""
    if cursor:
        after_created, after_key = decode_cursor(cursor, key_type)
        statement = statement.where(
            or_(created > after_created, and_(created == after_created, key > after_key))
        )
    rows = list((await session.execute(statement.order_by(created, key).limit(limit + 1))).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(*position(rows[-1]))
    return rows, next_cursor


def _check_location(province: str, municipality: str, *, prefix: str = "") -> italy.Municipality:
    try:
        return italy.check_location(province, municipality)
    except italy.InvalidLocation as exc:
        raise InvalidInput(
            exc.message,
            errors=[
                {
                    "field": prefix + exc.field,
                    "in": "body",
                    "message": exc.message,
                    "type": "location",
                }
            ],
        ) from exc


def _vat_taken(vat_number: str, owner: Organisation, *, field: str) -> Conflict:
    return Conflict(
        f"partita IVA {vat_number} is already registered to {owner.name}",
        errors=[
            {
                "field": field,
                "in": "body",
                "message": "already registered to another organisation",
                "type": "unique",
            }
        ],
    )


# -- organisations --------------------------------------------------------------------------


async def organisation_by_vat(session: AsyncSession, vat_number: str) -> Organisation | None:
    found: Organisation | None = await session.scalar(
        select(Organisation).where(Organisation.vat_number == vat_number)
    )
    return found


async def _organisation(session: AsyncSession, organisation_id: str) -> Organisation:
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound(f"no organisation {organisation_id}")
    return organisation


async def _membership(session: AsyncSession, organisation_id: str) -> Membership | None:
    return await session.get(Membership, organisation_id)


def _organisation_state(organisation: Organisation, actor: Actor) -> dict[str, Any]:
    province = italy.gazetteer().province(organisation.province)
    return {
        "organisation_id": organisation.id,
        "name": organisation.name,
        "acronym": organisation.acronym,
        "kind": organisation.kind,
        "legal_form": organisation.legal_form,
        "vat_number": organisation.vat_number,
        "province": organisation.province,
        "province_name": province.name if province else organisation.province,
        "region": province.region if province else "",
        "municipality": organisation.municipality,
        "address": organisation.address,
        "website": organisation.website,
        "actor": actor.contract(),
    }


async def create_organisation(
    session: AsyncSession,
    *,
    data: Mapping[str, Any],
    actor: Actor,
    now: datetime,
    organisation_id: str | None = None,
    prefix: str = "",
) -> Organisation:
    """Register an organisation (no permission check: callers decide who may)."""
    place = _check_location(data["province"], data["municipality"], prefix=prefix)
    vat_number = data.get("vat_number")
    if vat_number:
        owner = await organisation_by_vat(session, vat_number)
        if owner is not None:
            raise _vat_taken(vat_number, owner, field=prefix + "vat_number")
    organisation = Organisation(
        id=organisation_id or str(uuid7()),
        name=data["name"],
        acronym=data.get("acronym"),
        kind=str(data["kind"]),
        legal_form=data.get("legal_form"),
        vat_number=vat_number,
        province=place.province.code,
        municipality=place.name,
        address=data.get("address"),
        website=data.get("website"),
        email=data.get("email"),
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(organisation)
    await _flush(session)
    await record_event(
        session,
        contracts.OrganisationRegistered(**_organisation_state(organisation, actor)),
        subject=organisation.id,
        aggregate_version=organisation.version,
    )
    return organisation


async def register_organisation(
    session: AsyncSession, *, data: OrganisationIn, principal: Principal, now: datetime
) -> Organisation:
    require_region(principal, "register organisations directly (others apply to adhere)")
    return await create_organisation(
        session, data=data.model_dump(mode="json"), actor=Actor.of(principal), now=now
    )


async def get_organisation(
    session: AsyncSession, *, organisation_id: str
) -> tuple[Organisation, Membership | None]:
    organisation = await _organisation(session, organisation_id)
    return organisation, await _membership(session, organisation_id)


async def list_organisations(
    session: AsyncSession,
    *,
    limit: int,
    cursor: str | None,
    kind: str | None = None,
    province: str | None = None,
) -> tuple[list[tuple[Organisation, Membership | None]], str | None]:
    statement = select(Organisation, Membership).outerjoin(
        Membership, Membership.organisation_id == Organisation.id
    )
    if kind:
        statement = statement.where(Organisation.kind == kind)
    if province:
        statement = statement.where(Organisation.province == province.upper())
    rows, next_cursor = await _page(
        session,
        statement,
        created=Organisation.created_at,
        key=Organisation.id,
        limit=limit,
        cursor=cursor,
        position=lambda row: (row[0].created_at, row[0].id),
    )
    return [(row[0], row[1]) for row in rows], next_cursor


async def update_organisation(
    session: AsyncSession,
    *,
    organisation_id: str,
    changes: Mapping[str, Any],
    if_match: str | None,
    principal: Principal,
    now: datetime,
) -> tuple[Organisation, Membership | None]:
    organisation = await _organisation(session, organisation_id)
    require_region_or_own_centre(principal, organisation_id, "change this organisation")
    membership = await _membership(session, organisation_id)
    check_if_match(if_match, organisation_etag(organisation, membership), "the organisation")
    values = {k: (str(v) if k == "kind" and v is not None else v) for k, v in changes.items()}
    if "province" in values or "municipality" in values:
        place = _check_location(
            values.get("province", organisation.province),
            values.get("municipality", organisation.municipality),
        )
        values["province"] = place.province.code
        values["municipality"] = place.name
    vat_number = values.get("vat_number")
    if vat_number and vat_number != organisation.vat_number:
        owner = await organisation_by_vat(session, vat_number)
        if owner is not None and owner.id != organisation.id:
            raise _vat_taken(vat_number, owner, field="vat_number")
    changed = sorted(k for k, v in values.items() if getattr(organisation, k) != v)
    if not changed:
        return organisation, membership
    for name in changed:
        setattr(organisation, name, values[name])
    organisation.updated_at = now
    organisation.version += 1
    await _flush(session)
    await record_event(
        session,
        contracts.OrganisationUpdated(
            **_organisation_state(organisation, Actor.of(principal)), changed=changed
        ),
        subject=organisation.id,
        aggregate_version=organisation.version,
    )
    return organisation, membership


# -- protocol -------------------------------------------------------------------------------


async def current_protocol(session: AsyncSession) -> Protocol:
    protocol: Protocol | None = await session.scalar(
        select(Protocol).order_by(Protocol.created_at).limit(1)
    )
    if protocol is None:
        raise NotFound("no protocol recorded yet: the signatories are loaded at first start")
    return protocol


async def protocol_renewals(session: AsyncSession, protocol: Protocol) -> list[ProtocolRenewal]:
    result = await session.scalars(
        select(ProtocolRenewal)
        .where(ProtocolRenewal.protocol_id == protocol.id)
        .order_by(ProtocolRenewal.created_at, ProtocolRenewal.id)
    )
    return list(result)


async def establish_protocol(
    session: AsyncSession, *, protocol_id: str, signed_on: date, now: datetime
) -> Protocol:
    protocol = Protocol(
        id=protocol_id,
        signed_on=signed_on,
        term_end=term_end_for(signed_on),
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(protocol)
    await session.flush()  # the caller (seeding) handles a concurrent insert
    return protocol


async def renew_protocol(
    session: AsyncSession,
    *,
    renewed_on: date | None,
    note: str | None,
    principal: Principal,
    now: datetime,
) -> Protocol:
    """Extend the term by three years from its current end; memberships in force follow."""
    require_region(principal, "renew the protocol")
    protocol = await current_protocol(session)
    day = today(now)
    renewed_on = renewed_on or day
    if renewed_on > day or renewed_on < protocol.signed_on:
        message = f"must be between the signature ({protocol.signed_on}) and today ({day})"
        raise InvalidInput(
            f"renewed_on {message}",
            errors=[{"field": "renewed_on", "in": "body", "message": message, "type": "range"}],
        )
    if not in_force(protocol.term_end, now):
        raise Conflict(
            f"the protocol's term ended on {protocol.term_end} and memberships expired: "
            "a lapsed protocol cannot be renewed, a new one must be signed"
        )
    previous_term_end = protocol.term_end
    protocol.term_end = add_years(previous_term_end, TERM_YEARS)
    protocol.updated_at = now
    protocol.version += 1
    actor = Actor.of(principal)
    session.add(
        ProtocolRenewal(
            id=str(uuid7()),
            protocol_id=protocol.id,
            renewed_on=renewed_on,
            previous_term_end=previous_term_end,
            term_end=protocol.term_end,
            note=note,
            actor_role=actor.role,
            actor_org_id=actor.org_id,
            actor_key_id=actor.key_id,
            created_at=now,
        )
    )
    extended = list(
        await session.scalars(
            select(Membership)
            .where(Membership.status.in_([MemberStatus.ACTIVE, MemberStatus.SUSPENDED]))
            .order_by(Membership.created_at, Membership.organisation_id)
        )
    )
    for membership in extended:
        membership.term_end = protocol.term_end
        membership.updated_at = now
        membership.version += 1
    await _flush(session)
    renewals = await protocol_renewals(session, protocol)
    await record_event(
        session,
        contracts.ProtocolRenewed(
            protocol_id=protocol.id,
            signed_on=protocol.signed_on,
            renewed_on=renewed_on,
            previous_term_end=previous_term_end,
            term_end=protocol.term_end,
            renewals=len(renewals),
            extended_members=[m.organisation_id for m in extended],
            note=note,
            actor=actor.contract(),
        ),
        subject=protocol.id,
        aggregate_version=protocol.version,
    )
    return protocol


# -- members --------------------------------------------------------------------------------

MEMBER_EVENTS: Mapping[Action, type[contracts.MemberChange]] = {
    Action.SUSPENSION: contracts.MemberSuspended,
    Action.REINSTATEMENT: contracts.MemberReinstated,
    Action.WITHDRAWAL: contracts.MemberWithdrawn,
    Action.EXPIRY: contracts.MemberExpired,
}


def _member_state(
    organisation: Organisation,
    membership: Membership,
    *,
    previous: str | None,
    actor: Actor,
    reason: str,
) -> dict[str, Any]:
    return {
        "organisation_id": organisation.id,
        "name": organisation.name,
        "acronym": organisation.acronym,
        "kind": organisation.kind,
        "province": organisation.province,
        "municipality": organisation.municipality,
        "role": membership.role,
        "status": membership.status,
        "previous_status": previous,
        "term_end": membership.term_end,
        "since": membership.since,
        "actor": actor.contract(),
        "reason": reason,
    }


def _transition(
    membership: Membership,
    *,
    action: str,
    previous: str | None,
    reason: str,
    actor: Actor,
    now: datetime,
) -> MembershipTransition:
    return MembershipTransition(
        organisation_id=membership.organisation_id,
        action=action,
        from_status=previous,
        to_status=membership.status,
        reason=reason,
        actor_role=actor.role,
        actor_org_id=actor.org_id,
        actor_key_id=actor.key_id,
        at=now,
    )


async def admit_member(
    session: AsyncSession,
    *,
    organisation: Organisation,
    role: MemberRole,
    term_end: date,
    reason: str,
    actor: Actor,
    now: datetime,
    application_id: str | None = None,
    since: datetime | None = None,
) -> Membership:
    """Make an organisation an active member; re-admits a withdrawn or expired one.

    `since` (default `now`) is when membership began, e.g. the protocol's signature."""
    membership = await _membership(session, organisation.id)
    previous: str | None = None
    if membership is None:
        membership = Membership(
            organisation_id=organisation.id,
            role=role.value,
            status=MemberStatus.ACTIVE.value,
            term_end=term_end,
            since=since or now,
            application_id=application_id,
            created_at=now,
            updated_at=now,
            version=1,
        )
        session.add(membership)
    else:
        if membership.status in (MemberStatus.ACTIVE, MemberStatus.SUSPENDED):
            raise Conflict(
                f"{organisation.name} is already a member ({membership.status})",
                current_status=membership.status,
                allowed=[],
            )
        previous = membership.status
        membership.role = role.value
        membership.status = MemberStatus.ACTIVE.value
        membership.term_end = term_end
        membership.since = since or now
        membership.application_id = application_id
        membership.updated_at = now
        membership.version += 1
    await _flush(session)
    session.add(
        _transition(
            membership, action="admission", previous=previous, reason=reason, actor=actor, now=now
        )
    )
    await record_event(
        session,
        contracts.MemberAdmitted(
            **_member_state(
                organisation, membership, previous=previous, actor=actor, reason=reason
            ),
            application_id=application_id,
        ),
        subject=organisation.id,
        aggregate_version=membership.version,
    )
    return membership


async def get_member(
    session: AsyncSession, *, organisation_id: str
) -> tuple[Membership, Organisation]:
    row = (
        await session.execute(
            select(Membership, Organisation)
            .join(Organisation, Organisation.id == Membership.organisation_id)
            .where(Membership.organisation_id == organisation_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"organisation {organisation_id} is not a member (and never was)")
    return row[0], row[1]


async def list_members(
    session: AsyncSession,
    *,
    status: MemberStatus | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[tuple[Membership, Organisation]], str | None]:
    statement = select(Membership, Organisation).join(
        Organisation, Organisation.id == Membership.organisation_id
    )
    if status is not None:
        statement = statement.where(Membership.status == status.value)
    rows, next_cursor = await _page(
        session,
        statement,
        created=Membership.created_at,
        key=Membership.organisation_id,
        limit=limit,
        cursor=cursor,
        position=lambda row: (row[0].created_at, row[0].organisation_id),
    )
    return [(row[0], row[1]) for row in rows], next_cursor


async def change_member_status(
    session: AsyncSession,
    *,
    organisation_id: str,
    action: Action,
    reason: str,
    principal: Principal,
    now: datetime,
) -> tuple[Membership, Organisation]:
    """Suspend, reinstate or withdraw a member (the Region; a centre may withdraw itself)."""
    if action is Action.EXPIRY:
        raise Forbidden("memberships expire by themselves when the protocol's term ends")
    membership, organisation = await get_member(session, organisation_id=organisation_id)
    if action is Action.WITHDRAWAL:
        require_region_or_own_centre(principal, organisation_id, "withdraw this member")
    else:
        require_region(principal, f"decide a {action.value}")
    target = next_status(membership.status, action, membership.role)
    await _apply_transition(
        session,
        membership,
        organisation,
        action=action,
        target=target,
        reason=reason,
        actor=Actor.of(principal),
        now=now,
    )
    return membership, organisation


async def _apply_transition(
    session: AsyncSession,
    membership: Membership,
    organisation: Organisation,
    *,
    action: Action,
    target: MemberStatus,
    reason: str,
    actor: Actor,
    now: datetime,
) -> None:
    previous = membership.status
    membership.status = target.value
    membership.updated_at = now
    membership.version += 1
    if target in (MemberStatus.WITHDRAWN, MemberStatus.EXPIRED):
        # The seat is gone: so is the representative's mandate (kept in the history).
        representative = await current_representative(session, organisation.id)
        if representative is not None:
            representative.until = now
    await _flush(session)
    session.add(
        _transition(
            membership, action=action.value, previous=previous, reason=reason, actor=actor, now=now
        )
    )
    await record_event(
        session,
        MEMBER_EVENTS[action](
            **_member_state(organisation, membership, previous=previous, actor=actor, reason=reason)
        ),
        subject=organisation.id,
        aggregate_version=membership.version,
    )


def _due(now: datetime) -> Any:
    return and_(
        Membership.status.in_([MemberStatus.ACTIVE, MemberStatus.SUSPENDED]),
        Membership.term_end < today(now),
    )


async def any_due(session: AsyncSession, *, now: datetime) -> bool:
    """Whether a membership in force has a term that ended (`expire_due` has work)."""
    found = await session.scalar(select(Membership.organisation_id).where(_due(now)).limit(1))
    return found is not None


async def expire_due(session: AsyncSession, *, now: datetime) -> list[str]:
    """Expire every membership in force whose term has ended; returns their organisation ids.

    Called periodically and before reads. Concurrent callers are safe: the version check makes
    all but one fail with Conflict (nothing is written twice, no event is duplicated).
    """
    rows = (
        await session.execute(
            select(Membership, Organisation)
            .join(Organisation, Organisation.id == Membership.organisation_id)
            .where(_due(now))
            .order_by(Membership.created_at, Membership.organisation_id)
        )
    ).all()
    for membership, organisation in rows:
        await _apply_transition(
            session,
            membership,
            organisation,
            action=Action.EXPIRY,
            target=MemberStatus.EXPIRED,
            reason=f"the protocol's term ended on {membership.term_end} and was not renewed",
            actor=SYSTEM,
            now=now,
        )
    return [membership.organisation_id for membership, _ in rows]


async def member_history(
    session: AsyncSession,
    *,
    organisation_id: str,
    principal: Principal,
    limit: int,
    cursor: str | None,
) -> tuple[list[MembershipTransition], str | None]:
    await get_member(session, organisation_id=organisation_id)
    require_region_or_own_centre(principal, organisation_id, "read this member's history")
    statement = select(MembershipTransition).where(
        MembershipTransition.organisation_id == organisation_id
    )
    rows, next_cursor = await _page(
        session,
        statement,
        created=MembershipTransition.at,
        key=MembershipTransition.seq,
        limit=limit,
        cursor=cursor,
        position=lambda row: (row[0].at, row[0].seq),
        key_type=int,
    )
    return [row[0] for row in rows], next_cursor


# -- representatives and committee ----------------------------------------------------------


async def current_representative(
    session: AsyncSession, organisation_id: str
) -> Representative | None:
    found: Representative | None = await session.scalar(
        select(Representative).where(
            Representative.organisation_id == organisation_id, Representative.until.is_(None)
        )
    )
    return found


async def _appoint(
    session: AsyncSession,
    *,
    organisation: Organisation,
    membership: Membership,
    full_name: str,
    email: str,
    position: str,
    actor: Actor,
    now: datetime,
) -> Representative:
    previous = await current_representative(session, organisation.id)
    if previous is not None:
        previous.until = now
        await _flush(session)  # before the insert: one current representative at a time
    representative = Representative(
        id=str(uuid7()),
        organisation_id=organisation.id,
        full_name=full_name,
        email=email,
        position=position,
        since=now,
        until=None,
        appointed_by_role=actor.role,
        appointed_by_org_id=actor.org_id,
        appointed_by_key_id=actor.key_id,
    )
    session.add(representative)
    membership.updated_at = now
    membership.version += 1
    await _flush(session)
    await record_event(
        session,
        contracts.RepresentativeAppointed(
            organisation_id=organisation.id,
            organisation_name=organisation.name,
            representative_id=representative.id,
            full_name=full_name,
            position=position,
            since=now,
            previous_representative_id=previous.id if previous else None,
            actor=actor.contract(),
        ),
        subject=organisation.id,
        aggregate_version=membership.version,
    )
    return representative


async def appoint_representative(
    session: AsyncSession,
    *,
    organisation_id: str,
    data: RepresentativeIn,
    principal: Principal,
    now: datetime,
) -> Representative:
    membership, organisation = await get_member(session, organisation_id=organisation_id)
    require_region_or_own_centre(principal, organisation_id, "appoint its representative")
    if membership.status not in (MemberStatus.ACTIVE, MemberStatus.SUSPENDED):
        raise Conflict(
            f"a {membership.status} member has no seat on the committee",
            current_status=membership.status,
        )
    return await _appoint(
        session,
        organisation=organisation,
        membership=membership,
        full_name=data.full_name,
        email=data.email,
        position=data.position,
        actor=Actor.of(principal),
        now=now,
    )


async def list_representatives(
    session: AsyncSession,
    *,
    organisation_id: str,
    principal: Principal,
    limit: int,
    cursor: str | None,
) -> tuple[list[Representative], str | None]:
    await _organisation(session, organisation_id)
    require_region_or_own_centre(principal, organisation_id, "read its representatives")
    rows, next_cursor = await _page(
        session,
        select(Representative).where(Representative.organisation_id == organisation_id),
        created=Representative.since,
        key=Representative.id,
        limit=limit,
        cursor=cursor,
        position=lambda row: (row[0].since, row[0].id),
    )
    return [row[0] for row in rows], next_cursor


async def committee(
    session: AsyncSession, *, principal: Principal, limit: int, cursor: str | None
) -> tuple[list[tuple[Membership, Organisation, Representative | None]], str | None]:
    """One seat per signatory in force (the Region, the founding centres, adhering members)."""
    if principal.role not in (Role.REGION, Role.CENTRE):
        raise Forbidden(
            "the committee's representatives are personal data: Region and centres only"
        )
    statement = (
        select(Membership, Organisation, Representative)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .outerjoin(
            Representative,
            and_(
                Representative.organisation_id == Membership.organisation_id,
                Representative.until.is_(None),
            ),
        )
        .where(Membership.status == MemberStatus.ACTIVE.value)
    )
    rows, next_cursor = await _page(
        session,
        statement,
        created=Membership.created_at,
        key=Membership.organisation_id,
        limit=limit,
        cursor=cursor,
        position=lambda row: (row[0].created_at, row[0].organisation_id),
    )
    return [(row[0], row[1], row[2]) for row in rows], next_cursor


# -- applications ---------------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _pending_application(session: AsyncSession, vat_number: str) -> Application | None:
    found: Application | None = await session.scalar(
        select(Application).where(
            Application.vat_number == vat_number,
            Application.status == ApplicationStatus.UNDER_REVIEW.value,
        )
    )
    return found


async def submit_application(
    session: AsyncSession, *, data: ApplicationIn, now: datetime
) -> tuple[Application, str]:
    """Check and store an application; returns it and its token (shown once)."""
    candidate = data.organisation.model_dump(mode="json")
    seat = _check_location(candidate["province"], candidate["municipality"], prefix="organisation.")
    candidate["province"] = seat.province.code
    candidate["municipality"] = seat.name
    units: list[dict[str, str | None]] = []
    unit_places: list[tuple[str, str]] = []
    for index, unit in enumerate(data.operating_units):
        place = _check_location(
            unit.province, unit.municipality, prefix=f"operating_units.{index}."
        )
        unit_places.append((place.province.code, place.name))
        units.append(
            {"province": place.province.code, "municipality": place.name, "address": unit.address}
        )
    vat_number = candidate.get("vat_number")
    existing = await organisation_by_vat(session, vat_number) if vat_number else None
    membership = await _membership(session, existing.id) if existing else None
    if (
        existing
        and membership
        and membership.status
        in (
            MemberStatus.ACTIVE,
            MemberStatus.SUSPENDED,
        )
    ):
        raise Conflict(
            f"{existing.name} (partita IVA {vat_number}) is already a member "
            f"({membership.status}): it cannot apply to adhere",
            errors=[
                {
                    "field": "organisation.vat_number",
                    "in": "body",
                    "message": "already a member",
                    "type": "member",
                }
            ],
            organisation_id=existing.id,
        )
    if vat_number and await _pending_application(session, vat_number) is not None:
        raise Conflict(
            f"an application for partita IVA {vat_number} is already under review",
            errors=[
                {
                    "field": "organisation.vat_number",
                    "in": "body",
                    "message": "an application is already under review",
                    "type": "pending",
                }
            ],
        )
    declarations = data.declarations
    checks = eligibility_checks(
        province=candidate["province"],
        municipality=candidate["municipality"],
        operating_units=unit_places,
        vat_number=vat_number,
        member_status=membership.status if membership else None,
        member_name=existing.name if existing else None,
        operates_in_tuscany=declarations.operates_in_tuscany,
        operates_in_technology_transfer=declarations.operates_in_technology_transfer,
        offer=declarations.offer,
    )
    eligible = all(check.passed for check in checks)
    status = ApplicationStatus.UNDER_REVIEW if eligible else ApplicationStatus.INELIGIBLE
    token = secrets.token_urlsafe(32)
    application = Application(
        id=str(uuid7()),
        status=status.value,
        token_hash=hash_token(token),
        organisation=candidate,
        vat_number=vat_number,
        operating_units=units,
        operates_in_tuscany=declarations.operates_in_tuscany,
        operates_in_technology_transfer=declarations.operates_in_technology_transfer,
        offer=declarations.offer,
        representative_full_name=data.representative.full_name,
        representative_email=data.representative.email,
        representative_position=data.representative.position,
        eligibility=[check.as_dict() for check in checks],
        organisation_id=existing.id if existing else None,
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(application)
    await _flush(session)
    await record_event(
        session,
        contracts.ApplicationSubmitted(
            application_id=application.id,
            status=status.value,
            eligible=eligible,
            eligibility=[contracts.EligibilityCheck(**check.as_dict()) for check in checks],
            name=candidate["name"],
            acronym=candidate.get("acronym"),
            kind=candidate["kind"],
            vat_number=vat_number,
            province=candidate["province"],
            municipality=candidate["municipality"],
            operates_in_tuscany=declarations.operates_in_tuscany,
            operates_in_technology_transfer=declarations.operates_in_technology_transfer,
            organisation_id=application.organisation_id,
            submitted_at=now,
        ),
        subject=application.id,
        aggregate_version=application.version,
    )
    return application, token


async def _application(session: AsyncSession, application_id: str) -> Application:
    application = await session.get(Application, application_id)
    if application is None:
        raise NotFound(f"no application {application_id}")
    return application


async def get_application(
    session: AsyncSession, *, application_id: str, principal: Principal, token: str | None
) -> Application:
    """The Region reads any application; anyone else needs the application's token."""
    application = await _application(session, application_id)
    if principal.role is Role.REGION:
        return application
    if token and hmac.compare_digest(hash_token(token), application.token_hash):
        return application
    raise Forbidden(
        "present this application's token (X-Application-Token header or `token` query "
        "parameter), or act as the Region"
    )


async def list_applications(
    session: AsyncSession,
    *,
    principal: Principal,
    status: ApplicationStatus | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Application], str | None]:
    require_region(principal, "list applications")
    statement = select(Application)
    if status is not None:
        statement = statement.where(Application.status == status.value)
    rows, next_cursor = await _page(
        session,
        statement,
        created=Application.created_at,
        key=Application.id,
        limit=limit,
        cursor=cursor,
        position=lambda row: (row[0].created_at, row[0].id),
    )
    return [row[0] for row in rows], next_cursor


async def decide_application(
    session: AsyncSession,
    *,
    application_id: str,
    decision: DecisionIn,
    principal: Principal,
    now: datetime,
) -> Application:
    """Record the committee's decision; admitting creates or links the organisation, makes it
    an active adhering member until the protocol's term ends, and appoints its representative."""
    require_region(principal, "decide applications")
    application = await _application(session, application_id)
    target = decision_status(application.status, decision.decision)
    actor = Actor.of(principal)
    candidate = application.organisation
    if target is ApplicationStatus.ADMITTED:
        protocol = await current_protocol(session)
        if not in_force(protocol.term_end, now):
            raise Conflict(
                f"the protocol's term ended on {protocol.term_end}: nobody can be admitted"
            )
        organisation = None
        if application.vat_number:
            organisation = await organisation_by_vat(session, application.vat_number)
        if organisation is None:
            organisation = await create_organisation(
                session, data=candidate, actor=actor, now=now, prefix="organisation."
            )
        membership = await admit_member(
            session,
            organisation=organisation,
            role=MemberRole.ADHERING,
            term_end=protocol.term_end,
            reason=decision.motivation,
            actor=actor,
            now=now,
            application_id=application.id,
        )
        await _appoint(
            session,
            organisation=organisation,
            membership=membership,
            full_name=application.representative_full_name,
            email=application.representative_email,
            position=application.representative_position,
            actor=actor,
            now=now,
        )
        application.organisation_id = organisation.id
    votes = decision.votes
    application.status = target.value
    application.decision = decision.decision
    application.motivation = decision.motivation
    application.votes_for = votes.for_ if votes else None
    application.votes_against = votes.against if votes else None
    application.votes_abstained = votes.abstained if votes else None
    application.decided_at = now
    application.decided_by_role = actor.role
    application.decided_by_org_id = actor.org_id
    application.decided_by_key_id = actor.key_id
    application.updated_at = now
    application.version += 1
    await _flush(session)
    await record_event(
        session,
        contracts.ApplicationDecided(
            application_id=application.id,
            decision=decision.decision,
            status=target.value,
            motivation=decision.motivation,
            votes=contracts.Votes(
                in_favour=votes.for_, against=votes.against, abstained=votes.abstained
            )
            if votes
            else None,
            organisation_id=application.organisation_id
            if target is ApplicationStatus.ADMITTED
            else None,
            name=candidate["name"],
            kind=candidate["kind"],
            province=candidate["province"],
            submitted_at=application.created_at,
            decided_at=now,
            actor=actor.contract(),
        ),
        subject=application.id,
        aggregate_version=application.version,
    )
    return application
