"""Overlapping initiatives across centres, and the pairs the committee resolves.

When an initiative is created or changed, it is compared with the initiatives of *other*
centres (other lead centres) that are not drafts, of the same family (projects — research,
innovation, joint actions — with projects; training and dissemination events with events), whose
time windows overlap: [start_date, end_date], a missing start or end being open (an event
without an end date lasts its day). Similarity reuses the duplicate detection's signature
(`duplicates.py`: the analyzer's terms of the title, and of the description, compared as sets
with the cosine, Italian with Italian, English with English and all with all, the best view):

    text = 0.5·cos(titles) + 0.5·cos(descriptions)
    similarity = 0.7·text + 0.3·cos(tags)   when both have tags (codes as `dimension:code`)
    similarity = text                        otherwise

reported at `THRESHOLD` (0.4) or more, with at least `MIN_SHARED_TERMS` (2) terms in common.
A pair is stored (a < b by id, unique) when both initiatives are not drafts: a draft's matches
are returned, not stored. A pair the Region resolved (`distinct` or `to_coordinate`) is never
reported again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from uuid6 import uuid7

from services.catalog import duplicates
from services.catalog.initiatives.models import Initiative, InitiativeOverlap
from services.catalog.initiatives.schemas import EVENT_KINDS, InitiativeKind

THRESHOLD = 0.4
MIN_SHARED_TERMS = 2
TEXT_WEIGHT = 0.7


def family(kind: str) -> str:
    return "event" if kind in EVENT_KINDS else "project"


def signature(
    title: Mapping[str, str], description: Mapping[str, str], tags: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """What is compared, as stored on the initiative (`signature` column)."""
    text = duplicates.signature(name=dict(title), description=dict(description))
    codes = sorted(f"{dimension}:{code}" for dimension, values in tags.items() for code in values)
    return {**text.as_json(), "tags": codes}


@dataclass(frozen=True)
class Window:
    start: date | None
    end: date | None

    @classmethod
    def of(cls, initiative: Initiative) -> Window:
        end = initiative.end_date
        if end is None and initiative.kind in EVENT_KINDS:
            end = initiative.start_date
        return cls(initiative.start_date, end)

    def overlaps(self, other: Window) -> bool:
        before = self.end is not None and other.start is not None and self.end < other.start
        after = other.end is not None and self.start is not None and other.end < self.start
        return not (before or after)


@dataclass(frozen=True)
class Match:
    similarity: float
    reason: str


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> Match | None:
    """The similarity of two signatures, or None under the threshold."""
    mine, theirs = duplicates.Signature.from_json(a), duplicates.Signature.from_json(b)
    best, shared = 0.0, frozenset[str]()
    for view in duplicates.VIEWS:
        title_a, title_b = mine.name.get(view, frozenset()), theirs.name.get(view, frozenset())
        text_a, text_b = mine.text.get(view, frozenset()), theirs.text.get(view, frozenset())
        if not (title_a or text_a) or not (title_b or text_b):
            continue
        value = 0.5 * duplicates.cosine(title_a, title_b) + 0.5 * duplicates.cosine(text_a, text_b)
        if value > best:
            best, shared = value, (title_a | text_a) & (title_b | text_b)
    tags_a, tags_b = frozenset(a.get("tags") or ()), frozenset(b.get("tags") or ())
    similarity = best
    if tags_a and tags_b:
        similarity = TEXT_WEIGHT * best + (1 - TEXT_WEIGHT) * duplicates.cosine(tags_a, tags_b)
    if similarity < THRESHOLD or len(shared) < MIN_SHARED_TERMS:
        return None
    reason = f"similar topic (terms in common: {', '.join(sorted(shared)[:8])})"
    if common_tags := sorted(tags_a & tags_b):
        reason += f" and tags ({', '.join(common_tags[:8])})"
    return Match(round(min(similarity, 1.0), 3), reason + " in an overlapping period")


@dataclass(frozen=True)
class Candidate:
    initiative: Initiative
    similarity: float
    reason: str
    overlap_id: str | None = None


def ordered(x: str, y: str) -> tuple[str, str]:
    return (x, y) if x < y else (y, x)


async def _resolved_with(session: AsyncSession, initiative_id: str) -> set[str]:
    rows = (
        await session.execute(
            select(InitiativeOverlap.a_id, InitiativeOverlap.b_id).where(
                InitiativeOverlap.status != "open",
                or_(
                    InitiativeOverlap.a_id == initiative_id,
                    InitiativeOverlap.b_id == initiative_id,
                ),
            )
        )
    ).all()
    return {b if a == initiative_id else a for a, b in rows}


async def find(session: AsyncSession, initiative: Initiative) -> list[Candidate]:
    """Initiatives of other centres that `initiative` overlaps, most similar first."""
    kinds = [k.value for k in InitiativeKind if family(k.value) == family(initiative.kind)]
    others = (
        await session.scalars(
            select(Initiative).where(
                Initiative.centre_id != initiative.centre_id,
                Initiative.id != initiative.id,
                Initiative.status != "draft",
                Initiative.kind.in_(kinds),
            )
        )
    ).all()
    resolved = await _resolved_with(session, initiative.id)
    window = Window.of(initiative)
    found = []
    for other in others:
        if other.id in resolved or not window.overlaps(Window.of(other)):
            continue
        match = compare(initiative.signature, other.signature)
        if match is not None:
            found.append(Candidate(other, match.similarity, match.reason))
    return sorted(found, key=lambda c: (-c.similarity, c.initiative.id))


async def record(
    session: AsyncSession,
    *,
    initiative: Initiative,
    candidates: Sequence[Candidate],
    now: datetime,
) -> tuple[list[Candidate], list[InitiativeOverlap]]:
    """Store open pairs for `candidates`; the candidates with their pair ids, and the new
    pairs (for their events)."""
    if not candidates:
        return [], []
    keys = [ordered(initiative.id, c.initiative.id) for c in candidates]
    existing = {
        (pair.a_id, pair.b_id): pair
        for pair in (
            await session.scalars(
                select(InitiativeOverlap).where(
                    or_(
                        *(
                            and_(InitiativeOverlap.a_id == a, InitiativeOverlap.b_id == b)
                            for a, b in keys
                        )
                    )
                )
            )
        ).all()
    }
    out: list[Candidate] = []
    created: list[InitiativeOverlap] = []
    for candidate, (a, b) in zip(candidates, keys, strict=True):
        pair = existing.get((a, b))
        if pair is None:
            first, second = (
                (initiative, candidate.initiative)
                if a == initiative.id
                else (candidate.initiative, initiative)
            )
            pair = InitiativeOverlap(
                id=str(uuid7()),
                a_id=first.id,
                a_centre_id=first.centre_id,
                a_kind=first.kind,
                b_id=second.id,
                b_centre_id=second.centre_id,
                b_kind=second.kind,
                similarity=candidate.similarity,
                reason=candidate.reason,
                status="open",
                created_at=now,
                updated_at=now,
                version=1,
            )
            session.add(pair)
            created.append(pair)
        elif pair.status == "open" and (
            pair.similarity != candidate.similarity or pair.reason != candidate.reason
        ):
            pair.similarity, pair.reason = candidate.similarity, candidate.reason
            pair.a_kind = initiative.kind if pair.a_id == initiative.id else pair.a_kind
            pair.b_kind = initiative.kind if pair.b_id == initiative.id else pair.b_kind
            pair.updated_at = now
            pair.version += 1
        out.append(Candidate(candidate.initiative, candidate.similarity, candidate.reason, pair.id))
    return out, created
