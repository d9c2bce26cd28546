"""Who sees a challenge, who manages it, and what its status is now.

- The *publisher side*: the publishing firm's principals, and the principal (a centre, the
  Region) that drafted or published it on the firm's behalf. It manages the challenge, and so
  does the Region.
- A draft is seen by its publisher side and the Region only. Once published: `public` by
  anyone, anonymous callers included; `members` by any authenticated principal; `invited` by
  the Region, the publisher side and the challenge's guests (the firms it lists, the firms and
  centres of the teams it invited). Whoever may not see a challenge gets a 404, as if it were
  not there.
- An open challenge whose deadline has passed is `evaluating` (`status_of`): computed on every
  read and write, and stored by the next write of the challenge, so that nothing has to happen
  at the deadline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.errors import Forbidden, NotFound
from kernel.principal import Principal, Role
from services.matching.challenges.models import Challenge, ChallengeGuest
from services.matching.challenges.schemas import ChallengeStatus, Visibility

GUEST_ROLES = (Role.FIRM, Role.CENTRE)


def status_of(challenge: Challenge, now: datetime) -> ChallengeStatus:
    if challenge.status == ChallengeStatus.OPEN.value and now >= challenge.deadline:
        return ChallengeStatus.EVALUATING
    return ChallengeStatus(challenge.status)


def status_clause(status: ChallengeStatus, now: datetime) -> Any:
    """`status_of(challenge, now) == status` in SQL."""
    if status is ChallengeStatus.OPEN:
        return and_(Challenge.status == status.value, Challenge.deadline > now)
    if status is ChallengeStatus.EVALUATING:
        return or_(
            Challenge.status == status.value,
            and_(Challenge.status == ChallengeStatus.OPEN.value, Challenge.deadline <= now),
        )
    return Challenge.status == status.value


def is_publisher_side(principal: Principal, challenge: Challenge) -> bool:
    org = principal.org_id
    if org is None:
        return False
    if principal.role is Role.FIRM and org == challenge.publisher_firm_id:
        return True
    role = principal.role.value
    return (role, org) in (
        (challenge.created_by_role, challenge.created_by_org_id),
        (challenge.published_by_role, challenge.published_by_org_id),
    )


def may_manage(principal: Principal, challenge: Challenge) -> bool:
    return principal.role is Role.REGION or is_publisher_side(principal, challenge)


async def is_guest(session: AsyncSession, principal: Principal, challenge_id: str) -> bool:
    if principal.role not in GUEST_ROLES or not principal.org_id:
        return False
    found = await session.scalar(
        select(ChallengeGuest.org_id).where(
            ChallengeGuest.challenge_id == challenge_id,
            ChallengeGuest.role == principal.role.value,
            ChallengeGuest.org_id == principal.org_id,
        )
    )
    return found is not None


async def may_see(session: AsyncSession, principal: Principal, challenge: Challenge) -> bool:
    if may_manage(principal, challenge):
        return True
    if challenge.status == ChallengeStatus.DRAFT.value:
        return False
    if challenge.visibility == Visibility.PUBLIC.value:
        return True
    if principal.is_anonymous:
        return False
    if challenge.visibility == Visibility.MEMBERS.value:
        return True
    return await is_guest(session, principal, challenge.id)


def visible_clause(principal: Principal) -> Any:
    """`may_see` in SQL (None: everything, for the Region)."""
    if principal.role is Role.REGION:
        return None
    published = Challenge.status != ChallengeStatus.DRAFT.value
    seen = [Challenge.visibility == Visibility.PUBLIC.value]
    if not principal.is_anonymous:
        seen.append(Challenge.visibility == Visibility.MEMBERS.value)
    org = principal.org_id
    if principal.role in GUEST_ROLES and org:
        seen.append(
            and_(
                Challenge.visibility == Visibility.INVITED.value,
                exists().where(
                    ChallengeGuest.challenge_id == Challenge.id,
                    ChallengeGuest.role == principal.role.value,
                    ChallengeGuest.org_id == org,
                ),
            )
        )
    conditions = [and_(published, or_(*seen))]
    if org:
        role = principal.role.value
        conditions += [
            and_(Challenge.created_by_role == role, Challenge.created_by_org_id == org),
            and_(Challenge.published_by_role == role, Challenge.published_by_org_id == org),
        ]
        if principal.role is Role.FIRM:
            conditions.append(Challenge.publisher_firm_id == org)
    return or_(*conditions)


async def get_visible(session: AsyncSession, challenge_id: str, principal: Principal) -> Challenge:
    challenge = await session.get(Challenge, challenge_id)
    if challenge is None or not await may_see(session, principal, challenge):
        raise NotFound(f"no challenge {challenge_id}")
    return challenge


async def get_managed(session: AsyncSession, challenge_id: str, principal: Principal) -> Challenge:
    """A challenge the caller manages (404 if it may not see it, 403 if it only sees it)."""
    challenge = await get_visible(session, challenge_id, principal)
    if not may_manage(principal, challenge):
        raise Forbidden("only the publisher of the challenge, or the Region, may do this")
    return challenge
