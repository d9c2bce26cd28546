"""Expressions of interest: a firm, a centre, or a team of both answers an open challenge.

- The respondent is the caller's organisation: a firm (not the publisher) or a centre that may
  see the challenge; one expression each (a second is a 409 naming the first: update it, with
  If-Match, until the deadline). Its team lists registered firms and visible labs of the
  catalogue, the respondent among them (its firm, or a lab of its own centre); its responses
  say how the team meets each need. The first submission records `ExpressionSubmitted`.
- Reading: a respondent reads its own, any time. The publisher side and the Region read all of
  them, after the deadline only (before, a 403 tells how many there are: the count is public on
  the challenge). To the publisher side an expression that is not shortlisted is anonymous:
  `Respondent N` (by order of submission), members without ids, names or centres (a firm's
  size class, province and sector; a lab's province), as partnering networks do; shortlisting
  (after the deadline) reveals it. The Region sees everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from uuid6 import uuid7

from kernel.contracts import matching as contracts
from kernel.errors import Conflict, Forbidden, NotFound
from kernel.outbox import record_event
from kernel.principal import Principal, Role
from services.matching.challenges.models import Challenge, Expression
from services.matching.challenges.schemas import (
    ChallengeStatus,
    ExpressionIn,
    ExpressionPatch,
    MemberIn,
    ResponseIn,
)
from services.matching.challenges.service import counts, need_indexes, sme_count, team_contract
from services.matching.challenges.visibility import (
    get_managed,
    get_visible,
    is_publisher_side,
    may_manage,
    status_of,
)
from services.matching.index import lab_row
from services.matching.models import CatalogEntry, Firm
from services.matching.paging import page
from services.matching.service import (
    Actor,
    check_if_match,
    flush,
    invalid,
    profile,
    require_org,
)


@dataclass(frozen=True)
class MemberView:
    kind: str
    firm_id: str | None
    lab_id: str | None
    name: str | None
    centre_id: str | None
    size_class: str | None
    sme: bool | None
    province: str | None
    sector: str | None


@dataclass(frozen=True)
class ExpressionView:
    expression: Expression
    alias: str
    anonymous: bool
    members: list[MemberView]


# -- answering ------------------------------------------------------------------------------


def _respondent(principal: Principal, challenge: Challenge) -> tuple[str, str]:
    """(kind, organisation id) of the caller as a respondent."""
    if principal.role not in (Role.FIRM, Role.CENTRE):
        raise Forbidden("a firm or a centre expresses interest in a challenge")
    org = require_org(principal)
    if is_publisher_side(principal, challenge):
        raise Forbidden("the publisher side does not answer its own challenge")
    return principal.role.value, org


def _check_open(challenge: Challenge, now: datetime) -> None:
    status = status_of(challenge, now)
    if status is ChallengeStatus.EVALUATING:
        raise Conflict(
            f"the deadline ({challenge.deadline.isoformat()}) has passed: the challenge takes "
            "no more expressions of interest",
            current_status=status.value,
        )
    if status is not ChallengeStatus.OPEN:
        raise Conflict(
            f"the challenge is {status.value}: it takes no expressions of interest",
            current_status=status.value,
        )


async def _members(
    session: AsyncSession,
    members: Sequence[MemberIn],
    *,
    challenge: Challenge,
    kind: str,
    org: str,
) -> list[dict[str, Any]]:
    """The team as stored, checked: registered firms, visible labs, no repeats, the
    respondent among them."""
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for position, member in enumerate(members):
        if member.firm_id is not None:
            field = f"members.{position}.firm_id"
            firm = await session.get(Firm, member.firm_id)
            if firm is None:
                raise invalid(field, "no firm with this id is registered", "unknown")
            if firm.id == challenge.publisher_firm_id:
                raise invalid(field, "the publisher is not a member of a team answering it")
            # No firm is put in a team without its say: a firm answers for itself, a centre
            # for the firms it registered (an award opens an engagement with each of them).
            if not (
                (kind == Role.FIRM.value and firm.id == org)
                or (kind == Role.CENTRE.value and firm.registered_by_org_id == org)
            ):
                raise invalid(
                    field,
                    "a firm joins a team by answering itself, or through the centre that "
                    "registered it",
                    "consent",
                )
            row = {"kind": "firm", "firm_id": firm.id}
        else:
            assert member.lab_id is not None
            field = f"members.{position}.lab_id"
            lab = await lab_row(session, member.lab_id)
            if lab is None or not lab.visible:
                raise invalid(
                    field,
                    "not a lab of the catalogue (published, of an active member centre)",
                    "unknown",
                )
            row = {"kind": "lab", "lab_id": lab.id, "centre_id": lab.centre_id}
        identity = (row["kind"], row.get("firm_id") or row["lab_id"])
        if identity in seen:
            raise invalid(f"members.{position}", "this member is already in the team", "duplicate")
        seen.add(identity)
        rows.append(row)
    if kind == Role.FIRM.value and ("firm", org) not in seen:
        raise invalid("members", f'the team must include your firm: {{"firm_id": "{org}"}}')
    if kind == Role.CENTRE.value and not any(r.get("centre_id") == org for r in rows):
        raise invalid("members", "the team must include at least one lab of your centre")
    return rows


def _responses(
    responses: Sequence[ResponseIn], *, needs: int, members: int
) -> list[dict[str, Any]]:
    rows = []
    answered: set[int] = set()
    for position, response in enumerate(responses):
        if response.need_index >= needs:
            raise invalid(
                f"responses.{position}.need_index",
                f"the challenge has {needs} need(s): indexes from 0 to {needs - 1}",
            )
        if response.need_index in answered:
            raise invalid(f"responses.{position}.need_index", "one response per need", "duplicate")
        answered.add(response.need_index)
        for index, member in enumerate(response.members):
            if member >= members:
                raise invalid(
                    f"responses.{position}.members.{index}",
                    f"the team has {members} member(s): indexes from 0 to {members - 1}",
                )
        rows.append(
            {
                "need_index": response.need_index,
                "text": response.text,
                "members": sorted(set(response.members)),
            }
        )
    return rows


async def submit(
    session: AsyncSession,
    *,
    challenge_id: str,
    data: ExpressionIn,
    principal: Principal,
    now: datetime,
) -> Expression:
    challenge = await get_visible(session, challenge_id, principal)
    kind, org = _respondent(principal, challenge)
    _check_open(challenge, now)
    existing = await session.scalar(
        select(Expression.id).where(
            Expression.challenge_id == challenge.id,
            Expression.respondent_kind == kind,
            Expression.respondent_org_id == org,
        )
    )
    if existing is not None:
        raise Conflict(
            "you already expressed interest in this challenge: update that expression "
            f"(PATCH challenges/{challenge.id}/expressions/{existing}) instead",
            expression_id=existing,
        )
    members = await _members(session, data.members, challenge=challenge, kind=kind, org=org)
    responses = _responses(data.responses, needs=len(challenge.needs), members=len(members))
    actor = Actor.of(principal)
    expression = Expression(
        id=str(uuid7()),
        challenge_id=challenge.id,
        respondent_kind=kind,
        respondent_org_id=org,
        members=members,
        responses=responses,
        message=data.message,
        shortlisted=False,
        shortlisted_at=None,
        submitted_at=now,
        submitted_by_role=actor.role,
        submitted_by_org_id=actor.org_id,
        submitted_by_key_id=actor.key_id,
        updated_at=now,
        version=1,
    )
    session.add(expression)
    await flush(session)
    publisher = await session.get(Firm, challenge.publisher_firm_id)
    assert publisher is not None
    team = await team_contract(
        session, members, [need_indexes(responses, i) for i in range(len(members))]
    )
    await record_event(
        session,
        contracts.ExpressionSubmitted(
            expression_id=expression.id,
            challenge_id=challenge.id,
            publisher=profile(publisher),
            respondent_kind="firm" if kind == Role.FIRM.value else "centre",
            respondent_org_id=org,
            team=team,
            sme_count=sme_count(team),
            lab_count=sum(m.kind == "lab" for m in team),
            submitted_at=now,
            submitted_by=actor.contract(),
        ),
        subject=expression.id,
        aggregate_version=expression.version,
    )
    return expression


def _own(principal: Principal, expression: Expression) -> bool:
    return (
        principal.org_id is not None
        and principal.role.value == expression.respondent_kind
        and principal.org_id == expression.respondent_org_id
    )


async def _of(session: AsyncSession, challenge: Challenge, expression_id: str) -> Expression:
    expression = await session.get(Expression, expression_id)
    if expression is None or expression.challenge_id != challenge.id:
        raise NotFound(f"no expression of interest {expression_id} of this challenge")
    return expression


async def update(
    session: AsyncSession,
    *,
    challenge_id: str,
    expression_id: str,
    data: ExpressionPatch,
    if_match: str | None,
    principal: Principal,
    now: datetime,
) -> Expression:
    """The respondent changes its expression, until the deadline (no event)."""
    challenge = await get_visible(session, challenge_id, principal)
    expression = await _of(session, challenge, expression_id)
    if not _own(principal, expression):
        raise Forbidden("only its respondent changes an expression of interest")
    check_if_match(if_match, expression.version, "the expression of interest")
    _check_open(challenge, now)
    fields = data.model_fields_set
    members = (
        await _members(
            session,
            data.members or [],
            challenge=challenge,
            kind=expression.respondent_kind,
            org=expression.respondent_org_id,
        )
        if "members" in fields
        else expression.members
    )
    responses = (
        _responses(data.responses or [], needs=len(challenge.needs), members=len(members))
        if "responses" in fields
        else expression.responses
    )
    if "responses" not in fields:  # the stored responses must still name members of the team
        for position, response in enumerate(responses):
            if any(m >= len(members) for m in response["members"]):
                raise invalid(
                    "members",
                    f"response {position} names a member the new team has not: give the "
                    "responses too",
                )
    expression.members = members
    expression.responses = responses
    if "message" in fields:
        expression.message = data.message
    expression.updated_at = now
    expression.version += 1
    await flush(session)
    return expression


async def shortlist(
    session: AsyncSession,
    *,
    challenge_id: str,
    expression_id: str,
    principal: Principal,
    now: datetime,
) -> tuple[Challenge, Expression]:
    """Reveal an expression to the publisher (after the deadline; again: no change)."""
    challenge = await get_managed(session, challenge_id, principal)
    status = status_of(challenge, now)
    if status is not ChallengeStatus.EVALUATING:
        raise Conflict(
            "expressions are shortlisted after the deadline, while the challenge is evaluated: "
            f"it is {status.value}",
            current_status=status.value,
            allowed=[ChallengeStatus.EVALUATING.value],
        )
    expression = await _of(session, challenge, expression_id)
    if not expression.shortlisted:
        expression.shortlisted = True
        expression.shortlisted_at = now
        expression.updated_at = now
        expression.version += 1
        await flush(session)
    return challenge, expression


# -- reading --------------------------------------------------------------------------------


def _forbid_before_deadline(challenge: Challenge, count: int, now: datetime) -> None:
    if now < challenge.deadline:
        raise Forbidden(
            f"{count} expression(s) of interest so far: their content is read after the "
            f"deadline ({challenge.deadline.isoformat()})",
            expressions_count=count,
            deadline=challenge.deadline.isoformat(),
        )


async def _count(session: AsyncSession, challenge_id: str) -> int:
    return (await counts(session, [challenge_id])).get(challenge_id, 0)


async def _order(session: AsyncSession, challenge_id: str) -> dict[str, int]:
    """Each expression's number, by order of submission (its alias)."""
    ids = await session.scalars(
        select(Expression.id)
        .where(Expression.challenge_id == challenge_id)
        .order_by(Expression.submitted_at, Expression.id)
    )
    return {expression_id: number for number, expression_id in enumerate(ids, start=1)}


async def _member_view(
    session: AsyncSession, member: dict[str, Any], anonymous: bool
) -> MemberView:
    if member["kind"] == "firm":
        firm = await session.get(Firm, member["firm_id"])
        assert firm is not None
        return MemberView(
            kind="firm",
            firm_id=None if anonymous else firm.id,
            lab_id=None,
            name=None if anonymous else firm.name,
            centre_id=None,
            size_class=firm.size_class,
            sme=profile(firm).sme,
            province=firm.province,
            sector=firm.ateco_code,
        )
    lab: CatalogEntry | None = await lab_row(session, member["lab_id"])
    names = (lab.lab_name or lab.title) if lab is not None else {}
    return MemberView(
        kind="lab",
        lab_id=None if anonymous else member["lab_id"],
        firm_id=None,
        name=None if anonymous else (names.get("it") or names.get("en")),
        centre_id=None if anonymous else member["centre_id"],
        size_class=None,
        sme=None,
        province=lab.province if lab is not None else None,
        sector=None,
    )


async def _views(
    session: AsyncSession,
    principal: Principal,
    challenge: Challenge,
    expressions: Sequence[Expression],
) -> list[ExpressionView]:
    numbers = await _order(session, challenge.id)
    publisher_side = is_publisher_side(principal, challenge)
    result = []
    for expression in expressions:
        anonymous = publisher_side and not expression.shortlisted
        result.append(
            ExpressionView(
                expression=expression,
                alias=f"Respondent {numbers[expression.id]}",
                anonymous=anonymous,
                members=[await _member_view(session, m, anonymous) for m in expression.members],
            )
        )
    return result


async def list_expressions(
    session: AsyncSession,
    *,
    challenge_id: str,
    principal: Principal,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> tuple[list[ExpressionView], str | None]:
    """All of them to the publisher side and the Region after the deadline; to anyone else
    their own."""
    challenge = await get_visible(session, challenge_id, principal)
    statement = select(Expression).where(Expression.challenge_id == challenge.id)
    if may_manage(principal, challenge):
        _forbid_before_deadline(challenge, await _count(session, challenge.id), now)
    elif principal.org_id is not None:
        statement = statement.where(
            Expression.respondent_kind == principal.role.value,
            Expression.respondent_org_id == principal.org_id,
        )
    else:
        return [], None
    rows, next_cursor = await page(
        session,
        statement,
        created=Expression.submitted_at,
        key=Expression.id,
        limit=limit,
        cursor=cursor,
        position=lambda row: (row[0].submitted_at, row[0].id),
    )
    return await _views(session, principal, challenge, [row[0] for row in rows]), next_cursor


async def get_expression(
    session: AsyncSession,
    *,
    challenge_id: str,
    expression_id: str,
    principal: Principal,
    now: datetime,
) -> ExpressionView:
    challenge = await get_visible(session, challenge_id, principal)
    expression = await _of(session, challenge, expression_id)
    if not _own(principal, expression):
        if not may_manage(principal, challenge):
            raise Forbidden("a respondent reads its own expression of interest only")
        _forbid_before_deadline(challenge, await _count(session, challenge.id), now)
    return (await _views(session, principal, challenge, [expression]))[0]


async def view(
    session: AsyncSession, principal: Principal, challenge: Challenge, expression: Expression
) -> ExpressionView:
    return (await _views(session, principal, challenge, [expression]))[0]
