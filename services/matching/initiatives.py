"""Initiatives of the member centres proposed to a firm's demand: training courses and events
still to come, running projects.

Projection. Each initiative event of the catalogue (`initiative.created`, `updated`, `closed`,
`participation_confirmed`, `event_held`) carries the initiative's whole public state; it is
written to `catalog_initiatives` with its text analysed and its sentence vector, exactly as a
catalogue entry's (`documents.entry_document`), so an initiative is ranked on the same evidence
as a lab. An event older than the stored `catalog_version` changes nothing.

Open. Whether an initiative may be proposed depends on the day (`is_open`) and on its lead
centre's membership (`centres`, kept from the membership events: a suspended, withdrawn or
expired member's initiatives are not proposed; a centre matching has not heard of yet counts
as active, as for catalogue entries, since the catalogue registers initiatives of active members
only). Both are decided when ranking, never stored.

Ranking. The register holds hundreds of initiatives at most, and few are open at once: each
request reads the open ones and ranks them with `ranking.rank` against the demand's own query
(one `MemoryIndex` entry per initiative, its own "lab"), keeping those above `MIN_SCORE`.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.consumer import Handler
from kernel.contracts import catalog
from kernel.events import CloudEvent, now_utc
from services.matching import ranking
from services.matching.documents import entry_document
from services.matching.embedding import Embedder, default_embedder, from_bytes, to_bytes
from services.matching.geo import locate
from services.matching.models import CatalogInitiative, Centre
from services.matching.ranking import Entry, InitiativeFacts, Match, MemoryIndex, Query, tag_set

ENTITY = "initiative"
ACTIVE = "active"
EVENT_KINDS = frozenset({"training", "dissemination_event"})
"""Held on a date: open while it is still to come and registration is not closed."""
PROJECT_KINDS = frozenset({"research_project", "innovation_project", "joint_action"})
"""Run over a period: open while running (a firm may join or use their results)."""
PROPOSALS = 3
"""Initiatives proposed with a demand's matches, at most: a suggestion beside the labs."""
MIN_SCORE = 0.4
"""An initiative is proposed only when its score exceeds this. Measured on the evaluation set
(`evaluation/`): each of its 86 demands ranked against five registers of 12 random entries of
its catalogue (at least one of them relevant), the size of a register's open initiatives.
Unrelated entries (grade 0, 4,603 scores) had a median of 0.11 and a 99th percentile of 0.35;
0.4% of them exceed 0.4. Entries that solve the need (grade 3) had a median of 0.52 and 86% of
them exceed 0.4 (71% of those graded 2 or 3). So an unrelated initiative passes about once in
270, and a few that would fit are missed: the right side to err on for suggestions made besides
the labs."""

EVENTS = (
    catalog.InitiativeCreated,
    catalog.InitiativeUpdated,
    catalog.InitiativeClosed,
    catalog.InitiativeParticipationConfirmed,
    catalog.InitiativeEventHeld,
)


def is_open(
    *,
    kind: str,
    status: str,
    start_date: date | None,
    end_date: date | None,
    registration_open: bool | None,
    today: date,
) -> bool:
    """A training or dissemination event planned or running, on `today` or later, whose
    registration is not closed; a project or joint action running and not past its end."""
    if kind in EVENT_KINDS:
        return (
            status in ("planned", "running")
            and start_date is not None
            and start_date >= today
            and registration_open is not False
        )
    if kind in PROJECT_KINDS:
        return status == "running" and (end_date is None or end_date >= today)
    return False


# -- the projection -------------------------------------------------------------------------


def _text(value: catalog.Text) -> dict[str, str]:
    return {k: v for k, v in value.model_dump().items() if v}


async def write_initiative(
    session: AsyncSession, *, embedder: Embedder, data: catalog._InitiativeState, version: int
) -> None:
    """Insert or replace the initiative, its terms and vector (unless `version` is not newer
    than the stored one); flush."""
    row = await session.get(CatalogInitiative, data.initiative_id)
    if row is not None and row.catalog_version >= version:
        return
    title, description = _text(data.title), _text(data.description)
    tags = data.tags.model_dump()
    document = entry_document(
        entry_id=data.initiative_id,
        entity=ENTITY,
        lab_id=data.initiative_id,
        centre_id=data.centre_id,
        title=title,
        description=description,
        tags=tags,
        province=data.province,
        municipality=data.municipality,
    )
    vector = (await asyncio.to_thread(embedder.encode, [document.text]))[0]
    values: dict[str, Any] = {
        "centre_id": data.centre_id,
        "kind": data.kind,
        "status": data.status,
        "title": title,
        "description": description,
        "tags": tags,
        "partner_centres": [
            {"centre_id": p.centre_id, "status": p.status} for p in data.partner_centres
        ],
        "funding_programme": data.funding_programme,
        "start_date": data.start_date,
        "end_date": data.end_date,
        "registration_open": data.registration_open,
        "province": data.province,
        "municipality": data.municipality,
        "languages": sorted(document.entry.languages),
        "terms": dict(document.entry.terms),
        "forms": dict(document.entry.forms),
        "embedding": to_bytes(vector),
        "embedding_model": embedder.name,
        "catalog_version": version,
        "updated_at": now_utc(),
    }
    if row is None:
        session.add(CatalogInitiative(id=data.initiative_id, **values))
    else:
        for key, value in values.items():
            setattr(row, key, value)
    await session.flush()


def handlers(embedder: Embedder | None = None) -> dict[str, Handler]:
    """Handlers of the initiative events by type (the embedder is loaded on first use)."""

    async def on_initiative(session: AsyncSession, event: CloudEvent[Any]) -> None:
        await write_initiative(
            session,
            embedder=embedder or default_embedder(),
            data=event.data,
            version=event.aggregateversion,
        )

    return {contract.event_type: on_initiative for contract in EVENTS}


# -- proposing ------------------------------------------------------------------------------


async def open_initiatives(session: AsyncSession, *, today: date) -> list[CatalogInitiative]:
    """The initiatives that may be proposed on `today`, by id."""
    rows = await session.scalars(
        select(CatalogInitiative)
        .outerjoin(Centre, Centre.centre_id == CatalogInitiative.centre_id)
        .where(
            CatalogInitiative.status != "closed",
            or_(Centre.status.is_(None), Centre.status == ACTIVE),
        )
        .order_by(CatalogInitiative.id)
    )
    return [
        row
        for row in rows
        if is_open(
            kind=row.kind,
            status=row.status,
            start_date=row.start_date,
            end_date=row.end_date,
            registration_open=row.registration_open,
            today=today,
        )
    ]


def entry_of(row: CatalogInitiative) -> Entry:
    return Entry(
        id=row.id,
        entity=ENTITY,
        lab_id=row.id,
        centre_id=row.centre_id,
        title=row.title,
        languages=frozenset(row.languages),
        tags=tag_set(row.tags),
        trl_min=None,
        trl_max=None,
        province=row.province,
        point=locate(row.province, row.municipality),
        terms=row.terms,
        forms=row.forms,
        initiative=InitiativeFacts(
            kind=row.kind,
            status=row.status,
            start_date=row.start_date,
            end_date=row.end_date,
            municipality=row.municipality,
            funding_programme=row.funding_programme,
            partner_centres=tuple(
                p["centre_id"] for p in row.partner_centres if p["status"] == "confirmed"
            ),
        ),
    )


def facts(match: Match) -> InitiativeFacts:
    """What a proposed initiative is (`propose` sets it on every match)."""
    assert match.entry.initiative is not None, "not an initiative"
    return match.entry.initiative


async def propose(
    session: AsyncSession, *, query: Query, dimension: int, today: date
) -> list[Match]:
    """The open initiatives that fit the demand's query, best first, explained."""
    rows = await open_initiatives(session, today=today)
    if not rows:
        return []
    index = MemoryIndex(dimension)
    for row in rows:
        index.upsert(entry_of(row), from_bytes(row.embedding))
    return ranking.rank(index, query, limit=PROPOSALS, min_score=MIN_SCORE)
