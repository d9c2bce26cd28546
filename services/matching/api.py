"""HTTP routes of the matching service (mounted by the gateway at /api/v1/matching).

Thin: parse, call the rules, commit, shape the response. The rules live in `service`,
`engagements`, `access` and `gaps`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.deps import PrincipalDep, SessionDep, WritingSessionDep
from kernel.openapi import problems
from services.matching import access, ateco, engagements, gaps, initiatives, service
from services.matching.consortia import MIN_SCORE, Proposal
from services.matching.embedding import Embedder
from services.matching.matcher import Ranker, RequestRanker
from services.matching.models import AccessRequest, Demand, Engagement, Firm, Introduction
from services.matching.paging import DEFAULT_LIMIT, MAX_LIMIT, etag
from services.matching.ranking import Match, MemoryIndex
from services.matching.schemas import (
    AccessIn,
    AccessOut,
    AccessStatus,
    ClosureIn,
    ConsortiumIntroductionOut,
    ConsortiumOut,
    ConsortiumPage,
    CoverageOut,
    DemandIn,
    DemandOut,
    DemandStatus,
    EngagementOut,
    EngagementStatus,
    ExplanationOut,
    FirmIn,
    FirmOut,
    FirmPatch,
    Fit,
    GapOut,
    GapPage,
    InitiativeMatchOut,
    IntroductionIn,
    IntroductionOut,
    IntroductionStatus,
    MatchOut,
    MatchPage,
    MemberOut,
    NeedOut,
    OptionalReasonIn,
    Page,
    ParticipantOut,
    ReasonIn,
)
from services.matching.text import detect_language

router = APIRouter()

Clock = Callable[[], datetime]


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def get_ranker(request: Request) -> RequestRanker:
    """The index as of now, refreshed before the request's own transaction starts."""
    ranker: Ranker = request.app.state.ranker
    return await ranker.for_request()


async def get_embedder(request: Request) -> Embedder:
    """The sentence encoder (to analyse a firm's capabilities), without refreshing the index."""
    ranker: Ranker = request.app.state.ranker
    return ranker.cache.embedder


ClockDep = Annotated[Clock, Depends(get_clock)]
RankerDep = Annotated[RequestRanker, Depends(get_ranker)]
EmbedderDep = Annotated[Embedder, Depends(get_embedder)]
IfMatch = Annotated[str | None, Header(description="The ETag you read; required.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]
Cursor = Annotated[str | None, Query(max_length=500, description="next_cursor of a page.")]
MatchLimit = Annotated[int, Query(ge=1, le=50, description="How many labs.")]
GapLimit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Demands examined per page.")]


# -- shaping --------------------------------------------------------------------------------


def firm_out(firm: Firm) -> FirmOut:
    node = ateco.check_ateco(firm.ateco_code)
    return FirmOut(
        id=firm.id,
        name=firm.name,
        vat_number=firm.vat_number,
        ateco_code=firm.ateco_code,
        ateco_title=node.title,
        size_class=firm.size_class,
        employees=firm.employees,
        turnover_eur=firm.turnover_eur,
        balance_sheet_eur=firm.balance_sheet_eur,
        province=firm.province,
        municipality=firm.municipality,
        capabilities=firm.capabilities,
        capability_tags=firm.capability_tags or {},
        created_at=firm.created_at,
        version=firm.version,
    )


def demand_out(demand: Demand) -> DemandOut:
    return DemandOut(
        id=demand.id,
        firm_id=demand.firm_id,
        title=demand.title,
        description=demand.description,
        needs=[NeedOut(text=n["text"], tags=n.get("tags", {})) for n in demand.needs],
        sector=demand.sector,
        trl_current=demand.trl_current,
        trl_target=demand.trl_target,
        budget_eur=demand.budget_eur,
        deadline=demand.deadline,
        preferred_provinces=list(demand.preferred_provinces),
        status=DemandStatus(demand.status),
        partner_org_id=demand.partner_org_id,
        assisting_centre_id=demand.assisting_centre_id,
        challenge_id=demand.challenge_id,
        created_at=demand.created_at,
        updated_at=demand.updated_at,
        version=demand.version,
    )


def explanation_out(match: Match) -> ExplanationOut:
    explanation = match.explanation
    return ExplanationOut(
        terms=explanation.terms,
        tags=explanation.tags,
        trl_fit=explanation.trl_fit,
        distance_km=explanation.distance_km,
        cross_language=explanation.cross_language,
        text=explanation.text,
    )


def match_out(match: Match, index: MemoryIndex, language: str | None) -> MatchOut:
    lab = index.get(match.entry.lab_id)
    return MatchOut(
        lab_id=match.entry.lab_id,
        centre_id=match.entry.centre_id,
        lab_name=lab.display_title(language) if lab else None,
        score=round(match.score, 4),
        fit=Fit(
            entity=match.entry.entity,
            id=match.entry.id,
            title=match.entry.display_title(language),
        ),
        explanation=explanation_out(match),
        evidence=match.components,
    )


def initiative_match_out(match: Match, language: str | None) -> InitiativeMatchOut:
    facts = initiatives.facts(match)
    return InitiativeMatchOut(
        initiative_id=match.entry.id,
        centre_id=match.entry.centre_id,
        kind=facts.kind,
        title=match.entry.display_title(language),
        status=facts.status,
        start_date=facts.start_date,
        end_date=facts.end_date,
        province=match.entry.province,
        municipality=facts.municipality,
        funding_programme=facts.funding_programme,
        partner_centre_ids=list(facts.partner_centres),
        score=round(match.score, 4),
        explanation=explanation_out(match),
        evidence=match.components,
    )


def consortium_out(proposal: Proposal) -> ConsortiumOut:
    return ConsortiumOut(
        consortium_id=proposal.consortium_id,
        members=[
            MemberOut(need_index=m.need_index, lab_id=m.lab_id, centre_id=m.centre_id)
            for m in proposal.members
        ],
        coverage=[CoverageOut(need_index=i, score=s) for i, s in proposal.coverage],
        uncovered_needs=list(proposal.uncovered_needs),
        centres=proposal.centres,
        partners=proposal.partners,
    )


def gap_out(gap: gaps.Gap) -> GapOut:
    return GapOut(
        demand_id=gap.demand.id,
        firm_id=gap.firm.id,
        firm_name=gap.firm.name,
        firm_province=gap.firm.province,
        sector=gap.firm.ateco_code,
        need_index=gap.need_index,
        text=gap.text,
        tags=gap.tags,
        best_score=round(gap.best_score, 4),
        best_lab_id=gap.best_lab_id,
        best_centre_id=gap.best_centre_id,
        submitted_at=gap.demand.created_at,
    )


def introduction_out(introduction: Introduction, firm_id: str) -> IntroductionOut:
    return IntroductionOut(
        id=introduction.id,
        demand_id=introduction.demand_id,
        firm_id=firm_id,
        lab_id=introduction.lab_id,
        centre_id=introduction.centre_id,
        entry_id=introduction.entry_id,
        consortium_id=introduction.consortium_id,
        kind=introduction.kind,
        status=IntroductionStatus(introduction.status),
        message=introduction.message,
        reason=introduction.reason,
        requested_at=introduction.requested_at,
        answered_at=introduction.answered_at,
        engagement_id=introduction.engagement_id,
        version=introduction.version,
    )


async def engagement_out(
    session: AsyncSession, engagement: Engagement, firm_id: str
) -> EngagementOut:
    members = await engagements.participants(session, engagement.id)
    return EngagementOut(
        id=engagement.id,
        demand_id=engagement.demand_id,
        firm_id=firm_id,
        kind=engagement.kind,
        status=EngagementStatus(engagement.status),
        consortium_id=engagement.consortium_id,
        challenge_id=engagement.challenge_id,
        supplier_firm_id=engagement.supplier_firm_id,
        participants=[
            ParticipantOut(
                lab_id=p.lab_id,
                centre_id=p.centre_id,
                introduction_id=p.introduction_id,
                joined_at=p.joined_at,
            )
            for p in members
        ],
        centres=len({p.centre_id for p in members}),
        opened_at=engagement.opened_at,
        closed_at=engagement.closed_at,
        value_eur=engagement.value_eur,
        delivered=engagement.delivered,
        satisfaction=engagement.satisfaction,
        innovation_introduced=engagement.innovation_introduced,
        version=engagement.version,
    )


def access_out(request: AccessRequest) -> AccessOut:
    return AccessOut(
        id=request.id,
        equipment_id=request.equipment_id,
        lab_id=request.lab_id,
        centre_id=request.centre_id,
        firm_id=request.firm_id,
        start=request.start,
        end=request.end,
        hours=access.hours(request.start, request.end),
        purpose=request.purpose,
        status=AccessStatus(request.status),
        reason=request.reason,
        requested_at=request.requested_at,
        answered_at=request.answered_at,
        cancelled_at=request.cancelled_at,
        version=request.version,
    )


# -- firms ----------------------------------------------------------------------------------


@router.post("/firms", status_code=201, tags=["firms"], responses=problems(403, 409))
async def register_firm(
    body: FirmIn,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    embedder: EmbedderDep,
) -> FirmOut:
    """Register a firm (the Region, a partner for a firm it represents, a centre), with what
    it can do for others (`capabilities`), if it wants to be proposed for challenges."""
    firm = await service.register_firm(
        session, data=body, principal=principal, embedder=embedder, now=clock()
    )
    await session.commit()
    response.headers["Location"] = f"firms/{firm.id}"
    response.headers["ETag"] = etag(firm.version)
    return firm_out(firm)


@router.get("/firms", tags=["firms"], responses=problems(403))
async def list_firms(
    session: SessionDep,
    principal: PrincipalDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[FirmOut]:
    """The firms the caller may see (the Region all; a partner or centre those it registered)."""
    rows, next_cursor = await service.list_firms(
        session, principal=principal, limit=limit, cursor=cursor
    )
    return Page[FirmOut](items=[firm_out(f) for f in rows], next_cursor=next_cursor)


@router.get("/firms/{firm_id}", tags=["firms"], responses=problems(403, 404))
async def get_firm(
    firm_id: str, response: Response, session: SessionDep, principal: PrincipalDep
) -> FirmOut:
    firm = await service.get_firm(session, firm_id=firm_id, principal=principal)
    response.headers["ETag"] = etag(firm.version)
    return firm_out(firm)


@router.patch("/firms/{firm_id}", tags=["firms"], responses=problems(403, 404, 412, 428))
async def update_firm(
    firm_id: str,
    body: FirmPatch,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    embedder: EmbedderDep,
    if_match: IfMatch = None,
) -> FirmOut:
    """Change the firm's capabilities (the firm, whoever registered it, the Region). Needs
    If-Match."""
    firm = await service.update_firm(
        session,
        firm_id=firm_id,
        data=body,
        if_match=if_match,
        principal=principal,
        embedder=embedder,
        now=clock(),
    )
    await session.commit()
    response.headers["ETag"] = etag(firm.version)
    return firm_out(firm)


# -- demands --------------------------------------------------------------------------------


@router.post("/demands", status_code=201, tags=["demands"], responses=problems(403, 404, 409))
async def submit_demand(
    body: DemandIn,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    ranker: RankerDep,
) -> DemandOut:
    """Submit a demand: by a firm for itself, a partner for a firm it represents, a centre for
    a firm it registered (assists), or the Region. Labs are proposed at once (status
    `matched`)."""
    now = clock()
    demand, firm = await service.submit_demand(session, data=body, principal=principal, now=now)
    await service.propose_matches(
        session, demand=demand, firm=firm, ranker=ranker, limit=10, now=now
    )
    await session.commit()
    response.headers["Location"] = f"demands/{demand.id}"
    response.headers["ETag"] = etag(demand.version)
    return demand_out(demand)


@router.get("/demands", tags=["demands"], responses=problems(403))
async def list_demands(
    session: SessionDep,
    principal: PrincipalDep,
    status: DemandStatus | None = None,
    firm_id: Annotated[str | None, Query(max_length=36)] = None,
    challenge: Annotated[
        bool, Query(description="The demands that back challenges, instead of firms' own.")
    ] = False,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[DemandOut]:
    """Demands the caller may see: a firm its own, a partner those it submitted, a centre those
    it submitted or was introduced to, the Region all."""
    rows, next_cursor = await service.list_demands(
        session,
        principal=principal,
        status=status,
        firm_id=firm_id,
        challenge=challenge,
        limit=limit,
        cursor=cursor,
    )
    return Page[DemandOut](items=[demand_out(d) for d in rows], next_cursor=next_cursor)


@router.get("/demands/{demand_id}", tags=["demands"], responses=problems(403, 404))
async def get_demand(
    demand_id: str, response: Response, session: SessionDep, principal: PrincipalDep
) -> DemandOut:
    demand, _ = await service.get_demand(session, demand_id=demand_id, principal=principal)
    response.headers["ETag"] = etag(demand.version)
    return demand_out(demand)


@router.post(
    "/demands/{demand_id}/cancellation", tags=["demands"], responses=problems(403, 404, 409)
)
async def cancel_demand(
    demand_id: str, body: ReasonIn, session: SessionDep, principal: PrincipalDep, clock: ClockDep
) -> DemandOut:
    """Cancel a demand that has no open engagement."""
    demand, _ = await service.cancel_demand(
        session, demand_id=demand_id, reason=body.reason, principal=principal, now=clock()
    )
    await session.commit()
    return demand_out(demand)


@router.get("/demands/{demand_id}/matches", tags=["matches"], responses=problems(403, 404, 409))
async def demand_matches(
    demand_id: str,
    session: WritingSessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    ranker: RankerDep,
    limit: MatchLimit = 10,
) -> MatchPage:
    """The labs that fit the demand best, each with the entry that fits, a score in [0, 1]
    and an explanation; and the open initiatives of the member centres that fit it (training
    courses and events to come, running projects), explained the same way."""
    demand, matches, index, offered = await service.demand_matches(
        session, demand_id=demand_id, principal=principal, ranker=ranker, limit=limit, now=clock()
    )
    await session.commit()
    language = detect_language(demand.title + " " + demand.description)
    return MatchPage(
        items=[match_out(m, index, language) for m in matches],
        initiatives=[initiative_match_out(m, language) for m in offered],
    )


@router.get("/demands/{demand_id}/consortia", tags=["matches"], responses=problems(403, 404, 409))
async def demand_consortia(
    demand_id: str,
    session: WritingSessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    ranker: RankerDep,
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> ConsortiumPage:
    """Teams of labs that together cover every need (demands with two or more needs)."""
    _, proposals = await service.demand_consortia(
        session, demand_id=demand_id, principal=principal, ranker=ranker, limit=limit, now=clock()
    )
    await session.commit()
    return ConsortiumPage(items=[consortium_out(p) for p in proposals])


@router.get("/gaps", tags=["matches"], responses=problems(403))
async def list_gaps(
    session: SessionDep,
    principal: PrincipalDep,
    ranker: RankerDep,
    limit: GapLimit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> GapPage:
    """The Region's gaps: the needs of active firms' demands (not challenges') that no member
    lab covers, i.e. no lab scores at least `min_score` for the need (as for consortia).
    Pages are of demands, newest first; a page may list no need and still have a next one."""
    found, examined, next_cursor = await gaps.list_gaps(
        session, principal=principal, ranker=ranker, limit=limit, cursor=cursor
    )
    return GapPage(
        items=[gap_out(g) for g in found],
        next_cursor=next_cursor,
        demands_examined=examined,
        min_score=MIN_SCORE,
    )


# -- introductions --------------------------------------------------------------------------


@router.post(
    "/demands/{demand_id}/introductions",
    status_code=201,
    tags=["introductions"],
    response_model=IntroductionOut | ConsortiumIntroductionOut,
    responses=problems(403, 404, 409),
)
async def request_introduction(
    demand_id: str,
    body: IntroductionIn,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> IntroductionOut | ConsortiumIntroductionOut:
    """Ask to be introduced to a lab (`lab_id`), or to every lab of a consortium."""
    created, consortium_id = await engagements.request_introductions(
        session, demand_id=demand_id, data=body, principal=principal, now=clock()
    )
    await session.commit()
    demand = await session.get(Demand, demand_id)
    assert demand is not None
    items = [introduction_out(i, demand.firm_id) for i in created]
    if consortium_id is None:
        return items[0]
    return ConsortiumIntroductionOut(
        consortium_id=consortium_id, status=IntroductionStatus.PENDING, introductions=items
    )


@router.get("/introductions", tags=["introductions"], responses=problems(403))
async def list_introductions(
    session: SessionDep,
    principal: PrincipalDep,
    status: IntroductionStatus | None = None,
    demand_id: Annotated[str | None, Query(max_length=36)] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[IntroductionOut]:
    """A centre sees the introductions to its labs; a firm or partner those of its demands."""
    rows, next_cursor = await engagements.list_introductions(
        session,
        principal=principal,
        status=status,
        demand_id=demand_id,
        limit=limit,
        cursor=cursor,
    )
    return Page[IntroductionOut](
        items=[introduction_out(i, firm_id) for i, firm_id in rows], next_cursor=next_cursor
    )


@router.get(
    "/introductions/{introduction_id}", tags=["introductions"], responses=problems(403, 404)
)
async def get_introduction(
    introduction_id: str, session: SessionDep, principal: PrincipalDep
) -> IntroductionOut:
    introduction, demand, _ = await engagements.get_introduction(
        session, introduction_id=introduction_id, principal=principal
    )
    return introduction_out(introduction, demand.firm_id)


@router.post(
    "/introductions/{introduction_id}/acceptance",
    tags=["introductions"],
    responses=problems(403, 404, 409),
)
async def accept_introduction(
    introduction_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    body: OptionalReasonIn | None = None,
) -> IntroductionOut:
    """The lab's centre accepts: an engagement opens (`engagement_id`), except for an
    invitation to a challenge's team (its award opens it)."""
    introduction, _ = await engagements.accept(
        session,
        introduction_id=introduction_id,
        reason=body.reason if body else None,
        principal=principal,
        now=clock(),
    )
    await session.commit()
    demand = await session.get(Demand, introduction.demand_id)
    assert demand is not None
    return introduction_out(introduction, demand.firm_id)


@router.post(
    "/introductions/{introduction_id}/decline",
    tags=["introductions"],
    responses=problems(403, 404, 409),
)
async def decline_introduction(
    introduction_id: str,
    body: ReasonIn,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> IntroductionOut:
    """The lab's centre declines, with a reason."""
    introduction = await engagements.decline(
        session,
        introduction_id=introduction_id,
        reason=body.reason,
        principal=principal,
        now=clock(),
    )
    await session.commit()
    demand = await session.get(Demand, introduction.demand_id)
    assert demand is not None
    return introduction_out(introduction, demand.firm_id)


# -- engagements ----------------------------------------------------------------------------


@router.get("/engagements", tags=["engagements"], responses=problems(403))
async def list_engagements(
    session: SessionDep,
    principal: PrincipalDep,
    status: EngagementStatus | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[EngagementOut]:
    rows, next_cursor = await engagements.list_engagements(
        session, principal=principal, status=status, limit=limit, cursor=cursor
    )
    return Page[EngagementOut](
        items=[await engagement_out(session, e, firm_id) for e, firm_id in rows],
        next_cursor=next_cursor,
    )


@router.get("/engagements/{engagement_id}", tags=["engagements"], responses=problems(403, 404))
async def get_engagement(
    engagement_id: str, session: SessionDep, principal: PrincipalDep
) -> EngagementOut:
    engagement, demand, _ = await engagements.get_engagement(
        session, engagement_id=engagement_id, principal=principal
    )
    return await engagement_out(session, engagement, demand.firm_id)


@router.post(
    "/engagements/{engagement_id}/closure", tags=["engagements"], responses=problems(403, 404, 409)
)
async def close_engagement(
    engagement_id: str,
    body: ClosureIn,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> EngagementOut:
    """Close with the outcome: value in EUR, delivered, satisfaction 1-5, innovation."""
    engagement, demand = await engagements.close(
        session, engagement_id=engagement_id, outcome=body, principal=principal, now=clock()
    )
    await session.commit()
    return await engagement_out(session, engagement, demand.firm_id)


# -- equipment access -----------------------------------------------------------------------


@router.post(
    "/equipment/{equipment_id}/access-requests",
    status_code=201,
    tags=["access"],
    responses=problems(403, 404, 409),
)
async def request_access(
    equipment_id: str,
    body: AccessIn,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> AccessOut:
    """Ask to use shareable equipment in a time window."""
    request = await access.request_access(
        session, equipment_id=equipment_id, data=body, principal=principal, now=clock()
    )
    await session.commit()
    response.headers["Location"] = f"access-requests/{request.id}"
    return access_out(request)


@router.get("/access-requests", tags=["access"], responses=problems(403))
async def list_access_requests(
    session: SessionDep,
    principal: PrincipalDep,
    status: AccessStatus | None = None,
    equipment_id: Annotated[str | None, Query(max_length=36)] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[AccessOut]:
    rows, next_cursor = await access.list_requests(
        session,
        principal=principal,
        status=status,
        equipment_id=equipment_id,
        limit=limit,
        cursor=cursor,
    )
    return Page[AccessOut](items=[access_out(r) for r in rows], next_cursor=next_cursor)


@router.get("/access-requests/{request_id}", tags=["access"], responses=problems(403, 404))
async def get_access_request(
    request_id: str, session: SessionDep, principal: PrincipalDep
) -> AccessOut:
    return access_out(await access.get_request(session, request_id=request_id, principal=principal))


@router.post(
    "/access-requests/{request_id}/approval", tags=["access"], responses=problems(403, 404, 409)
)
async def approve_access(
    request_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    body: OptionalReasonIn | None = None,
) -> AccessOut:
    """The owning centre approves; an overlapping approved window is a conflict (409)."""
    request = await access.approve(
        session,
        request_id=request_id,
        reason=body.reason if body else None,
        principal=principal,
        now=clock(),
    )
    await session.commit()
    return access_out(request)


@router.post(
    "/access-requests/{request_id}/decline", tags=["access"], responses=problems(403, 404, 409)
)
async def decline_access(
    request_id: str,
    body: ReasonIn,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> AccessOut:
    request = await access.decline(
        session, request_id=request_id, reason=body.reason, principal=principal, now=clock()
    )
    await session.commit()
    return access_out(request)


@router.post(
    "/access-requests/{request_id}/cancellation", tags=["access"], responses=problems(403, 404, 409)
)
async def cancel_access(
    request_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    body: OptionalReasonIn | None = None,
) -> AccessOut:
    """Cancel a pending or approved request (its window is free again)."""
    request = await access.cancel(
        session,
        request_id=request_id,
        reason=body.reason if body else None,
        principal=principal,
        now=clock(),
    )
    await session.commit()
    return access_out(request)
