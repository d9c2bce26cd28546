"""Introductions (a firm asks to meet a lab, the lab's centre answers) and the engagements that
follow an accepted one, up to their outcome.

An introduction goes to one lab, or to each lab of a consortium (one per lab, sharing the
consortium's id). The lab's centre accepts or declines (with a reason). The first acceptance of
a demand's introduction opens an engagement; the other labs of the same consortium join it when
they accept, so one engagement may have several centres. Closing the last open engagement of a
demand closes the demand.

The demand backing a challenge (`challenges/`) is different: its introductions are invitations
to a proposed team, and accepting one opens nothing (the challenge's award opens an engagement
per member of the awarded team, a supplier firm's without a lab); nobody asks for introductions
on it directly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from uuid6 import uuid7

from kernel.contracts import matching as contracts
from kernel.errors import Conflict, Forbidden, NotFound
from kernel.outbox import record_event
from kernel.principal import Principal, Role
from services.matching import consortia
from services.matching.index import entry_row, lab_row, lab_tags
from services.matching.models import (
    CatalogEntry,
    Demand,
    Engagement,
    EngagementParticipant,
    Firm,
    Introduction,
)
from services.matching.paging import page
from services.matching.schemas import (
    ClosureIn,
    DemandStatus,
    EngagementKind,
    EngagementStatus,
    IntroductionIn,
    IntroductionStatus,
)
from services.matching.service import (
    ACTIVE_DEMAND,
    Actor,
    change_status,
    flush,
    get_demand,
    invalid,
    is_owner_side,
    money,
    profile,
    require_org,
)

KIND_OF_ENTITY = {
    "equipment": EngagementKind.EQUIPMENT_ACCESS,
    "service": EngagementKind.SERVICE,
    "competence": EngagementKind.JOINT_RESEARCH,
    "lab": EngagementKind.JOINT_RESEARCH,
}


def _hours(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() / 3600, 2)


async def _visible_lab(session: AsyncSession, lab_id: str, field: str) -> CatalogEntry:
    lab = await lab_row(session, lab_id)
    if lab is None:
        raise NotFound(f"no lab {lab_id} in the catalogue", errors=[_error(field, "unknown lab")])
    if not lab.visible:
        why = (
            "withdrawn from the catalogue"
            if lab.status != "published"
            else ("of a centre that is not an active member")
        )
        raise Conflict(
            f"lab {lab_id} cannot be introduced: it is {why}",
            errors=[_error(field, "lab not available")],
        )
    return lab


def _error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "in": "body", "message": message, "type": "state"}


async def introduction_contract(
    session: AsyncSession, introduction: Introduction, demand: Demand, firm: Firm
) -> dict[str, Any]:
    return {
        "introduction_id": introduction.id,
        "demand_id": demand.id,
        "firm": profile(firm),
        "lab_id": introduction.lab_id,
        "centre_id": introduction.centre_id,
        "entry_id": introduction.entry_id,
        "consortium_id": introduction.consortium_id,
        "consortium_size": introduction.consortium_size,
        "consortium_centres": introduction.consortium_centres,
        "requested_at": introduction.requested_at,
        "requested_by": contracts.Actor(
            role=introduction.requested_by_role,
            org_id=introduction.requested_by_org_id,
            key_id=introduction.requested_by_key_id,
        ),
        "lab_tags": await lab_tags(session, [introduction.lab_id]),
    }


async def request_introductions(
    session: AsyncSession,
    *,
    demand_id: str,
    data: IntroductionIn,
    principal: Principal,
    now: datetime,
) -> tuple[list[Introduction], str | None]:
    """One introduction to a lab, or one to each lab of a consortium; returns them and the
    consortium id."""
    demand, firm = await get_demand(session, demand_id=demand_id, principal=principal)
    if not is_owner_side(principal, demand):
        raise Forbidden("only whoever submitted the demand, the firm or the Region may ask")
    if DemandStatus(demand.status) not in ACTIVE_DEMAND:
        raise Conflict(f"the demand is {demand.status}: no more introductions")
    if demand.challenge_id is not None:
        raise Conflict(
            f"this demand backs challenge {demand.challenge_id}: invite one of the teams the "
            "challenge proposes instead",
            challenge_id=demand.challenge_id,
        )
    targets: list[tuple[CatalogEntry, CatalogEntry | None]] = []
    consortium_id = None
    if data.lab_id is not None:
        lab = await _visible_lab(session, data.lab_id, "lab_id")
        entry = None
        if data.entry_id is not None:
            entry = await entry_row(session, data.entry_id)
            if entry is None or entry.lab_id != lab.id:
                raise NotFound(
                    f"no entry {data.entry_id} of lab {lab.id}",
                    errors=[_error("entry_id", "unknown entry of this lab")],
                )
            if not entry.visible:
                raise Conflict(
                    f"entry {data.entry_id} was withdrawn from the catalogue",
                    errors=[_error("entry_id", "entry not available")],
                )
        targets.append((lab, entry))
    else:
        assert data.consortium is not None
        members = []
        seen: set[str] = set()
        for position, member in enumerate(data.consortium.members):
            if member.need_index >= len(demand.needs):
                raise invalid(
                    f"consortium.members.{position}.need_index",
                    f"the demand has {len(demand.needs)} needs (indexes from 0)",
                )
            lab = await _visible_lab(
                session, member.lab_id, f"consortium.members.{position}.lab_id"
            )
            members.append(consortia.Member(member.need_index, lab.id, lab.centre_id))
            if lab.id not in seen:
                seen.add(lab.id)
                targets.append((lab, None))
        consortium_id = consortia.consortium_id(demand.id, members)
    size = len(targets) if consortium_id else None
    centres = len({lab.centre_id for lab, _ in targets}) if consortium_id else None
    actor = Actor.of(principal)
    created = []
    for lab, entry in targets:
        pending = await session.scalar(
            select(Introduction.id).where(
                Introduction.demand_id == demand.id,
                Introduction.lab_id == lab.id,
                Introduction.status == IntroductionStatus.PENDING.value,
            )
        )
        if pending is not None:
            raise Conflict(
                f"an introduction of this demand to lab {lab.id} is already pending",
                introduction_id=pending,
            )
        created.append(
            await introduce(
                session,
                demand=demand,
                firm=firm,
                lab=lab,
                entry=entry,
                kind=data.kind or KIND_OF_ENTITY[entry.entity if entry else "lab"],
                consortium=(consortium_id, size, centres),
                message=data.message,
                actor=actor,
                now=now,
            )
        )
    return created, consortium_id


async def introduce(
    session: AsyncSession,
    *,
    demand: Demand,
    firm: Firm,
    lab: CatalogEntry,
    entry: CatalogEntry | None,
    kind: EngagementKind,
    consortium: tuple[str | None, int | None, int | None],
    message: str | None,
    actor: Actor,
    now: datetime,
) -> Introduction:
    """A pending introduction of the demand to the lab (`consortium`: its id, size and centres,
    or Nones), and its event."""
    consortium_id, size, centres = consortium
    introduction = Introduction(
        id=str(uuid7()),
        demand_id=demand.id,
        lab_id=lab.id,
        centre_id=lab.centre_id,
        entry_id=entry.id if entry else None,
        consortium_id=consortium_id,
        consortium_size=size,
        consortium_centres=centres,
        kind=kind.value,
        status=IntroductionStatus.PENDING.value,
        message=message,
        requested_at=now,
        requested_by_role=actor.role,
        requested_by_org_id=actor.org_id,
        requested_by_key_id=actor.key_id,
        version=1,
    )
    session.add(introduction)
    await flush(session)
    await record_event(
        session,
        contracts.IntroductionRequested(
            **await introduction_contract(session, introduction, demand, firm)
        ),
        subject=introduction.id,
        aggregate_version=introduction.version,
    )
    return introduction


async def may_see_introduction(
    session: AsyncSession, principal: Principal, introduction: Introduction, demand: Demand
) -> bool:
    if principal.role is Role.CENTRE:
        return principal.org_id is not None and principal.org_id in (
            introduction.centre_id,
            demand.assisting_centre_id,
        )
    return is_owner_side(principal, demand)


async def get_introduction(
    session: AsyncSession, *, introduction_id: str, principal: Principal
) -> tuple[Introduction, Demand, Firm]:
    introduction = await session.get(Introduction, introduction_id)
    if introduction is None:
        raise NotFound(f"no introduction {introduction_id}")
    demand = await session.get(Demand, introduction.demand_id)
    assert demand is not None
    if not await may_see_introduction(session, principal, introduction, demand):
        raise Forbidden("this introduction is not yours to read")
    firm = await session.get(Firm, demand.firm_id)
    assert firm is not None
    return introduction, demand, firm


async def list_introductions(
    session: AsyncSession,
    *,
    principal: Principal,
    status: IntroductionStatus | None,
    demand_id: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[tuple[Introduction, str]], str | None]:
    statement = select(Introduction, Demand.firm_id).join(
        Demand, Demand.id == Introduction.demand_id
    )
    if principal.role is Role.CENTRE:
        org = require_org(principal)
        statement = statement.where(
            (Introduction.centre_id == org) | (Demand.assisting_centre_id == org)
        )
    elif principal.role is Role.FIRM:
        statement = statement.where(Demand.firm_id == require_org(principal))
    elif principal.role is Role.PARTNER:
        statement = statement.where(Demand.partner_org_id == require_org(principal))
    elif principal.role is not Role.REGION:
        raise Forbidden("introductions are not public")
    if status is not None:
        statement = statement.where(Introduction.status == status.value)
    if demand_id is not None:
        statement = statement.where(Introduction.demand_id == demand_id)
    rows, next_cursor = await page(
        session,
        statement,
        created=Introduction.requested_at,
        key=Introduction.id,
        limit=limit,
        cursor=cursor,
        position=lambda row: (row[0].requested_at, row[0].id),
    )
    return [(row[0], row[1]) for row in rows], next_cursor


async def _answerable(
    session: AsyncSession, introduction_id: str, principal: Principal
) -> tuple[Introduction, Demand, Firm]:
    introduction = await session.get(Introduction, introduction_id)
    if introduction is None:
        raise NotFound(f"no introduction {introduction_id}")
    if principal.role is not Role.CENTRE or principal.org_id != introduction.centre_id:
        raise Forbidden("only the centre of the introduced lab answers an introduction")
    if introduction.status != IntroductionStatus.PENDING.value:
        raise Conflict(
            f"this introduction was already {introduction.status}",
            current_status=introduction.status,
        )
    demand = await session.get(Demand, introduction.demand_id)
    assert demand is not None
    if DemandStatus(demand.status) not in ACTIVE_DEMAND:
        raise Conflict(f"the demand was {demand.status} meanwhile")
    firm = await session.get(Firm, demand.firm_id)
    assert firm is not None
    return introduction, demand, firm


def _answer(
    introduction: Introduction,
    status: IntroductionStatus,
    actor: Actor,
    now: datetime,
    reason: str | None,
) -> None:
    introduction.status = status.value
    introduction.reason = reason
    introduction.answered_at = now
    introduction.answered_by_role = actor.role
    introduction.answered_by_org_id = actor.org_id
    introduction.answered_by_key_id = actor.key_id
    introduction.version += 1


async def decline(
    session: AsyncSession, *, introduction_id: str, reason: str, principal: Principal, now: datetime
) -> Introduction:
    introduction, demand, firm = await _answerable(session, introduction_id, principal)
    actor = Actor.of(principal)
    _answer(introduction, IntroductionStatus.DECLINED, actor, now, reason)
    await flush(session)
    await record_event(
        session,
        contracts.IntroductionDeclined(
            **await introduction_contract(session, introduction, demand, firm),
            answered_at=now,
            answered_by=actor.contract(),
            reason=reason,
            hours_to_answer=_hours(introduction.requested_at, now),
        ),
        subject=introduction.id,
        aggregate_version=introduction.version,
    )
    return introduction


async def participants(session: AsyncSession, engagement_id: str) -> list[EngagementParticipant]:
    return list(
        (
            await session.scalars(
                select(EngagementParticipant)
                .where(EngagementParticipant.engagement_id == engagement_id)
                .order_by(EngagementParticipant.joined_at, EngagementParticipant.lab_id)
            )
        ).all()
    )


async def engagement_contract(
    session: AsyncSession, engagement: Engagement, firm: Firm
) -> dict[str, Any]:
    members = await participants(session, engagement.id)
    centre_ids = sorted({p.centre_id for p in members})
    supplier = (
        await session.get(Firm, engagement.supplier_firm_id)
        if engagement.supplier_firm_id is not None
        else None
    )
    return {
        "engagement_id": engagement.id,
        "demand_id": engagement.demand_id,
        "firm": profile(firm),
        "kind": engagement.kind,
        "centre_ids": centre_ids,
        "lab_ids": [p.lab_id for p in members],
        "cross_centre": len(centre_ids) > 1,
        "consortium_id": engagement.consortium_id,
        "consortium_size": engagement.consortium_size,
        "introduction_ids": [p.introduction_id for p in members if p.introduction_id],
        "opened_at": engagement.opened_at,
        "lab_tags": await lab_tags(session, [p.lab_id for p in members]),
        "challenge_id": engagement.challenge_id,
        "supplier_firm": profile(supplier) if supplier is not None else None,
    }


async def start_engagement(
    session: AsyncSession,
    *,
    demand: Demand,
    kind: str,
    consortium: tuple[str | None, int | None] = (None, None),
    challenge_id: str | None = None,
    supplier_firm_id: str | None = None,
    now: datetime,
) -> Engagement:
    """A new open engagement of the demand, without participants yet; flushed."""
    engagement = Engagement(
        id=str(uuid7()),
        demand_id=demand.id,
        kind=kind,
        status=EngagementStatus.OPEN.value,
        consortium_id=consortium[0],
        consortium_size=consortium[1],
        challenge_id=challenge_id,
        supplier_firm_id=supplier_firm_id,
        opened_at=now,
        version=1,
    )
    session.add(engagement)
    await flush(session)
    return engagement


def join(
    session: AsyncSession,
    engagement: Engagement,
    *,
    lab_id: str,
    centre_id: str,
    introduction_id: str | None,
    now: datetime,
) -> None:
    session.add(
        EngagementParticipant(
            engagement_id=engagement.id,
            lab_id=lab_id,
            centre_id=centre_id,
            introduction_id=introduction_id,
            joined_at=now,
        )
    )


async def accept(
    session: AsyncSession,
    *,
    introduction_id: str,
    reason: str | None,
    principal: Principal,
    now: datetime,
) -> tuple[Introduction, Engagement | None]:
    """Accept; opens the engagement, or joins the open one of the same consortium (neither for
    an invitation to a challenge's team: its award will)."""
    introduction, demand, firm = await _answerable(session, introduction_id, principal)
    actor = Actor.of(principal)
    if demand.challenge_id is not None:
        _answer(introduction, IntroductionStatus.ACCEPTED, actor, now, reason)
        await flush(session)
        await record_event(
            session,
            contracts.IntroductionAccepted(
                **await introduction_contract(session, introduction, demand, firm),
                answered_at=now,
                answered_by=actor.contract(),
                reason=reason,
                hours_to_answer=_hours(introduction.requested_at, now),
            ),
            subject=introduction.id,
            aggregate_version=introduction.version,
        )
        return introduction, None
    engagement = None
    if introduction.consortium_id is not None:
        engagement = await session.scalar(
            select(Engagement).where(
                Engagement.demand_id == demand.id,
                Engagement.consortium_id == introduction.consortium_id,
                Engagement.status == EngagementStatus.OPEN.value,
            )
        )
    joined = engagement is not None
    if engagement is None:
        engagement = await start_engagement(
            session,
            demand=demand,
            kind=introduction.kind,
            consortium=(introduction.consortium_id, introduction.consortium_size),
            now=now,
        )
    else:
        engagement.version += 1
        await flush(session)
    join(
        session,
        engagement,
        lab_id=introduction.lab_id,
        centre_id=introduction.centre_id,
        introduction_id=introduction.id,
        now=now,
    )
    _answer(introduction, IntroductionStatus.ACCEPTED, actor, now, reason)
    introduction.engagement_id = engagement.id
    await flush(session)
    await record_event(
        session,
        contracts.IntroductionAccepted(
            **await introduction_contract(session, introduction, demand, firm),
            answered_at=now,
            answered_by=actor.contract(),
            reason=reason,
            engagement_id=engagement.id,
            hours_to_answer=_hours(introduction.requested_at, now),
        ),
        subject=introduction.id,
        aggregate_version=introduction.version,
    )
    state = await engagement_contract(session, engagement, firm)
    if joined:
        event: contracts.EngagementJoined | contracts.EngagementOpened = contracts.EngagementJoined(
            **state, joined_lab_id=introduction.lab_id, joined_centre_id=introduction.centre_id
        )
    else:
        event = contracts.EngagementOpened(**state)
    await record_event(session, event, subject=engagement.id, aggregate_version=engagement.version)
    if demand.status != DemandStatus.IN_PROGRESS.value:
        await change_status(
            session,
            demand=demand,
            firm=firm,
            to=DemandStatus.IN_PROGRESS,
            actor=actor,
            reason="an introduction was accepted",
            now=now,
        )
    return introduction, engagement


# -- engagements ----------------------------------------------------------------------------


async def _takes_part(session: AsyncSession, principal: Principal, engagement: Engagement) -> bool:
    """The centre of one of its labs."""
    if principal.role is not Role.CENTRE or not principal.org_id:
        return False
    found = await session.scalar(
        select(EngagementParticipant.lab_id).where(
            EngagementParticipant.engagement_id == engagement.id,
            EngagementParticipant.centre_id == principal.org_id,
        )
    )
    return found is not None


async def may_see_engagement(
    session: AsyncSession, principal: Principal, engagement: Engagement, demand: Demand
) -> bool:
    if await _takes_part(session, principal, engagement):
        return True
    if (
        principal.role is Role.FIRM
        and engagement.supplier_firm_id is not None
        and principal.org_id == engagement.supplier_firm_id
    ):
        return True
    return is_owner_side(principal, demand)


async def get_engagement(
    session: AsyncSession, *, engagement_id: str, principal: Principal
) -> tuple[Engagement, Demand, Firm]:
    engagement = await session.get(Engagement, engagement_id)
    if engagement is None:
        raise NotFound(f"no engagement {engagement_id}")
    demand = await session.get(Demand, engagement.demand_id)
    assert demand is not None
    if not await may_see_engagement(session, principal, engagement, demand):
        raise Forbidden("this engagement is not yours to read")
    firm = await session.get(Firm, demand.firm_id)
    assert firm is not None
    return engagement, demand, firm


async def list_engagements(
    session: AsyncSession,
    *,
    principal: Principal,
    status: EngagementStatus | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[tuple[Engagement, str]], str | None]:
    statement = select(Engagement, Demand.firm_id).join(Demand, Demand.id == Engagement.demand_id)
    org = principal.org_id
    if principal.role is Role.CENTRE:
        require_org(principal)
        statement = statement.where(
            exists().where(
                EngagementParticipant.engagement_id == Engagement.id,
                EngagementParticipant.centre_id == org,
            )
            | (Demand.assisting_centre_id == org)
        )
    elif principal.role is Role.FIRM:
        statement = statement.where(
            (Demand.firm_id == require_org(principal)) | (Engagement.supplier_firm_id == org)
        )
    elif principal.role is Role.PARTNER:
        statement = statement.where(Demand.partner_org_id == require_org(principal))
    elif principal.role is not Role.REGION:
        raise Forbidden("engagements are not public")
    if status is not None:
        statement = statement.where(Engagement.status == status.value)
    rows, next_cursor = await page(
        session,
        statement,
        created=Engagement.opened_at,
        key=Engagement.id,
        limit=limit,
        cursor=cursor,
        position=lambda row: (row[0].opened_at, row[0].id),
    )
    return [(row[0], row[1]) for row in rows], next_cursor


async def close(
    session: AsyncSession,
    *,
    engagement_id: str,
    outcome: ClosureIn,
    principal: Principal,
    now: datetime,
) -> tuple[Engagement, Demand]:
    """Record the outcome; the demand is closed with its last open engagement."""
    engagement, demand, firm = await get_engagement(
        session, engagement_id=engagement_id, principal=principal
    )
    if not (is_owner_side(principal, demand) or await _takes_part(session, principal, engagement)):
        raise Forbidden("the demand's owner side closes an engagement, not its supplier firm")
    if engagement.status != EngagementStatus.OPEN.value:
        raise Conflict("this engagement is already closed", current_status=engagement.status)
    actor = Actor.of(principal)
    engagement.status = EngagementStatus.CLOSED.value
    engagement.closed_at = now
    engagement.value_eur = outcome.value_eur
    engagement.delivered = outcome.delivered
    engagement.satisfaction = outcome.satisfaction
    engagement.innovation_introduced = outcome.innovation_introduced.value
    engagement.closed_by_role = actor.role
    engagement.closed_by_org_id = actor.org_id
    engagement.closed_by_key_id = actor.key_id
    engagement.version += 1
    await flush(session)
    await record_event(
        session,
        contracts.EngagementClosed(
            **await engagement_contract(session, engagement, firm),
            closed_at=now,
            value_eur=money(outcome.value_eur) or "0.00",
            delivered=outcome.delivered,
            satisfaction=outcome.satisfaction,
            innovation_introduced=outcome.innovation_introduced.value,
            duration_days=round((now - engagement.opened_at).total_seconds() / 86400, 2),
            closed_by=actor.contract(),
        ),
        subject=engagement.id,
        aggregate_version=engagement.version,
    )
    still_open = await session.scalar(
        select(Engagement.id).where(
            Engagement.demand_id == demand.id, Engagement.status == EngagementStatus.OPEN.value
        )
    )
    if still_open is None and demand.status == DemandStatus.IN_PROGRESS.value:
        await change_status(
            session,
            demand=demand,
            firm=firm,
            to=DemandStatus.CLOSED,
            actor=actor,
            reason="its engagements are closed",
            now=now,
        )
    return engagement, demand
