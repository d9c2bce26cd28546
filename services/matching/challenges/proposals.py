"""The teams the platform proposes for a challenge, and the publisher's invitations.

For each need, the candidates are the labs of the catalogue index (ranked for the need's text
and tags, as a demand's consortia are) and the SMEs with capabilities (micro, small or medium
firms other than the publisher, ranked the same way over a per-request index of their
capabilities: `capabilities.py`); `teams.propose` builds and ranks the teams. Every member's fit
is explained with the ranking's own explanation.

Inviting a proposed team (open or evaluating; once per team) introduces the publisher to each
of its labs (an introduction on the backing demand, which the lab's centre accepts or declines
as any other, without opening an engagement: the award does), makes its firms and centres
guests (they may see an `invited` challenge and answer it), and records `ChallengeTeamInvited`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from uuid6 import uuid7

from kernel.contracts import matching as contracts
from kernel.errors import Conflict, NotFound
from kernel.outbox import record_event
from kernel.principal import Principal, Role
from services.matching import capabilities, engagements, ranking
from services.matching.challenges import teams
from services.matching.challenges.models import (
    Challenge,
    ChallengeGuest,
    Expression,
    Invitation,
)
from services.matching.challenges.service import (
    KIND,
    backing,
    challenge_state,
    check_running,
    team_contract,
    touch,
)
from services.matching.challenges.visibility import get_managed, is_publisher_side
from services.matching.documents import make_query
from services.matching.geo import locate
from services.matching.index import lab_row
from services.matching.matcher import RequestRanker
from services.matching.models import Firm, Introduction
from services.matching.ranking import Match
from services.matching.schemas import IntroductionStatus
from services.matching.service import Actor, flush
from services.matching.text import detect_language

CANDIDATES = 8
"""Labs, and SMEs, per need considered for teams."""
INVITABLE = 20
"""The teams an invitation is looked for among (the most a caller may list)."""


@dataclass(frozen=True)
class Proposed:
    """A proposed team with what the caller may know of it."""

    team: teams.Team
    fits: dict[tuple[int, str], Match]
    """(need index, member key) → the member's ranking for that need."""
    names: dict[str, str]
    """Member key → the firm's name or the lab's."""
    firms: dict[str, Firm]
    """Firm id → its row (the team's firms)."""
    lab_provinces: dict[str, str | None]
    answered: bool | None
    expression_id: str | None
    invited: bool


async def _rank(
    session: AsyncSession, challenge: Challenge, ranker: RequestRanker, limit: int
) -> tuple[list[teams.Team], dict[tuple[int, str], Match], dict[str, Firm]]:
    publisher = await session.get(Firm, challenge.publisher_firm_id)
    assert publisher is not None
    texts = [n["text"] for n in challenge.needs]
    vectors = await ranker.embed(texts)
    smes, firms = await capabilities.sme_index(
        session, embedder=ranker.embedder, excluded=publisher.id
    )
    point = locate(publisher.province, publisher.municipality)
    candidates: list[list[teams.Candidate]] = []
    fits: dict[tuple[int, str], Match] = {}
    for index, (need, text, vector) in enumerate(zip(challenge.needs, texts, vectors, strict=True)):
        query = make_query(
            text_=text,
            tags=need.get("tags", {}),
            sector=challenge.sector,
            trl_target=challenge.trl_expected,
            point=point,
            vector=vector,
        )
        found = [
            (teams.Candidate("lab", m.entry.lab_id, m.entry.centre_id, m.score), m)
            for m in ranking.rank(ranker.index, query, limit=CANDIDATES)
        ] + [
            (teams.Candidate("firm", m.entry.lab_id, None, m.score), m)
            for m in (ranking.rank(smes, query, limit=CANDIDATES) if len(smes) else [])
        ]
        candidates.append([c for c, _ in found])
        fits.update({(index, c.key): m for c, m in found})
    return teams.propose(challenge.id, candidates, limit=limit), fits, firms


async def propose(
    session: AsyncSession,
    *,
    challenge: Challenge,
    principal: Principal,
    ranker: RequestRanker,
    limit: int,
) -> list[Proposed]:
    found, fits, firms = await _rank(session, challenge, ranker, limit)
    language = detect_language(challenge.title + " " + challenge.description)
    invited = set(
        await session.scalars(
            select(Invitation.team_id).where(Invitation.challenge_id == challenge.id)
        )
    )
    answers = {
        teams.members_key(_keys(e.members)): e
        for e in await session.scalars(
            select(Expression).where(Expression.challenge_id == challenge.id)
        )
    }
    told = not is_publisher_side(principal, challenge)  # the Region: answers are not anonymous
    result = []
    for team in found:
        names: dict[str, str] = {}
        provinces: dict[str, str | None] = {}
        for member in team.members:
            if member.kind == "firm":
                names[member.key] = firms[member.id].name
            else:
                lab = ranker.index.get(member.id)
                names[member.key] = lab.display_title(language) if lab else member.id
                provinces[member.id] = lab.province if lab else None
        answer = answers.get(teams.members_key(m.key for m in team.members))
        disclosed = answer is not None and (told or answer.shortlisted)
        result.append(
            Proposed(
                team=team,
                fits={k: m for k, m in fits.items() if k[1] in names},
                names=names,
                firms={m.id: firms[m.id] for m in team.members if m.kind == "firm"},
                lab_provinces=provinces,
                answered=disclosed or (False if told else None),
                expression_id=answer.id if disclosed and answer is not None else None,
                invited=team.team_id in invited,
            )
        )
    return result


def _keys(members: list[dict[str, str]]) -> list[str]:
    return [
        teams.key("firm", m["firm_id"]) if m["kind"] == "firm" else teams.key("lab", m["lab_id"])
        for m in members
    ]


async def teams_of(
    session: AsyncSession,
    *,
    challenge_id: str,
    principal: Principal,
    ranker: RequestRanker,
    limit: int,
) -> list[Proposed]:
    """The proposed teams, to the publisher side and the Region."""
    challenge = await get_managed(session, challenge_id, principal)
    return await propose(
        session, challenge=challenge, principal=principal, ranker=ranker, limit=limit
    )


async def _guest(
    session: AsyncSession,
    challenge: Challenge,
    role: Role,
    org_id: str,
    team_id: str,
    now: datetime,
) -> None:
    if await session.get(ChallengeGuest, (challenge.id, role.value, org_id)) is None:
        session.add(
            ChallengeGuest(
                challenge_id=challenge.id,
                role=role.value,
                org_id=org_id,
                team_id=team_id,
                added_at=now,
            )
        )


async def invite(
    session: AsyncSession,
    *,
    challenge_id: str,
    team_id: str,
    message: str | None,
    principal: Principal,
    ranker: RequestRanker,
    now: datetime,
) -> Invitation:
    challenge = await get_managed(session, challenge_id, principal)
    check_running(challenge, now, "the subject of invitations")
    already = await session.scalar(
        select(Invitation.id).where(
            Invitation.challenge_id == challenge.id, Invitation.team_id == team_id
        )
    )
    if already is not None:
        raise Conflict("this team was already invited", invitation_id=already)
    found, _, _ = await _rank(session, challenge, ranker, INVITABLE)
    team = next((t for t in found if t.team_id == team_id), None)
    if team is None:
        raise NotFound(f"team {team_id} is not among the teams proposed for this challenge now")
    demand, publisher = await backing(session, challenge)
    actor = Actor.of(principal)
    introduction_ids = []
    for member in team.members:
        if member.kind == "firm":
            await _guest(session, challenge, Role.FIRM, member.id, team_id, now)
            continue
        assert member.centre_id is not None
        await _guest(session, challenge, Role.CENTRE, member.centre_id, team_id, now)
        # A lab already invited with another team keeps its introduction.
        earlier = await session.scalar(
            select(Introduction.id).where(
                Introduction.demand_id == demand.id,
                Introduction.lab_id == member.id,
                Introduction.status.in_(
                    (IntroductionStatus.PENDING.value, IntroductionStatus.ACCEPTED.value)
                ),
            )
        )
        if earlier is None:
            lab = await lab_row(session, member.id)
            assert lab is not None  # proposed from the index: in the catalogue
            introduction = await engagements.introduce(
                session,
                demand=demand,
                firm=publisher,
                lab=lab,
                entry=None,
                kind=KIND,
                consortium=(team_id, len(team.members), team.centres),
                message=message,
                actor=actor,
                now=now,
            )
            earlier = introduction.id
        introduction_ids.append(earlier)
    invitation = Invitation(
        id=str(uuid7()),
        challenge_id=challenge.id,
        team_id=team_id,
        members=[
            {"kind": "firm", "firm_id": m.id, "need_indexes": list(m.need_indexes)}
            if m.kind == "firm"
            else {
                "kind": "lab",
                "lab_id": m.id,
                "centre_id": m.centre_id,
                "need_indexes": list(m.need_indexes),
            }
            for m in team.members
        ],
        introduction_ids=introduction_ids,
        message=message,
        invited_at=now,
        invited_by_role=actor.role,
        invited_by_org_id=actor.org_id,
        invited_by_key_id=actor.key_id,
    )
    session.add(invitation)
    touch(challenge, now)
    await flush(session)
    await record_event(
        session,
        contracts.ChallengeTeamInvited(
            **challenge_state(challenge, publisher, now),
            team_id=team_id,
            team=await team_contract(
                session, invitation.members, [list(m.need_indexes) for m in team.members]
            ),
            introduction_ids=introduction_ids,
            invited_at=now,
            invited_by=actor.contract(),
        ),
        subject=challenge.id,
        aggregate_version=challenge.version,
    )
    return invitation
