"""HTTP routes of the challenges (mounted by the gateway at /api/v1/matching).

Thin: parse, call the rules (`service`, `expressions`, `proposals`), commit, shape the response.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response

from kernel.deps import PrincipalDep, SessionDep
from kernel.openapi import problems
from services.matching.api import (
    ClockDep,
    Cursor,
    Limit,
    RankerDep,
    engagement_out,
    explanation_out,
)
from services.matching.challenges import expressions, proposals, service
from services.matching.challenges.expressions import ExpressionView
from services.matching.challenges.models import Invitation
from services.matching.challenges.proposals import Proposed
from services.matching.challenges.schemas import (
    AwardIn,
    AwardOut,
    ChallengeIn,
    ChallengeOut,
    ChallengePatch,
    ChallengeStatus,
    CriterionOut,
    ExpressionIn,
    ExpressionMemberOut,
    ExpressionOut,
    ExpressionPatch,
    FitOut,
    InvitationIn,
    InvitationOut,
    InvitedMemberOut,
    ResponseOut,
    TeamMemberOut,
    TeamOut,
    TeamPage,
    Visibility,
)
from services.matching.challenges.service import ChallengeView
from services.matching.challenges.visibility import get_visible
from services.matching.paging import DEFAULT_LIMIT, etag
from services.matching.schemas import CoverageOut, NeedOut, Page, ReasonIn

router = APIRouter(tags=["challenges"])

Id = Annotated[str, Path(max_length=36)]
IfMatch = Annotated[str | None, Header(description="The ETag you read; required on PATCH.")]
TeamLimit = Annotated[int, Query(ge=1, le=proposals.INVITABLE, description="How many teams.")]


# -- shaping --------------------------------------------------------------------------------


def challenge_out(found: ChallengeView) -> ChallengeOut:
    challenge = found.challenge
    return ChallengeOut(
        id=challenge.id,
        publisher_firm_id=challenge.publisher_firm_id,
        publisher_name=found.publisher.name,
        demand_id=challenge.demand_id,
        title=challenge.title,
        description=challenge.description,
        needs=[NeedOut(text=n["text"], tags=n.get("tags", {})) for n in challenge.needs],
        sector=challenge.sector,
        trl_expected=challenge.trl_expected,
        budget_eur=challenge.budget_eur,
        prize_eur=challenge.prize_eur,
        deadline=challenge.deadline,
        visibility=Visibility(challenge.visibility),
        invited_firm_ids=found.invited_firm_ids,
        criteria=[CriterionOut(name=c["name"], weight=c.get("weight")) for c in challenge.criteria],
        status=found.status,
        expressions_count=found.expressions_count,
        published_at=challenge.published_at,
        closed_at=challenge.closed_at,
        close_reason=challenge.close_reason,
        awarded_expression_id=challenge.awarded_expression_id,
        award_value_eur=challenge.award_value_eur,
        created_at=challenge.created_at,
        updated_at=challenge.updated_at,
        version=challenge.version,
    )


def expression_out(found: ExpressionView) -> ExpressionOut:
    expression = found.expression
    return ExpressionOut(
        id=expression.id,
        challenge_id=expression.challenge_id,
        alias=found.alias,
        anonymous=found.anonymous,
        respondent_kind="firm" if expression.respondent_kind == "firm" else "centre",
        respondent_org_id=None if found.anonymous else expression.respondent_org_id,
        members=[
            ExpressionMemberOut.model_validate(member, from_attributes=True)
            for member in found.members
        ],
        responses=[
            ResponseOut(need_index=r["need_index"], text=r["text"], members=r["members"])
            for r in expression.responses
        ],
        message=expression.message,
        shortlisted=expression.shortlisted,
        shortlisted_at=expression.shortlisted_at,
        submitted_at=expression.submitted_at,
        updated_at=expression.updated_at,
        version=expression.version,
    )


def team_out(found: Proposed) -> TeamOut:
    team = found.team
    members = []
    for member in team.members:
        firm = found.firms.get(member.id) if member.kind == "firm" else None
        members.append(
            TeamMemberOut(
                kind=member.kind,
                firm_id=member.id if member.kind == "firm" else None,
                lab_id=member.id if member.kind == "lab" else None,
                name=found.names[member.key],
                centre_id=member.centre_id,
                size_class=firm.size_class if firm else None,
                province=firm.province if firm else found.lab_provinces.get(member.id),
                need_indexes=list(member.need_indexes),
                fits=[
                    FitOut(
                        need_index=need,
                        score=round(found.fits[(need, member.key)].score, 4),
                        explanation=explanation_out(found.fits[(need, member.key)]),
                    )
                    for need in member.need_indexes
                ],
            )
        )
    return TeamOut(
        team_id=team.team_id,
        members=members,
        coverage=[CoverageOut(need_index=i, score=s) for i, s in team.coverage],
        uncovered_needs=list(team.uncovered_needs),
        smes=team.smes,
        labs=team.labs,
        centres=team.centres,
        answered=found.answered,
        expression_id=found.expression_id,
        invited=found.invited,
    )


def invitation_out(invitation: Invitation) -> InvitationOut:
    return InvitationOut(
        id=invitation.id,
        challenge_id=invitation.challenge_id,
        team_id=invitation.team_id,
        members=[
            InvitedMemberOut(
                kind=m["kind"],
                firm_id=m.get("firm_id"),
                lab_id=m.get("lab_id"),
                centre_id=m.get("centre_id"),
                need_indexes=m["need_indexes"],
            )
            for m in invitation.members
        ],
        introduction_ids=list(invitation.introduction_ids),
        message=invitation.message,
        invited_at=invitation.invited_at,
    )


# -- challenges -----------------------------------------------------------------------------


@router.post("/challenges", status_code=201, responses=problems(403))
async def create_challenge(
    body: ChallengeIn,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> ChallengeOut:
    """Draft a challenge, or publish it at once (`status: open`): a large firm for itself, the
    Region or a centre for a registered firm. Publication opens the backing demand."""
    now = clock()
    challenge = await service.create_challenge(session, data=body, principal=principal, now=now)
    await session.commit()
    response.headers["Location"] = f"challenges/{challenge.id}"
    response.headers["ETag"] = etag(challenge.version)
    return challenge_out(await service.view(session, challenge, principal, now))


@router.get("/challenges", responses=problems())
async def list_challenges(
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    status: ChallengeStatus | None = None,
    sector: Annotated[str | None, Query(max_length=10, description="ATECO code.")] = None,
    publisher: Annotated[str | None, Query(max_length=36, description="Firm id.")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[ChallengeOut]:
    """The challenges the caller may see, newest first (public ones to anyone)."""
    rows, next_cursor = await service.list_challenges(
        session,
        principal=principal,
        status=status,
        sector=sector,
        publisher=publisher,
        limit=limit,
        cursor=cursor,
        now=clock(),
    )
    return Page[ChallengeOut](items=[challenge_out(v) for v in rows], next_cursor=next_cursor)


@router.get("/challenges/{challenge_id}", responses=problems(404))
async def get_challenge(
    challenge_id: Id,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> ChallengeOut:
    challenge = await get_visible(session, challenge_id, principal)
    response.headers["ETag"] = etag(challenge.version)
    return challenge_out(await service.view(session, challenge, principal, clock()))


@router.patch("/challenges/{challenge_id}", responses=problems(403, 404, 409, 412, 428))
async def update_challenge(
    challenge_id: Id,
    body: ChallengePatch,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    if_match: IfMatch = None,
) -> ChallengeOut:
    """Change a draft. Needs If-Match."""
    now = clock()
    challenge = await service.update_challenge(
        session,
        challenge_id=challenge_id,
        data=body,
        if_match=if_match,
        principal=principal,
        now=now,
    )
    await session.commit()
    response.headers["ETag"] = etag(challenge.version)
    return challenge_out(await service.view(session, challenge, principal, now))


@router.post("/challenges/{challenge_id}/publication", responses=problems(403, 404, 409))
async def publish_challenge(
    challenge_id: Id, session: SessionDep, principal: PrincipalDep, clock: ClockDep
) -> ChallengeOut:
    """Open a draft to expressions of interest (its deadline must be in the future)."""
    now = clock()
    challenge = await service.publish(
        session, challenge_id=challenge_id, principal=principal, now=now
    )
    await session.commit()
    return challenge_out(await service.view(session, challenge, principal, now))


@router.post("/challenges/{challenge_id}/closure", responses=problems(403, 404, 409))
async def close_challenge(
    challenge_id: Id, body: ReasonIn, session: SessionDep, principal: PrincipalDep, clock: ClockDep
) -> ChallengeOut:
    """Close an open or evaluating challenge without award (its demand is cancelled)."""
    now = clock()
    challenge = await service.close(
        session, challenge_id=challenge_id, reason=body.reason, principal=principal, now=now
    )
    await session.commit()
    return challenge_out(await service.view(session, challenge, principal, now))


@router.post("/challenges/{challenge_id}/award", responses=problems(403, 404, 409))
async def award_challenge(
    challenge_id: Id, body: AwardIn, session: SessionDep, principal: PrincipalDep, clock: ClockDep
) -> AwardOut:
    """Award a shortlisted expression after the deadline: an engagement opens for each member
    of its team (a lab's with the lab, a firm's with the firm as supplier)."""
    now = clock()
    challenge, opened = await service.award(
        session, challenge_id=challenge_id, data=body, principal=principal, now=now
    )
    await session.commit()
    return AwardOut(
        challenge=challenge_out(await service.view(session, challenge, principal, now)),
        engagements=[await engagement_out(session, e, challenge.publisher_firm_id) for e in opened],
    )


# -- expressions of interest ----------------------------------------------------------------


@router.post(
    "/challenges/{challenge_id}/expressions",
    status_code=201,
    responses=problems(403, 404, 409),
)
async def submit_expression(
    challenge_id: Id,
    body: ExpressionIn,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> ExpressionOut:
    """Express interest, until the deadline: a firm or a centre, with its team."""
    now = clock()
    expression = await expressions.submit(
        session, challenge_id=challenge_id, data=body, principal=principal, now=now
    )
    await session.commit()
    response.headers["Location"] = f"challenges/{challenge_id}/expressions/{expression.id}"
    response.headers["ETag"] = etag(expression.version)
    challenge = await get_visible(session, challenge_id, principal)
    return expression_out(await expressions.view(session, principal, challenge, expression))


@router.get("/challenges/{challenge_id}/expressions", responses=problems(403, 404))
async def list_expressions(
    challenge_id: Id,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[ExpressionOut]:
    """A respondent's own; all of them to the publisher and the Region after the deadline
    (anonymous to the publisher until shortlisted)."""
    rows, next_cursor = await expressions.list_expressions(
        session,
        challenge_id=challenge_id,
        principal=principal,
        limit=limit,
        cursor=cursor,
        now=clock(),
    )
    return Page[ExpressionOut](items=[expression_out(v) for v in rows], next_cursor=next_cursor)


@router.get("/challenges/{challenge_id}/expressions/{expression_id}", responses=problems(403, 404))
async def get_expression(
    challenge_id: Id,
    expression_id: Id,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> ExpressionOut:
    found = await expressions.get_expression(
        session,
        challenge_id=challenge_id,
        expression_id=expression_id,
        principal=principal,
        now=clock(),
    )
    response.headers["ETag"] = etag(found.expression.version)
    return expression_out(found)


@router.patch(
    "/challenges/{challenge_id}/expressions/{expression_id}",
    responses=problems(403, 404, 409, 412, 428),
)
async def update_expression(
    challenge_id: Id,
    expression_id: Id,
    body: ExpressionPatch,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    if_match: IfMatch = None,
) -> ExpressionOut:
    """Change your expression of interest, until the deadline. Needs If-Match."""
    expression = await expressions.update(
        session,
        challenge_id=challenge_id,
        expression_id=expression_id,
        data=body,
        if_match=if_match,
        principal=principal,
        now=clock(),
    )
    await session.commit()
    response.headers["ETag"] = etag(expression.version)
    challenge = await get_visible(session, challenge_id, principal)
    return expression_out(await expressions.view(session, principal, challenge, expression))


@router.post(
    "/challenges/{challenge_id}/expressions/{expression_id}/shortlist",
    responses=problems(403, 404, 409),
)
async def shortlist_expression(
    challenge_id: Id,
    expression_id: Id,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> ExpressionOut:
    """Shortlist an expression after the deadline: the publisher sees who answered."""
    challenge, expression = await expressions.shortlist(
        session,
        challenge_id=challenge_id,
        expression_id=expression_id,
        principal=principal,
        now=clock(),
    )
    await session.commit()
    return expression_out(await expressions.view(session, principal, challenge, expression))


# -- proposed teams -------------------------------------------------------------------------


@router.get("/challenges/{challenge_id}/teams", responses=problems(403, 404))
async def challenge_teams(
    challenge_id: Id,
    session: SessionDep,
    principal: PrincipalDep,
    ranker: RankerDep,
    limit: TeamLimit = 5,
) -> TeamPage:
    """Teams of SMEs and labs that together cover the needs, each member's fit explained
    (to the publisher side and the Region)."""
    found = await proposals.teams_of(
        session, challenge_id=challenge_id, principal=principal, ranker=ranker, limit=limit
    )
    return TeamPage(items=[team_out(p) for p in found])


@router.post(
    "/challenges/{challenge_id}/teams/{team_id}/invitation",
    status_code=201,
    responses=problems(403, 404, 409),
)
async def invite_team(
    challenge_id: Id,
    team_id: Id,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    ranker: RankerDep,
    body: InvitationIn | None = None,
) -> InvitationOut:
    """Invite a proposed team: an introduction to each of its labs; its firms and centres may
    see the challenge and answer it."""
    invitation = await proposals.invite(
        session,
        challenge_id=challenge_id,
        team_id=team_id,
        message=body.message if body else None,
        principal=principal,
        ranker=ranker,
        now=clock(),
    )
    await session.commit()
    return invitation_out(invitation)
