"""HTTP routes of the membership service (mounted by the gateway at /api/v1/membership).

Thin: parse, call the service, commit, shape the response. The rules live in `service`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.deps import PrincipalDep, RuntimeDep, SessionDep, WritingSessionDep
from kernel.errors import Conflict
from kernel.openapi import problems
from kernel.runtime import ServiceRuntime
from services.membership import service
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
    ActorOut,
    ApplicationCreated,
    ApplicationIn,
    ApplicationOut,
    ApplicationStatus,
    CommitteeSeat,
    DecisionIn,
    DecisionOut,
    Declarations,
    EligibilityCheck,
    MemberOut,
    MembershipSummary,
    MemberStatus,
    OrganisationIn,
    OrganisationKind,
    OrganisationOut,
    OrganisationPatch,
    Page,
    ProtocolOut,
    ReasonIn,
    RenewalIn,
    RenewalOut,
    RepresentativeIn,
    RepresentativeOut,
    RepresentativeProposal,
    SeatRepresentative,
    TransitionOut,
    Votes,
)

router = APIRouter()

Clock = Callable[[], datetime]


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


ClockDep = Annotated[Clock, Depends(get_clock)]
Limit = Annotated[int, Query(ge=1, le=service.MAX_LIMIT, description="Page size.")]
Cursor = Annotated[str | None, Query(max_length=500, description="next_cursor of a page.")]


async def refresh(runtime: ServiceRuntime, now: datetime) -> None:
    """Expire memberships whose term has passed before answering a read; call it before the
    request's session reads anything, so that the answer shows the expiry.

    In transactions of its own: the session of a GET only reads (on SQLite it may not take the
    write lock later, and would fail against a concurrent writer), and most reads find nothing
    due, so they never take the write lock at all."""
    async with runtime.read_sessionmaker() as session:
        if not await service.any_due(session, now=now):
            return
    async with runtime.sessionmaker() as session:
        try:
            if await service.expire_due(session, now=now):
                await session.commit()
        except Conflict:  # another request or replica expired them just now
            await session.rollback()


def not_modified(request: Request, etag: str) -> Response | None:
    candidates = request.headers.get("if-none-match")
    if candidates and (
        candidates.strip() == "*"
        or etag in [c.strip().removeprefix("W/") for c in candidates.split(",")]
    ):
        return Response(status_code=304, headers={"ETag": etag})
    return None


# -- shaping --------------------------------------------------------------------------------


def actor_out(role: str | None, org_id: str | None, key_id: str | None) -> ActorOut:
    return ActorOut(role=role or "system", org_id=org_id, key_id=key_id)


def organisation_out(organisation: Organisation, membership: Membership | None) -> OrganisationOut:
    return OrganisationOut(
        id=organisation.id,
        name=organisation.name,
        acronym=organisation.acronym,
        kind=OrganisationKind(organisation.kind),
        legal_form=organisation.legal_form,
        vat_number=organisation.vat_number,
        province=organisation.province,
        municipality=organisation.municipality,
        address=organisation.address,
        website=organisation.website,
        email=organisation.email,
        membership=MembershipSummary.model_validate(membership) if membership else None,
        created_at=organisation.created_at,
        updated_at=organisation.updated_at,
        version=organisation.version,
    )


def member_out(membership: Membership, organisation: Organisation) -> MemberOut:
    return MemberOut(
        organisation_id=organisation.id,
        name=organisation.name,
        acronym=organisation.acronym,
        kind=OrganisationKind(organisation.kind),
        province=organisation.province,
        municipality=organisation.municipality,
        role=membership.role,
        status=membership.status,
        term_end=membership.term_end,
        since=membership.since,
        updated_at=membership.updated_at,
        allowed_actions=service.allowed_actions(membership.status, membership.role),
    )


def application_out(application: Application) -> ApplicationOut:
    decision = None
    if application.decision is not None and application.decided_at is not None:
        votes = None
        if application.votes_for is not None:
            votes = Votes(
                for_=application.votes_for,
                against=application.votes_against or 0,
                abstained=application.votes_abstained or 0,
            )
        decision = DecisionOut(
            decision=application.decision,
            motivation=application.motivation or "",
            votes=votes,
            decided_at=application.decided_at,
            decided_by=actor_out(
                application.decided_by_role,
                application.decided_by_org_id,
                application.decided_by_key_id,
            ),
        )
    return ApplicationOut(
        id=application.id,
        status=ApplicationStatus(application.status),
        organisation=application.organisation,
        declarations=Declarations(
            operates_in_tuscany=application.operates_in_tuscany,
            operates_in_technology_transfer=application.operates_in_technology_transfer,
            offer=application.offer,
        ),
        representative=RepresentativeProposal(
            full_name=application.representative_full_name,
            email=application.representative_email,
            position=application.representative_position,
        ),
        operating_units=application.operating_units,
        eligibility=[EligibilityCheck(**check) for check in application.eligibility],
        organisation_id=application.organisation_id,
        decision=decision,
        created_at=application.created_at,
        updated_at=application.updated_at,
    )


def representative_out(representative: Representative) -> RepresentativeOut:
    return RepresentativeOut(
        id=representative.id,
        organisation_id=representative.organisation_id,
        full_name=representative.full_name,
        email=representative.email,
        position=representative.position,
        since=representative.since,
        until=representative.until,
        appointed_by=actor_out(
            representative.appointed_by_role,
            representative.appointed_by_org_id,
            representative.appointed_by_key_id,
        ),
    )


def transition_out(transition: MembershipTransition) -> TransitionOut:
    return TransitionOut(
        seq=transition.seq,
        action=transition.action,
        from_status=MemberStatus(transition.from_status) if transition.from_status else None,
        to_status=MemberStatus(transition.to_status),
        actor=actor_out(transition.actor_role, transition.actor_org_id, transition.actor_key_id),
        at=transition.at,
        reason=transition.reason,
    )


def protocol_out(protocol: Protocol, renewals: list[ProtocolRenewal], now: datetime) -> ProtocolOut:
    return ProtocolOut(
        id=protocol.id,
        signed_on=protocol.signed_on,
        term_years=service.TERM_YEARS,
        term_end=protocol.term_end,
        status="in_force" if service.in_force(protocol.term_end, now) else "expired",
        renewals=[
            RenewalOut(
                id=r.id,
                renewed_on=r.renewed_on,
                previous_term_end=r.previous_term_end,
                term_end=r.term_end,
                note=r.note,
                actor=actor_out(r.actor_role, r.actor_org_id, r.actor_key_id),
                created_at=r.created_at,
            )
            for r in renewals
        ],
        version=protocol.version,
    )


# -- organisations --------------------------------------------------------------------------


@router.get("/organisations", tags=["organisations"])
async def list_organisations(
    session: SessionDep,
    runtime: RuntimeDep,
    clock: ClockDep,
    _: PrincipalDep,
    kind: OrganisationKind | None = None,
    province: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$")] = None,
    limit: Limit = service.DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[OrganisationOut]:
    """Registered organisations (public: no personal data)."""
    await refresh(runtime, clock())
    rows, next_cursor = await service.list_organisations(
        session,
        limit=limit,
        cursor=cursor,
        kind=kind.value if kind else None,
        province=province,
    )
    return Page[OrganisationOut](
        items=[organisation_out(o, m) for o, m in rows], next_cursor=next_cursor
    )


@router.post(
    "/organisations", status_code=201, tags=["organisations"], responses=problems(403, 409)
)
async def register_organisation(
    body: OrganisationIn,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> OrganisationOut:
    """Register an organisation directly (the Region; e.g. a partner). Others apply."""
    organisation = await service.register_organisation(
        session, data=body, principal=principal, now=clock()
    )
    await session.commit()
    response.headers["ETag"] = service.organisation_etag(organisation, None)
    response.headers["Location"] = f"organisations/{organisation.id}"
    return organisation_out(organisation, None)


@router.get(
    "/organisations/{organisation_id}",
    tags=["organisations"],
    response_model=None,
    responses=problems(404),
)
async def get_organisation(
    organisation_id: str,
    request: Request,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    clock: ClockDep,
    _: PrincipalDep,
) -> OrganisationOut | Response:
    await refresh(runtime, clock())
    organisation, membership = await service.get_organisation(
        session, organisation_id=organisation_id
    )
    etag = service.organisation_etag(organisation, membership)
    if (cached := not_modified(request, etag)) is not None:
        return cached
    response.headers["ETag"] = etag
    return organisation_out(organisation, membership)


@router.patch(
    "/organisations/{organisation_id}",
    tags=["organisations"],
    responses=problems(403, 404, 409, 412, 428),
)
async def update_organisation(
    organisation_id: str,
    body: OrganisationPatch,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    if_match: Annotated[str | None, Header()] = None,
) -> OrganisationOut:
    """Change some fields (the Region, or the centre itself). Needs If-Match."""
    organisation, membership = await service.update_organisation(
        session,
        organisation_id=organisation_id,
        changes=body.changes(),
        if_match=if_match,
        principal=principal,
        now=clock(),
    )
    await session.commit()
    response.headers["ETag"] = service.organisation_etag(organisation, membership)
    return organisation_out(organisation, membership)


# -- protocol -------------------------------------------------------------------------------


@router.get("/protocol", tags=["protocol"], responses=problems(404))
async def get_protocol(
    response: Response, session: SessionDep, runtime: RuntimeDep, clock: ClockDep, _: PrincipalDep
) -> ProtocolOut:
    """The protocol: signature, term (three years) and renewals (public)."""
    now = clock()
    await refresh(runtime, now)
    protocol = await service.current_protocol(session)
    renewals = await service.protocol_renewals(session, protocol)
    response.headers["ETag"] = service.etag(protocol.version)
    return protocol_out(protocol, renewals, now)


@router.post(
    "/protocol/renewals", status_code=201, tags=["protocol"], responses=problems(403, 404, 409)
)
async def renew_protocol(
    body: RenewalIn, session: SessionDep, principal: PrincipalDep, clock: ClockDep
) -> ProtocolOut:
    """Renew the protocol for three more years (the Region), before its term ends."""
    now = clock()
    protocol = await service.renew_protocol(
        session, renewed_on=body.renewed_on, note=body.note, principal=principal, now=now
    )
    await session.commit()
    return protocol_out(protocol, await service.protocol_renewals(session, protocol), now)


# -- applications ---------------------------------------------------------------------------


@router.post("/applications", status_code=201, tags=["applications"], responses=problems(409))
async def submit_application(
    body: ApplicationIn, response: Response, session: SessionDep, _: PrincipalDep, clock: ClockDep
) -> ApplicationCreated:
    """Apply to adhere (anyone, also anonymous). Keep the returned token: it is shown once."""
    application, token = await service.submit_application(session, data=body, now=clock())
    await session.commit()
    response.headers["Location"] = f"applications/{application.id}"
    return ApplicationCreated(**application_out(application).model_dump(), token=token)


@router.get("/applications", tags=["applications"], responses=problems(403))
async def list_applications(
    session: SessionDep,
    principal: PrincipalDep,
    status: ApplicationStatus | None = None,
    limit: Limit = service.DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[ApplicationOut]:
    """Applications, oldest first (the Region)."""
    rows, next_cursor = await service.list_applications(
        session, principal=principal, status=status, limit=limit, cursor=cursor
    )
    return Page[ApplicationOut](items=[application_out(a) for a in rows], next_cursor=next_cursor)


@router.get("/applications/{application_id}", tags=["applications"], responses=problems(403, 404))
async def get_application(
    application_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    x_application_token: Annotated[str | None, Header()] = None,
    token: Annotated[str | None, Query(max_length=200)] = None,
) -> ApplicationOut:
    """An application: the Region, or whoever presents its token."""
    application = await service.get_application(
        session,
        application_id=application_id,
        principal=principal,
        token=x_application_token or token,
    )
    return application_out(application)


@router.post(
    "/applications/{application_id}/decision",
    tags=["applications"],
    responses=problems(403, 404, 409),
)
async def decide_application(
    application_id: str,
    body: DecisionIn,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> ApplicationOut:
    """Record the committee's decision (the Region): admit or reject, with motivation."""
    application = await service.decide_application(
        session, application_id=application_id, decision=body, principal=principal, now=clock()
    )
    await session.commit()
    return application_out(application)


# -- members --------------------------------------------------------------------------------


@router.get("/members", tags=["members"])
async def list_members(
    session: SessionDep,
    runtime: RuntimeDep,
    clock: ClockDep,
    _: PrincipalDep,
    status: MemberStatus | None = None,
    limit: Limit = service.DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[MemberOut]:
    """Members of the platform (public), in order of admission."""
    await refresh(runtime, clock())
    rows, next_cursor = await service.list_members(
        session, status=status, limit=limit, cursor=cursor
    )
    return Page[MemberOut](items=[member_out(m, o) for m, o in rows], next_cursor=next_cursor)


@router.get(
    "/members/{organisation_id}", tags=["members"], response_model=None, responses=problems(404)
)
async def get_member(
    organisation_id: str,
    request: Request,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    clock: ClockDep,
    _: PrincipalDep,
) -> MemberOut | Response:
    await refresh(runtime, clock())
    membership, organisation = await service.get_member(session, organisation_id=organisation_id)
    etag = service.member_etag(membership, organisation)
    if (cached := not_modified(request, etag)) is not None:
        return cached
    response.headers["ETag"] = etag
    return member_out(membership, organisation)


async def _transition(
    action: Action,
    organisation_id: str,
    body: ReasonIn,
    response: Response,
    session: AsyncSession,
    principal: PrincipalDep,
    now: datetime,
) -> MemberOut:
    membership, organisation = await service.change_member_status(
        session,
        organisation_id=organisation_id,
        action=action,
        reason=body.reason,
        principal=principal,
        now=now,
    )
    await session.commit()
    response.headers["ETag"] = service.member_etag(membership, organisation)
    return member_out(membership, organisation)


@router.post(
    "/members/{organisation_id}/suspension", tags=["members"], responses=problems(403, 404, 409)
)
async def suspend_member(
    organisation_id: str,
    body: ReasonIn,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> MemberOut:
    """Suspend an active member (the Region)."""
    return await _transition(
        Action.SUSPENSION, organisation_id, body, response, session, principal, clock()
    )


@router.post(
    "/members/{organisation_id}/reinstatement", tags=["members"], responses=problems(403, 404, 409)
)
async def reinstate_member(
    organisation_id: str,
    body: ReasonIn,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> MemberOut:
    """Reinstate a suspended member (the Region)."""
    return await _transition(
        Action.REINSTATEMENT, organisation_id, body, response, session, principal, clock()
    )


@router.post(
    "/members/{organisation_id}/withdrawal", tags=["members"], responses=problems(403, 404, 409)
)
async def withdraw_member(
    organisation_id: str,
    body: ReasonIn,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> MemberOut:
    """Withdraw a member (the Region, or the centre itself). Final."""
    return await _transition(
        Action.WITHDRAWAL, organisation_id, body, response, session, principal, clock()
    )


@router.get("/members/{organisation_id}/history", tags=["members"], responses=problems(403, 404))
async def member_history(
    organisation_id: str,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    clock: ClockDep,
    limit: Limit = service.DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[TransitionOut]:
    """Every transition with actor, time and reason (the Region, or the member itself)."""
    await refresh(runtime, clock())
    rows, next_cursor = await service.member_history(
        session, organisation_id=organisation_id, principal=principal, limit=limit, cursor=cursor
    )
    return Page[TransitionOut](items=[transition_out(t) for t in rows], next_cursor=next_cursor)


@router.put(
    "/members/{organisation_id}/representative",
    tags=["committee"],
    responses=problems(403, 404, 409),
)
async def appoint_representative(
    organisation_id: str,
    body: RepresentativeIn,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> RepresentativeOut:
    """Appoint the member's representative (the Region, or the centre itself); the previous
    one's appointment ends."""
    representative = await service.appoint_representative(
        session, organisation_id=organisation_id, data=body, principal=principal, now=clock()
    )
    await session.commit()
    return representative_out(representative)


@router.get(
    "/members/{organisation_id}/representatives", tags=["committee"], responses=problems(403, 404)
)
async def list_representatives(
    organisation_id: str,
    session: WritingSessionDep,
    principal: PrincipalDep,
    limit: Limit = service.DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[RepresentativeOut]:
    """Every representative the member had, oldest first (the Region, or the centre itself)."""
    rows, next_cursor = await service.list_representatives(
        session, organisation_id=organisation_id, principal=principal, limit=limit, cursor=cursor
    )
    return Page[RepresentativeOut](
        items=[representative_out(r) for r in rows], next_cursor=next_cursor
    )


@router.get("/committee", tags=["committee"], responses=problems(403))
async def get_committee(
    session: WritingSessionDep,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    clock: ClockDep,
    limit: Limit = service.DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[CommitteeSeat]:
    """The coordination committee: one seat per active member with its representative
    (Region and centres only: representatives are personal data)."""
    await refresh(runtime, clock())
    rows, next_cursor = await service.committee(
        session, principal=principal, limit=limit, cursor=cursor
    )
    return Page[CommitteeSeat](
        items=[
            CommitteeSeat(
                organisation_id=organisation.id,
                name=organisation.name,
                acronym=organisation.acronym,
                role=membership.role,
                representative=SeatRepresentative(
                    full_name=representative.full_name,
                    email=representative.email,
                    position=representative.position,
                    since=representative.since,
                )
                if representative
                else None,
            )
            for membership, organisation, representative in rows
        ],
        next_cursor=next_cursor,
    )
