"""The rules of the matching service: firms, demands, matches and consortia.

Plain async functions with keyword-only arguments. They check permissions (object-level too),
change rows, record their events in the same session with `record_event`, and flush; the caller
commits. They raise `kernel.errors` domain errors, never HTTP ones. `now` is always passed in.
Introductions and engagements live in `engagements.py`, equipment access in `access.py`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError
from uuid6 import uuid7

from kernel import italy
from kernel.contracts import matching as contracts
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
from services.matching import ateco, capabilities, consortia, initiatives, ranking
from services.matching.documents import demand_text, make_query
from services.matching.embedding import Embedder
from services.matching.geo import locate
from services.matching.matcher import RequestRanker
from services.matching.models import Demand, Firm, Introduction
from services.matching.paging import etag, page
from services.matching.ranking import Match, MemoryIndex, Query
from services.matching.schemas import DemandIn, DemandStatus, FirmIn, FirmPatch, Need
from services.matching.sizes import SizeClass, is_sme, size_class

ROME = ZoneInfo("Europe/Rome")
PROPOSAL_SIZE = 10
"""The top of the ranking recorded in `matches_proposed`, whatever `limit` a caller asks."""
CONSORTIUM_CANDIDATES = 8
"""Labs per need considered for teams."""

# -- actors, errors -------------------------------------------------------------------------


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


def invalid(field: str, message: str, kind: str = "value_error") -> InvalidInput:
    return InvalidInput(
        f"{field}: {message}",
        errors=[{"field": field, "in": "body", "message": message, "type": kind}],
    )


def require_org(principal: Principal) -> str:
    if not principal.org_id:
        raise Forbidden(f"a {principal.role.value} principal must act for an organisation")
    return principal.org_id


async def flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except StaleDataError as exc:
        raise Conflict("this record was changed meanwhile by another request; retry") from exc
    except IntegrityError as exc:
        raise Conflict("this change conflicts with data written meanwhile; retry") from exc


def check_if_match(if_match: str | None, current: int, what: str) -> None:
    """A write of an aggregate read before: its ETag must still be current (428 without one,
    412 when stale)."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(
            f"changing {what} needs an If-Match header with the ETag you read (GET it first)"
        )
    tags = [tag.strip() for tag in if_match.split(",")]
    if "*" not in tags and etag(current) not in tags:  # strong comparison: W/ never matches
        raise PreconditionFailed(
            f"{what} changed since you read it: read it again and retry", etag=etag(current)
        )


def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def today(now: datetime) -> Any:
    return now.astimezone(ROME).date()


# -- firms ----------------------------------------------------------------------------------


def profile(firm: Firm) -> contracts.FirmProfile:
    return contracts.FirmProfile(
        firm_id=firm.id,
        size_class=firm.size_class,
        sme=is_sme(SizeClass(firm.size_class)),
        province=firm.province,
        ateco_code=firm.ateco_code,
        ateco_section=firm.ateco_section,
        ateco_division=firm.ateco_division,
    )


def check_ateco(value: str, field: str) -> ateco.AtecoCode:
    try:
        return ateco.check_ateco(value)
    except ateco.InvalidAteco as exc:
        raise invalid(field, str(exc), "ateco") from exc


def check_location(province: str, municipality: str) -> italy.Municipality:
    try:
        return italy.check_location(province, municipality)
    except italy.InvalidLocation as exc:
        raise invalid(exc.field, exc.message, "location") from exc


def check_province(code: str, field: str) -> str:
    if italy.gazetteer().province(code) is None:
        raise invalid(field, f"{code!r} is not the ISTAT two-letter code of a province", "location")
    return code


def derive_size_class(data: FirmIn) -> SizeClass:
    """The EU size class: derived from the figures when the headcount is given (a declared
    class that disagrees is refused), else the declared one."""
    if data.employees is None:
        if data.turnover_eur is not None or data.balance_sheet_eur is not None:
            raise invalid(
                "employees", "the headcount is needed to derive the size class from figures"
            )
        if data.size_class is None:
            raise invalid(
                "size_class",
                "give the size class, or the employees (and turnover or balance sheet) "
                "to derive it",
            )
        return data.size_class
    derived = size_class(data.employees, data.turnover_eur, data.balance_sheet_eur)
    if data.size_class is not None and data.size_class is not derived:
        raise invalid(
            "size_class",
            f"the figures given make a {derived.value} enterprise under Recommendation "
            f"2003/361/EC, not {data.size_class.value}",
        )
    return derived


async def register_firm(
    session: AsyncSession, *, data: FirmIn, principal: Principal, embedder: Embedder, now: datetime
) -> Firm:
    """Register a firm (the Region, a partner or a centre; the firm's key is made afterwards)."""
    if principal.role not in (Role.REGION, Role.PARTNER, Role.CENTRE):
        raise Forbidden("only the Region, a partner or a centre may register a firm")
    if principal.role is not Role.REGION:
        require_org(principal)
    ateco = check_ateco(data.ateco_code, "ateco_code")
    place = check_location(data.province, data.municipality)
    klass = derive_size_class(data)
    existing = await session.scalar(select(Firm).where(Firm.vat_number == data.vat_number))
    if existing is not None:
        raise Conflict(
            f"partita IVA {data.vat_number} is already registered to {existing.name}",
            errors=[
                {
                    "field": "vat_number",
                    "in": "body",
                    "message": "already registered",
                    "type": "unique",
                }
            ],
            firm_id=existing.id,
        )
    actor = Actor.of(principal)
    firm = Firm(
        id=str(uuid7()),
        name=data.name,
        vat_number=data.vat_number,
        ateco_code=ateco.code,
        ateco_section=ateco.section,
        ateco_division=ateco.division,
        size_class=klass.value,
        employees=data.employees,
        turnover_eur=data.turnover_eur,
        balance_sheet_eur=data.balance_sheet_eur,
        province=place.province.code,
        municipality=place.name,
        registered_by_role=actor.role,
        registered_by_org_id=actor.org_id,
        registered_by_key_id=actor.key_id,
        created_at=now,
        updated_at=now,
        version=1,
    )
    await capabilities.analyse(
        firm,
        capabilities=data.capabilities,
        tags=data.capability_tags.model_dump(),
        embedder=embedder,
    )
    session.add(firm)
    await flush(session)
    await record_event(
        session,
        contracts.FirmRegistered(
            firm_id=firm.id,
            name=firm.name,
            vat_number=firm.vat_number,
            profile=profile(firm),
            municipality=firm.municipality,
            employees=firm.employees,
            turnover_eur=money(firm.turnover_eur),
            balance_sheet_eur=money(firm.balance_sheet_eur),
            registered_by=actor.contract(),
            registered_at=now,
        ),
        subject=firm.id,
        aggregate_version=firm.version,
    )
    return firm


def may_see_firm(principal: Principal, firm: Firm) -> bool:
    if principal.role is Role.REGION:
        return True
    if principal.role is Role.FIRM:
        return principal.org_id == firm.id
    if principal.role in (Role.PARTNER, Role.CENTRE):
        return principal.org_id is not None and principal.org_id == firm.registered_by_org_id
    return False


async def get_firm(session: AsyncSession, *, firm_id: str, principal: Principal) -> Firm:
    firm = await session.get(Firm, firm_id)
    if firm is None:
        raise NotFound(f"no firm {firm_id}")
    if not may_see_firm(principal, firm):
        raise Forbidden("this firm is not yours to read")
    return firm


async def update_firm(
    session: AsyncSession,
    *,
    firm_id: str,
    data: FirmPatch,
    if_match: str | None,
    principal: Principal,
    embedder: Embedder,
    now: datetime,
) -> Firm:
    """Change a firm's capabilities: the firm itself, whoever registered it, or the Region.
    No event: the capabilities matter to matching alone (`FirmRegistered` carries none)."""
    firm = await get_firm(session, firm_id=firm_id, principal=principal)
    check_if_match(if_match, firm.version, "the firm")
    fields = data.model_fields_set
    text = data.capabilities if "capabilities" in fields else firm.capabilities
    tags = (
        data.capability_tags.model_dump()
        if "capability_tags" in fields and data.capability_tags is not None
        else dict(firm.capability_tags or {})
    )
    await capabilities.analyse(firm, capabilities=text, tags=tags, embedder=embedder)
    firm.updated_at = now
    firm.version += 1
    await flush(session)
    return firm


async def list_firms(
    session: AsyncSession, *, principal: Principal, limit: int, cursor: str | None
) -> tuple[list[Firm], str | None]:
    statement = select(Firm)
    if principal.role is Role.FIRM:
        statement = statement.where(Firm.id == require_org(principal))
    elif principal.role in (Role.PARTNER, Role.CENTRE):
        statement = statement.where(Firm.registered_by_org_id == require_org(principal))
    elif principal.role is not Role.REGION:
        raise Forbidden("firms are not public")
    rows, next_cursor = await page(
        session,
        statement,
        created=Firm.created_at,
        key=Firm.id,
        limit=limit,
        cursor=cursor,
        position=lambda row: (row[0].created_at, row[0].id),
    )
    return [row[0] for row in rows], next_cursor


# -- demands --------------------------------------------------------------------------------

TRANSITIONS: dict[DemandStatus, frozenset[DemandStatus]] = {
    DemandStatus.OPEN: frozenset(
        {DemandStatus.MATCHED, DemandStatus.IN_PROGRESS, DemandStatus.CANCELLED}
    ),
    DemandStatus.MATCHED: frozenset({DemandStatus.IN_PROGRESS, DemandStatus.CANCELLED}),
    DemandStatus.IN_PROGRESS: frozenset({DemandStatus.CLOSED, DemandStatus.CANCELLED}),
    DemandStatus.CLOSED: frozenset(),
    DemandStatus.CANCELLED: frozenset(),
}
"""open → matched → in progress → closed | cancelled (open may skip to in progress when an
introduction is accepted before any ranking was shown)."""

ACTIVE_DEMAND = (DemandStatus.OPEN, DemandStatus.MATCHED, DemandStatus.IN_PROGRESS)


def demand_state(demand: Demand, firm: Firm) -> dict[str, Any]:
    return {
        "demand_id": demand.id,
        "firm": profile(firm),
        "status": demand.status,
        "title": demand.title,
        "needs": [contracts.Need(text=n["text"], tags=n.get("tags", {})) for n in demand.needs],
        "needs_count": len(demand.needs),
        "sector": demand.sector,
        "trl_current": demand.trl_current,
        "trl_target": demand.trl_target,
        "budget_eur": money(demand.budget_eur),
        "deadline": demand.deadline,
        "preferred_provinces": list(demand.preferred_provinces),
        "submitted_by": contracts.Actor(
            role=demand.submitted_by_role,
            org_id=demand.submitted_by_org_id,
            key_id=demand.submitted_by_key_id,
        ),
        "partner_org_id": demand.partner_org_id,
        "assisting_centre_id": demand.assisting_centre_id,
        "submitted_at": demand.created_at,
        "challenge_id": demand.challenge_id,
    }


def need_rows(needs: Sequence[Need]) -> list[dict[str, Any]]:
    """Needs as stored: text, and the tag dimensions that have codes."""
    return [
        {"text": n.text, "tags": {k: v for k, v in n.tags.model_dump().items() if v}} for n in needs
    ]


async def add_demand(
    session: AsyncSession,
    *,
    firm: Firm,
    fields: dict[str, Any],
    actor: Actor,
    partner_org_id: str | None = None,
    assisting_centre_id: str | None = None,
    challenge_id: str | None = None,
    now: datetime,
) -> Demand:
    """Insert an open demand of the firm (`fields`: title, description, needs as stored,
    sector, TRLs, budget, deadline, preferred provinces) and record `DemandSubmitted`."""
    demand = Demand(
        id=str(uuid7()),
        firm_id=firm.id,
        **fields,
        status=DemandStatus.OPEN.value,
        submitted_by_role=actor.role,
        submitted_by_org_id=actor.org_id,
        submitted_by_key_id=actor.key_id,
        partner_org_id=partner_org_id,
        assisting_centre_id=assisting_centre_id,
        challenge_id=challenge_id,
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(demand)
    await flush(session)
    await record_event(
        session,
        contracts.DemandSubmitted(**demand_state(demand, firm)),
        subject=demand.id,
        aggregate_version=demand.version,
    )
    return demand


async def submit_demand(
    session: AsyncSession, *, data: DemandIn, principal: Principal, now: datetime
) -> tuple[Demand, Firm]:
    firm = await session.get(Firm, data.firm_id)
    if firm is None:
        raise NotFound(f"no firm {data.firm_id}")
    partner_org_id = None
    assisting_centre_id = None
    if principal.role is Role.FIRM:
        if principal.org_id != firm.id:
            raise Forbidden("a firm submits demands for itself only")
    elif principal.role is Role.PARTNER:
        if require_org(principal) != firm.registered_by_org_id:
            raise Forbidden("a partner submits demands only for the firms it represents")
        partner_org_id = principal.org_id
    elif principal.role is Role.CENTRE:
        # Like a partner: for the firms it registered (assists), not for any firm of the platform.
        if require_org(principal) != firm.registered_by_org_id:
            raise Forbidden("a centre submits demands only for the firms it registered")
        assisting_centre_id = principal.org_id
    elif principal.role is not Role.REGION:
        raise Forbidden("only a firm, a partner, a centre or the Region may submit a demand")
    sector = check_ateco(data.sector, "sector").code if data.sector else firm.ateco_code
    for index, code in enumerate(data.preferred_provinces):
        check_province(code, f"preferred_provinces.{index}")
    if data.deadline is not None and data.deadline < today(now):
        raise invalid("deadline", f"the deadline {data.deadline} is in the past")
    demand = await add_demand(
        session,
        firm=firm,
        fields={
            "title": data.title,
            "description": data.description,
            "needs": need_rows(data.needs),
            "sector": sector,
            "trl_current": data.trl_current,
            "trl_target": data.trl_target,
            "budget_eur": data.budget_eur,
            "deadline": data.deadline,
            "preferred_provinces": list(dict.fromkeys(data.preferred_provinces)),
        },
        actor=Actor.of(principal),
        partner_org_id=partner_org_id,
        assisting_centre_id=assisting_centre_id,
        now=now,
    )
    return demand, firm


async def may_see_demand(session: AsyncSession, principal: Principal, demand: Demand) -> bool:
    if principal.role is Role.REGION:
        return True
    org = principal.org_id
    if org is None:
        return False
    if principal.role is Role.FIRM:
        return demand.firm_id == org
    if principal.role is Role.PARTNER:
        return demand.partner_org_id == org
    if principal.role is Role.CENTRE:
        if demand.assisting_centre_id == org:
            return True
        introduced = await session.scalar(
            select(Introduction.id).where(
                Introduction.demand_id == demand.id, Introduction.centre_id == org
            )
        )
        return introduced is not None
    return False


async def get_demand(
    session: AsyncSession, *, demand_id: str, principal: Principal
) -> tuple[Demand, Firm]:
    demand = await session.get(Demand, demand_id)
    if demand is None:
        raise NotFound(f"no demand {demand_id}")
    if not await may_see_demand(session, principal, demand):
        raise Forbidden("this demand is not yours to read")
    firm = await session.get(Firm, demand.firm_id)
    assert firm is not None
    return demand, firm


def is_owner_side(principal: Principal, demand: Demand) -> bool:
    """The firm, the partner or centre that submitted it for the firm, or the Region."""
    if principal.role is Role.REGION:
        return True
    org = principal.org_id
    return org is not None and (
        (principal.role is Role.FIRM and demand.firm_id == org)
        or (principal.role is Role.PARTNER and demand.partner_org_id == org)
        or (principal.role is Role.CENTRE and demand.assisting_centre_id == org)
    )


async def list_demands(
    session: AsyncSession,
    *,
    principal: Principal,
    status: DemandStatus | None,
    firm_id: str | None,
    challenge: bool,
    limit: int,
    cursor: str | None,
) -> tuple[list[Demand], str | None]:
    """The firms' own demands, or (`challenge`) those that back challenges."""
    statement = select(Demand).where(
        Demand.challenge_id.is_not(None) if challenge else Demand.challenge_id.is_(None)
    )
    org = principal.org_id
    if principal.role is Role.FIRM:
        statement = statement.where(Demand.firm_id == require_org(principal))
    elif principal.role is Role.PARTNER:
        statement = statement.where(Demand.partner_org_id == require_org(principal))
    elif principal.role is Role.CENTRE:
        require_org(principal)
        statement = statement.where(
            or_(
                Demand.assisting_centre_id == org,
                exists().where(Introduction.demand_id == Demand.id, Introduction.centre_id == org),
            )
        )
    elif principal.role is not Role.REGION:
        raise Forbidden("demands are not public")
    if status is not None:
        statement = statement.where(Demand.status == status.value)
    if firm_id is not None:
        statement = statement.where(Demand.firm_id == firm_id)
    rows, next_cursor = await page(
        session,
        statement,
        created=Demand.created_at,
        key=Demand.id,
        limit=limit,
        cursor=cursor,
        position=lambda row: (row[0].created_at, row[0].id),
    )
    return [row[0] for row in rows], next_cursor


async def change_status(
    session: AsyncSession,
    *,
    demand: Demand,
    firm: Firm,
    to: DemandStatus,
    actor: Actor,
    reason: str | None,
    now: datetime,
) -> None:
    current = DemandStatus(demand.status)
    if to is current:
        return
    if to not in TRANSITIONS[current]:
        allowed = sorted(s.value for s in TRANSITIONS[current])
        raise Conflict(
            f"a {current.value} demand cannot become {to.value}",
            current_status=current.value,
            allowed=allowed,
        )
    demand.status = to.value
    demand.updated_at = now
    demand.version += 1
    await flush(session)
    await record_event(
        session,
        contracts.DemandUpdated(
            **demand_state(demand, firm),
            previous_status=current.value,
            changed=["status"],
            reason=reason,
            actor=actor.contract(),
            updated_at=now,
        ),
        subject=demand.id,
        aggregate_version=demand.version,
    )


async def cancel_demand(
    session: AsyncSession, *, demand_id: str, reason: str, principal: Principal, now: datetime
) -> tuple[Demand, Firm]:
    demand, firm = await get_demand(session, demand_id=demand_id, principal=principal)
    if not is_owner_side(principal, demand):
        raise Forbidden("only whoever submitted the demand, the firm or the Region may cancel it")
    if DemandStatus(demand.status) not in ACTIVE_DEMAND:
        raise Conflict(
            f"the demand is already {demand.status}", current_status=demand.status, allowed=[]
        )
    if demand.challenge_id is not None:
        raise Conflict(
            f"this demand backs challenge {demand.challenge_id}: close the challenge instead",
            challenge_id=demand.challenge_id,
        )
    from services.matching.models import Engagement

    open_engagement = await session.scalar(
        select(Engagement.id).where(Engagement.demand_id == demand.id, Engagement.status == "open")
    )
    if open_engagement is not None:
        raise Conflict(
            f"the demand has an open engagement ({open_engagement}): close it first",
            engagement_id=open_engagement,
        )
    await change_status(
        session,
        demand=demand,
        firm=firm,
        to=DemandStatus.CANCELLED,
        actor=Actor.of(principal),
        reason=reason,
        now=now,
    )
    return demand, firm


# -- matches --------------------------------------------------------------------------------


def demand_query(demand: Demand, firm: Firm, text: str, vector: Any, tags: dict[str, Any]) -> Query:
    return make_query(
        text_=text,
        tags=tags,
        sector=demand.sector,
        trl_current=demand.trl_current,
        trl_target=demand.trl_target,
        point=locate(firm.province, firm.municipality),
        preferred_provinces=demand.preferred_provinces,
        vector=vector,
    )


def all_tags(needs: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    tags: dict[str, list[str]] = {}
    for need in needs:
        for dimension, codes in need.get("tags", {}).items():
            tags.setdefault(dimension, []).extend(codes)
    return tags


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


async def demand_matches(
    session: AsyncSession,
    *,
    demand_id: str,
    principal: Principal,
    ranker: RequestRanker,
    limit: int,
    now: datetime,
) -> tuple[Demand, list[Match], MemoryIndex, list[Match]]:
    """The best labs for the demand, and the open initiatives that fit it; records
    `matches_proposed` when the proposal changed, and moves an open demand to matched."""
    demand, firm = await get_demand(session, demand_id=demand_id, principal=principal)
    return (
        demand,
        *await propose_matches(
            session, demand=demand, firm=firm, ranker=ranker, limit=limit, now=now
        ),
    )


async def propose_matches(
    session: AsyncSession,
    *,
    demand: Demand,
    firm: Firm,
    ranker: RequestRanker,
    limit: int,
    now: datetime,
) -> tuple[list[Match], MemoryIndex, list[Match]]:
    """The labs (best `limit`) and the open initiatives that fit the demand."""
    text = demand_text(demand.title, demand.description, [n["text"] for n in demand.needs])
    vector = (await ranker.embed([text]))[0]
    index = ranker.index
    query = demand_query(demand, firm, text, vector, all_tags(demand.needs))
    ranked = ranking.rank(index, query, limit=max(limit, PROPOSAL_SIZE))
    matches = ranked[:limit]
    offered = await initiatives.propose(
        session, query=query, dimension=index.dimension, today=today(now)
    )
    proposal = [
        contracts.ProposedMatch(
            rank=position,
            lab_id=m.entry.lab_id,
            centre_id=m.entry.centre_id,
            entity=m.entry.entity,
            entry_id=m.entry.id,
            score=round(m.score, 4),
            cross_language=m.explanation.cross_language,
            distance_km=m.explanation.distance_km,
        )
        for position, m in enumerate(ranked[:PROPOSAL_SIZE], start=1)
    ]
    proposed_initiatives = [
        contracts.ProposedInitiative(
            rank=position,
            initiative_id=m.entry.id,
            centre_id=m.entry.centre_id,
            kind=initiatives.facts(m).kind,
            score=round(m.score, 4),
        )
        for position, m in enumerate(offered, start=1)
    ]
    # Without initiatives, the digest is the labs' alone, as before initiatives were proposed.
    digest = _digest(
        [(p.lab_id, p.entry_id, p.score) for p in proposal]
        + [(i.initiative_id, i.score) for i in proposed_initiatives]
    )
    if proposal and digest != demand.matches_digest and demand.status in ACTIVE_DEMAND:
        demand.matches_digest = digest
        demand.version += 1
        await flush(session)
        await record_event(
            session,
            contracts.MatchesProposed(
                demand_id=demand.id,
                firm=profile(firm),
                matches=proposal,
                centre_ids=sorted({p.centre_id for p in proposal}),
                lab_ids=[p.lab_id for p in proposal],
                cross_language=any(p.cross_language for p in proposal),
                index_generation=ranker.generation,
                proposed_at=now,
                initiatives=proposed_initiatives,
            ),
            subject=demand.id,
            aggregate_version=demand.version,
        )
        if demand.status == DemandStatus.OPEN.value:
            await change_status(
                session,
                demand=demand,
                firm=firm,
                to=DemandStatus.MATCHED,
                actor=Actor("system"),
                reason="labs were proposed",
                now=now,
            )
    return matches, index, offered


# -- consortia ------------------------------------------------------------------------------


async def demand_consortia(
    session: AsyncSession,
    *,
    demand_id: str,
    principal: Principal,
    ranker: RequestRanker,
    limit: int,
    now: datetime,
) -> tuple[Demand, list[consortia.Proposal]]:
    """Teams of labs covering the needs of a demand with two or more needs (else none)."""
    demand, firm = await get_demand(session, demand_id=demand_id, principal=principal)
    if len(demand.needs) < 2:
        return demand, []
    texts = [n["text"] for n in demand.needs]
    vectors = await ranker.embed(texts)
    index = ranker.index
    candidates = []
    for need, text, vector in zip(demand.needs, texts, vectors, strict=True):
        query = demand_query(demand, firm, text, vector, need.get("tags", {}))
        candidates.append(
            [
                consortia.Candidate(m.entry.lab_id, m.entry.centre_id, m.score)
                for m in ranking.rank(index, query, limit=CONSORTIUM_CANDIDATES)
            ]
        )
    proposals = consortia.propose(demand.id, candidates, limit=limit)
    digest = _digest([p.consortium_id for p in proposals])
    if proposals and digest != demand.consortia_digest and demand.status in ACTIVE_DEMAND:
        demand.consortia_digest = digest
        demand.version += 1
        await flush(session)
        await record_event(
            session,
            contracts.ConsortiaProposed(
                demand_id=demand.id,
                firm=profile(firm),
                needs_count=len(demand.needs),
                consortia=[
                    contracts.ProposedConsortium(
                        consortium_id=p.consortium_id,
                        size=p.partners,
                        centres=p.centres,
                        members=[
                            contracts.ConsortiumMember(
                                need_index=m.need_index, lab_id=m.lab_id, centre_id=m.centre_id
                            )
                            for m in p.members
                        ],
                        uncovered_needs=list(p.uncovered_needs),
                    )
                    for p in proposals
                ],
                proposed_at=now,
            ),
            subject=demand.id,
            aggregate_version=demand.version,
        )
    return demand, proposals


def utc_now() -> datetime:
    return datetime.now(UTC)
