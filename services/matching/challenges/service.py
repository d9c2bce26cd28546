"""The rules of a challenge's life: draft → open → evaluating → awarded | closed.

Plain async functions with keyword-only arguments, as `services.matching.service`: they check
permissions, change rows, record events in the same session, and flush; the caller commits.

- A large firm publishes for itself; the Region or a centre for any registered firm; partners
  and anonymous callers do not. A draft changes (PATCH, If-Match) until published.
- Publication creates the *backing demand* (the publisher's demand with `challenge_id`) and
  records `DemandSubmitted` and `ChallengePublished`.
- Closing without award (open or evaluating) records `ChallengeClosed` and cancels the backing
  demand. The award (evaluating, a shortlisted expression) opens an engagement per member of the
  team on the backing demand (a lab's with the lab as participant, a firm's with the firm as
  supplier), records `EngagementOpened` for each and `ChallengeAwarded`, and puts the demand in
  progress.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from uuid6 import uuid7

from kernel.contracts import matching as contracts
from kernel.errors import Conflict, Forbidden
from kernel.outbox import record_event
from kernel.principal import Principal, Role
from services.matching import engagements
from services.matching.challenges.models import Challenge, ChallengeGuest, Expression
from services.matching.challenges.schemas import (
    AwardIn,
    ChallengeIn,
    ChallengePatch,
    ChallengeStatus,
    Visibility,
)
from services.matching.challenges.visibility import (
    get_managed,
    may_manage,
    status_clause,
    status_of,
    visible_clause,
)
from services.matching.models import Demand, Engagement, Firm, Introduction
from services.matching.paging import page
from services.matching.schemas import DemandStatus, EngagementKind, IntroductionStatus
from services.matching.service import (
    Actor,
    add_demand,
    change_status,
    check_ateco,
    check_if_match,
    flush,
    invalid,
    money,
    need_rows,
    profile,
    require_org,
    today,
)
from services.matching.sizes import SizeClass

KIND = EngagementKind.JOINT_RESEARCH
"""What a challenge's invitations ask for and its award opens: joint work on the challenge."""


@dataclass(frozen=True)
class ChallengeView:
    """A challenge as one caller sees it now."""

    challenge: Challenge
    status: ChallengeStatus
    publisher: Firm
    expressions_count: int
    invited_firm_ids: list[str] | None
    """The firms it lists, for its managers only."""


# -- reading --------------------------------------------------------------------------------


async def counts(session: AsyncSession, challenge_ids: Sequence[str]) -> dict[str, int]:
    """Expressions of interest of each challenge."""
    if not challenge_ids:
        return {}
    rows = await session.execute(
        select(Expression.challenge_id, func.count())
        .where(Expression.challenge_id.in_(challenge_ids))
        .group_by(Expression.challenge_id)
    )
    return {challenge_id: int(count) for challenge_id, count in rows.all()}


async def listed_firms(session: AsyncSession, challenge_id: str) -> list[str]:
    rows = await session.scalars(
        select(ChallengeGuest.org_id)
        .where(
            ChallengeGuest.challenge_id == challenge_id,
            ChallengeGuest.role == Role.FIRM.value,
            ChallengeGuest.team_id.is_(None),
        )
        .order_by(ChallengeGuest.org_id)
    )
    return list(rows)


async def views(
    session: AsyncSession, challenges: Sequence[Challenge], principal: Principal, now: datetime
) -> list[ChallengeView]:
    found = await counts(session, [c.id for c in challenges])
    result = []
    for challenge in challenges:
        publisher = await session.get(Firm, challenge.publisher_firm_id)
        assert publisher is not None
        result.append(
            ChallengeView(
                challenge=challenge,
                status=status_of(challenge, now),
                publisher=publisher,
                expressions_count=found.get(challenge.id, 0),
                invited_firm_ids=(
                    await listed_firms(session, challenge.id)
                    if may_manage(principal, challenge)
                    else None
                ),
            )
        )
    return result


async def view(
    session: AsyncSession, challenge: Challenge, principal: Principal, now: datetime
) -> ChallengeView:
    return (await views(session, [challenge], principal, now))[0]


async def list_challenges(
    session: AsyncSession,
    *,
    principal: Principal,
    status: ChallengeStatus | None,
    sector: str | None,
    publisher: str | None,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> tuple[list[ChallengeView], str | None]:
    """The challenges the caller may see, newest first."""
    statement = select(Challenge)
    visible = visible_clause(principal)
    if visible is not None:
        statement = statement.where(visible)
    if status is not None:
        statement = statement.where(status_clause(status, now))
    if sector is not None:
        statement = statement.where(Challenge.sector == sector)
    if publisher is not None:
        statement = statement.where(Challenge.publisher_firm_id == publisher)
    rows, next_cursor = await page(
        session,
        statement,
        created=Challenge.created_at,
        key=Challenge.id,
        limit=limit,
        cursor=cursor,
        position=lambda row: (row[0].created_at, row[0].id),
        newest_first=True,
    )
    return await views(session, [row[0] for row in rows], principal, now), next_cursor


# -- drafting -------------------------------------------------------------------------------


async def _publisher(
    session: AsyncSession, principal: Principal, publisher_firm_id: str | None
) -> Firm:
    """The firm a challenge is published for, if the caller may publish for it."""
    if principal.role is Role.FIRM:
        org = require_org(principal)
        if publisher_firm_id not in (None, org):
            raise Forbidden("a firm publishes challenges for itself only")
        firm = await session.get(Firm, org)
        if firm is None:
            raise Forbidden("your firm is not registered in matching")
        if firm.size_class != SizeClass.LARGE.value:
            raise Forbidden(
                f"only a large enterprise publishes challenges: {firm.name} is a "
                f"{firm.size_class} enterprise (the Region or a centre may publish one on its "
                "behalf)"
            )
        return firm
    if principal.role not in (Role.REGION, Role.CENTRE):
        raise Forbidden(
            "a challenge is published by a large enterprise, or by the Region or a centre on "
            "a firm's behalf"
        )
    if principal.role is Role.CENTRE:
        require_org(principal)
    if publisher_firm_id is None:
        raise invalid(
            "publisher_firm_id",
            "the Region or a centre publishes on behalf of a registered firm: give its id",
            "missing",
        )
    firm = await session.get(Firm, publisher_firm_id)
    if firm is None:
        raise invalid("publisher_firm_id", "no firm with this id is registered", "unknown")
    # A centre acts for the firms it registered, as it submits demands for them only.
    if principal.role is Role.CENTRE and firm.registered_by_org_id != principal.org_id:
        raise Forbidden(
            "a centre publishes challenges on behalf of the firms it registered only "
            "(the Region may publish for any firm)"
        )
    return firm


FIELDS = (
    "title",
    "description",
    "needs",
    "sector",
    "trl_expected",
    "budget_eur",
    "prize_eur",
    "deadline",
    "visibility",
    "invited_firm_ids",
    "criteria",
)
"""What a draft's body sets (the same in ChallengeIn and ChallengePatch)."""


def _stored(changes: dict[str, Any]) -> dict[str, Any]:
    """Fields of a body as the row stores them."""
    values = dict(changes)
    if "needs" in values:
        values["needs"] = need_rows(values["needs"])
    if "criteria" in values:
        values["criteria"] = [c.model_dump() for c in values["criteria"]]
    if "visibility" in values:
        values["visibility"] = Visibility(values["visibility"]).value
    return values


def _check_deadline(deadline: datetime, now: datetime) -> None:
    if deadline <= now:
        raise invalid(
            "deadline",
            f"the deadline {deadline.isoformat()} is not in the future: expressions of interest "
            "need time to arrive",
        )


async def _check(
    session: AsyncSession, values: dict[str, Any], publisher: Firm, now: datetime
) -> list[str]:
    """Check the stored values of a draft (normalising the sector); the firms it invites."""
    values["sector"] = (
        check_ateco(values["sector"], "sector").code if values.get("sector") else None
    ) or publisher.ateco_code
    _check_deadline(values["deadline"], now)
    invited = list(dict.fromkeys(values.pop("invited_firm_ids", None) or []))
    if invited and values["visibility"] != Visibility.INVITED.value:
        raise invalid(
            "invited_firm_ids", "only a challenge of visibility `invited` lists firms to invite"
        )
    for position, firm_id in enumerate(invited):
        if firm_id == publisher.id:
            raise invalid(f"invited_firm_ids.{position}", "the publisher cannot invite itself")
        if await session.get(Firm, firm_id) is None:
            raise invalid(
                f"invited_firm_ids.{position}", "no firm with this id is registered", "unknown"
            )
    return invited


async def _list_firms(
    session: AsyncSession, challenge: Challenge, firm_ids: list[str], now: datetime
) -> None:
    """Replace the firms the challenge lists (before publication, no team is a guest yet)."""
    await session.execute(
        delete(ChallengeGuest).where(
            ChallengeGuest.challenge_id == challenge.id, ChallengeGuest.team_id.is_(None)
        )
    )
    for firm_id in firm_ids:
        session.add(
            ChallengeGuest(
                challenge_id=challenge.id,
                role=Role.FIRM.value,
                org_id=firm_id,
                team_id=None,
                added_at=now,
            )
        )
    await flush(session)


async def create_challenge(
    session: AsyncSession, *, data: ChallengeIn, principal: Principal, now: datetime
) -> Challenge:
    """A draft, or (`status: open`) a published challenge."""
    publisher = await _publisher(session, principal, data.publisher_firm_id)
    values = _stored({name: getattr(data, name) for name in FIELDS})
    invited = await _check(session, values, publisher, now)
    actor = Actor.of(principal)
    challenge = Challenge(
        id=str(uuid7()),
        publisher_firm_id=publisher.id,
        demand_id=None,
        **values,
        status=ChallengeStatus.DRAFT.value,
        created_by_role=actor.role,
        created_by_org_id=actor.org_id,
        created_by_key_id=actor.key_id,
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(challenge)
    await flush(session)
    await _list_firms(session, challenge, invited, now)
    if data.status == ChallengeStatus.OPEN.value:
        await _publish(session, challenge, publisher, actor, now)
    return challenge


async def update_challenge(
    session: AsyncSession,
    *,
    challenge_id: str,
    data: ChallengePatch,
    if_match: str | None,
    principal: Principal,
    now: datetime,
) -> Challenge:
    """Change a draft (its publisher side or the Region; If-Match)."""
    challenge = await get_managed(session, challenge_id, principal)
    check_if_match(if_match, challenge.version, "the challenge")
    if challenge.status != ChallengeStatus.DRAFT.value:
        raise Conflict(
            f"only a draft changes: this challenge is {status_of(challenge, now).value}",
            current_status=status_of(challenge, now).value,
        )
    publisher = await session.get(Firm, challenge.publisher_firm_id)
    assert publisher is not None
    changes = _stored(data.changes())
    values: dict[str, Any] = {
        "title": challenge.title,
        "description": challenge.description,
        "needs": challenge.needs,
        "sector": challenge.sector,
        "trl_expected": challenge.trl_expected,
        "budget_eur": challenge.budget_eur,
        "prize_eur": challenge.prize_eur,
        "deadline": challenge.deadline,
        "visibility": challenge.visibility,
        "criteria": challenge.criteria,
        "invited_firm_ids": await listed_firms(session, challenge.id),
    } | changes
    invited = await _check(session, values, publisher, now)
    for name, value in values.items():
        setattr(challenge, name, value)
    challenge.updated_at = now
    challenge.version += 1
    await flush(session)
    await _list_firms(session, challenge, invited, now)
    return challenge


# -- publication, closure -------------------------------------------------------------------


def challenge_state(challenge: Challenge, publisher: Firm, now: datetime) -> dict[str, Any]:
    """The fields every challenge event carries (a published challenge's)."""
    assert challenge.demand_id is not None and challenge.published_at is not None
    assert challenge.published_by_role is not None
    return {
        "challenge_id": challenge.id,
        "demand_id": challenge.demand_id,
        "publisher": profile(publisher),
        "published_by": contracts.Actor(
            role=challenge.published_by_role,
            org_id=challenge.published_by_org_id,
            key_id=challenge.published_by_key_id,
        ),
        "title": challenge.title,
        "needs": [contracts.Need(text=n["text"], tags=n.get("tags", {})) for n in challenge.needs],
        "needs_count": len(challenge.needs),
        "sector": challenge.sector,
        "trl_expected": challenge.trl_expected,
        "budget_eur": money(challenge.budget_eur),
        "prize_eur": money(challenge.prize_eur),
        "deadline": challenge.deadline,
        "visibility": challenge.visibility,
        "status": status_of(challenge, now).value,
        "published_at": challenge.published_at,
    }


async def _publish(
    session: AsyncSession, challenge: Challenge, publisher: Firm, actor: Actor, now: datetime
) -> None:
    _check_deadline(challenge.deadline, now)
    demand = await add_demand(
        session,
        firm=publisher,
        fields={
            "title": challenge.title,
            "description": challenge.description,
            "needs": challenge.needs,
            "sector": challenge.sector,
            "trl_current": None,
            "trl_target": challenge.trl_expected,
            "budget_eur": challenge.budget_eur,
            "deadline": today(challenge.deadline),
            "preferred_provinces": [],
        },
        actor=actor,
        assisting_centre_id=actor.org_id if actor.role == Role.CENTRE.value else None,
        challenge_id=challenge.id,
        now=now,
    )
    challenge.demand_id = demand.id
    challenge.status = ChallengeStatus.OPEN.value
    challenge.published_at = now
    challenge.published_by_role = actor.role
    challenge.published_by_org_id = actor.org_id
    challenge.published_by_key_id = actor.key_id
    challenge.updated_at = now
    challenge.version += 1
    await flush(session)
    await record_event(
        session,
        contracts.ChallengePublished(**challenge_state(challenge, publisher, now)),
        subject=challenge.id,
        aggregate_version=challenge.version,
    )


async def publish(
    session: AsyncSession, *, challenge_id: str, principal: Principal, now: datetime
) -> Challenge:
    challenge = await get_managed(session, challenge_id, principal)
    if challenge.status != ChallengeStatus.DRAFT.value:
        raise Conflict(
            f"the challenge is already {status_of(challenge, now).value}",
            current_status=status_of(challenge, now).value,
        )
    publisher = await session.get(Firm, challenge.publisher_firm_id)
    assert publisher is not None
    await _publish(session, challenge, publisher, Actor.of(principal), now)
    return challenge


def check_running(challenge: Challenge, now: datetime, doing: str) -> ChallengeStatus:
    """The status, if open or evaluating (409 otherwise)."""
    status = status_of(challenge, now)
    if status not in (ChallengeStatus.OPEN, ChallengeStatus.EVALUATING):
        raise Conflict(
            f"a challenge that is {status.value} cannot be {doing}",
            current_status=status.value,
            allowed=[ChallengeStatus.OPEN.value, ChallengeStatus.EVALUATING.value],
        )
    return status


async def backing(session: AsyncSession, challenge: Challenge) -> tuple[Demand, Firm]:
    """The backing demand of a published challenge, and its publisher."""
    assert challenge.demand_id is not None, "a draft has no demand"
    demand = await session.get(Demand, challenge.demand_id)
    publisher = await session.get(Firm, challenge.publisher_firm_id)
    assert demand is not None and publisher is not None
    return demand, publisher


def touch(challenge: Challenge, now: datetime) -> None:
    """A change of the challenge: its status as of now is stored, its version moves on."""
    challenge.status = status_of(challenge, now).value
    challenge.updated_at = now
    challenge.version += 1


async def close(
    session: AsyncSession, *, challenge_id: str, reason: str, principal: Principal, now: datetime
) -> Challenge:
    """Close without award; the backing demand is cancelled."""
    challenge = await get_managed(session, challenge_id, principal)
    check_running(challenge, now, "closed")
    demand, publisher = await backing(session, challenge)
    actor = Actor.of(principal)
    touch(challenge, now)
    challenge.status = ChallengeStatus.CLOSED.value
    challenge.closed_at = now
    challenge.close_reason = reason
    await flush(session)
    await record_event(
        session,
        contracts.ChallengeClosed(
            **challenge_state(challenge, publisher, now),
            expressions_count=(await counts(session, [challenge.id])).get(challenge.id, 0),
            reason=reason,
            closed_at=now,
            closed_by=actor.contract(),
        ),
        subject=challenge.id,
        aggregate_version=challenge.version,
    )
    if DemandStatus(demand.status) not in (DemandStatus.CLOSED, DemandStatus.CANCELLED):
        await change_status(
            session,
            demand=demand,
            firm=publisher,
            to=DemandStatus.CANCELLED,
            actor=actor,
            reason=f"its challenge was closed without award: {reason}",
            now=now,
        )
    return challenge


# -- the award ------------------------------------------------------------------------------


def need_indexes(expression_responses: list[dict[str, Any]], position: int) -> list[int]:
    """The needs that the member at `position` meets, by the responses."""
    return sorted({r["need_index"] for r in expression_responses if position in r["members"]})


async def team_contract(
    session: AsyncSession, members: list[dict[str, Any]], needs_of: list[list[int]]
) -> list[contracts.ChallengeTeamMember]:
    """A team in events: firms with their profile, labs with their centre."""
    team = []
    for member, covered in zip(members, needs_of, strict=True):
        if member["kind"] == "firm":
            firm = await session.get(Firm, member["firm_id"])
            assert firm is not None
            team.append(
                contracts.ChallengeTeamMember(kind="firm", firm=profile(firm), need_indexes=covered)
            )
        else:
            team.append(
                contracts.ChallengeTeamMember(
                    kind="lab",
                    lab_id=member["lab_id"],
                    centre_id=member["centre_id"],
                    need_indexes=covered,
                )
            )
    return team


def sme_count(team: list[contracts.ChallengeTeamMember]) -> int:
    return sum(m.firm is not None and m.firm.sme for m in team)


async def _open_for(
    session: AsyncSession,
    *,
    challenge: Challenge,
    demand: Demand,
    publisher: Firm,
    member: dict[str, Any],
    now: datetime,
) -> Engagement:
    """The engagement of one awarded member: a lab takes part (with its accepted invitation,
    if it had one); a firm is the supplier."""
    is_firm = member["kind"] == "firm"
    engagement = await engagements.start_engagement(
        session,
        demand=demand,
        kind=KIND.value,
        challenge_id=challenge.id,
        supplier_firm_id=member["firm_id"] if is_firm else None,
        now=now,
    )
    if not is_firm:
        invitation = await session.scalar(
            select(Introduction.id).where(
                Introduction.demand_id == demand.id,
                Introduction.lab_id == member["lab_id"],
                Introduction.status == IntroductionStatus.ACCEPTED.value,
            )
        )
        engagements.join(
            session,
            engagement,
            lab_id=member["lab_id"],
            centre_id=member["centre_id"],
            introduction_id=invitation,
            now=now,
        )
        await flush(session)
    await record_event(
        session,
        contracts.EngagementOpened(
            **await engagements.engagement_contract(session, engagement, publisher)
        ),
        subject=engagement.id,
        aggregate_version=engagement.version,
    )
    return engagement


async def award(
    session: AsyncSession, *, challenge_id: str, data: AwardIn, principal: Principal, now: datetime
) -> tuple[Challenge, list[Engagement]]:
    """Award a shortlisted expression after the deadline: an engagement per member."""
    challenge = await get_managed(session, challenge_id, principal)
    status = status_of(challenge, now)
    if status is not ChallengeStatus.EVALUATING:
        why = (
            f"its deadline ({challenge.deadline.isoformat()}) has not passed"
            if status is ChallengeStatus.OPEN
            else f"it is {status.value}"
        )
        raise Conflict(
            f"the challenge cannot be awarded: {why}",
            current_status=status.value,
            allowed=[ChallengeStatus.EVALUATING.value],
        )
    expression = await session.get(Expression, data.expression_id)
    if expression is None or expression.challenge_id != challenge.id:
        raise invalid(
            "expression_id",
            "no expression of interest of this challenge has this id: only a team that "
            "answered the challenge can be awarded",
            "unknown",
        )
    if not expression.shortlisted:
        raise Conflict(
            "shortlist this expression of interest before awarding it",
            expression_id=expression.id,
        )
    demand, publisher = await backing(session, challenge)
    actor = Actor.of(principal)
    opened = [
        await _open_for(
            session, challenge=challenge, demand=demand, publisher=publisher, member=m, now=now
        )
        for m in expression.members
    ]
    touch(challenge, now)
    challenge.status = ChallengeStatus.AWARDED.value
    challenge.awarded_expression_id = expression.id
    challenge.award_value_eur = data.value_eur
    challenge.closed_at = now
    await flush(session)
    team = await team_contract(
        session,
        expression.members,
        [need_indexes(expression.responses, i) for i in range(len(expression.members))],
    )
    await record_event(
        session,
        contracts.ChallengeAwarded(
            **challenge_state(challenge, publisher, now),
            expression_id=expression.id,
            team=team,
            value_eur=money(data.value_eur) or "0.00",
            engagement_ids=[e.id for e in opened],
            expressions_count=(await counts(session, [challenge.id])).get(challenge.id, 0),
            awarded_at=now,
            awarded_by=actor.contract(),
        ),
        subject=challenge.id,
        aggregate_version=challenge.version,
    )
    if demand.status != DemandStatus.IN_PROGRESS.value:
        await change_status(
            session,
            demand=demand,
            firm=publisher,
            to=DemandStatus.IN_PROGRESS,
            actor=actor,
            reason="its challenge was awarded",
            now=now,
        )
    return challenge, opened
