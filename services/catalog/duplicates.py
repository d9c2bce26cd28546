"""Near-duplicate detection across centres, and the pairs the committee resolves.

When equipment, a competence or a service offering is created or updated, it is compared with
the published entries of the same kind at *other* centres (whatever their membership status:
an entry hidden by a suspension is still a duplicate). Two rules:

1. **Same manufacturer and model** (equipment only): both present and equal once folded to
   letters and digits (`JEOL`, `JSM-IT500` = `jeol`, `jsm it500`): similarity 1.0.
2. **Similar name and description**: the analyzer's terms (`search.py`: folded, stop words
   dropped, stemmed) of the name/title, and of the description with the keywords, compared as
   sets with the cosine (Ochiai) coefficient |A∩B| / √(|A|·|B|) in three views: Italian with
   Italian, English with English, and every term of both languages together (so an entry
   written in English only is compared with the English text of the other, and an entry with
   both languages with everything). Per view the similarity is
   `NAME_WEIGHT`·cos(names) + (1 - `NAME_WEIGHT`)·cos(descriptions); the best view counts.
   A pair is reported at `THRESHOLD` (0.45) or more, when the two share at least
   `MIN_SHARED_TERMS` (3) terms. Service offerings must also be of the same kind.

The thresholds were set on the demo catalogue (`seed.py`): its deliberate near-duplicates score
0.64-0.88 by text (the two SEMs 1.0 by model), unrelated entries of the same kind 0.26 at most.

A pair is stored (a < b by id, so it is unique) only when both entries are published; for a
draft the matches are returned but not stored. Once the Region resolves a pair (`distinct` or
`shared`) it is never reported again, whatever later updates do.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from uuid6 import uuid7

from services.catalog.models import DuplicatePair, SearchDocument
from services.catalog.search import FieldValue, field_terms
from services.catalog.taxonomies import fold

THRESHOLD = 0.45
MIN_SHARED_TERMS = 3
NAME_WEIGHT = 0.5
VIEWS = ("it", "en", "any")


@dataclass(frozen=True)
class Signature:
    """What duplicate detection compares, as stored in the search index."""

    name: Mapping[str, frozenset[str]]
    text: Mapping[str, frozenset[str]]
    make_model: str | None = None
    kind: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": {view: sorted(terms) for view, terms in self.name.items()},
            "text": {view: sorted(terms) for view, terms in self.text.items()},
            "make_model": self.make_model,
            "kind": self.kind,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Signature:
        return cls(
            name={view: frozenset(terms) for view, terms in (data.get("name") or {}).items()},
            text={view: frozenset(terms) for view, terms in (data.get("text") or {}).items()},
            make_model=data.get("make_model"),
            kind=data.get("kind"),
        )


def _views(values: Iterable[FieldValue]) -> dict[str, frozenset[str]]:
    """Terms by view: `it`, `en` (each with the language-neutral terms) and `any`."""
    by_language: dict[str | None, set[str]] = {"it": set(), "en": set(), None: set()}
    for value in values:
        for lang, terms in field_terms(value).items():
            by_language.setdefault(lang, set()).update(terms)
    neutral = by_language[None]
    views = {
        "it": frozenset(by_language["it"] | neutral) if by_language["it"] else frozenset(),
        "en": frozenset(by_language["en"] | neutral) if by_language["en"] else frozenset(),
    }
    views["any"] = frozenset(set().union(*by_language.values()))
    return views


def make_model_key(manufacturer: str | None, model: str | None) -> str | None:
    if not manufacturer or not model:
        return None
    make = re.sub(r"[^a-z0-9]", "", fold(manufacturer))
    kind = re.sub(r"[^a-z0-9]", "", fold(model))
    return f"{make}|{kind}" if make and kind else None


def signature(
    *,
    name: FieldValue,
    description: FieldValue,
    keywords: Sequence[str] = (),
    manufacturer: str | None = None,
    model: str | None = None,
    kind: str | None = None,
) -> Signature:
    return Signature(
        name=_views([name]),
        text=_views([description, list(keywords)]),
        make_model=make_model_key(manufacturer, model),
        kind=kind,
    )


def cosine(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / math.sqrt(len(a) * len(b))


@dataclass(frozen=True)
class Match:
    similarity: float
    reason: str


def compare(a: Signature, b: Signature) -> Match | None:
    """The rule that makes `a` and `b` near-duplicates, or None."""
    if a.make_model and a.make_model == b.make_model:
        return Match(1.0, "same manufacturer and model")
    if a.kind != b.kind:
        return None
    best, shared = 0.0, frozenset[str]()
    for view in VIEWS:
        name_a, name_b = a.name.get(view, frozenset()), b.name.get(view, frozenset())
        text_a, text_b = a.text.get(view, frozenset()), b.text.get(view, frozenset())
        if not (name_a or text_a) or not (name_b or text_b):
            continue
        value = NAME_WEIGHT * cosine(name_a, name_b) + (1 - NAME_WEIGHT) * cosine(text_a, text_b)
        if value > best:
            best, shared = value, (name_a | text_a) & (name_b | text_b)
    if best < THRESHOLD or len(shared) < MIN_SHARED_TERMS:
        return None
    common = ", ".join(sorted(shared)[:8])
    return Match(round(best, 3), f"similar name and description (terms in common: {common})")


# -- finding and recording ------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    entity: str
    id: str
    centre_id: str
    lab_id: str
    similarity: float
    reason: str
    pair_id: str | None = None


def ordered(x: str, y: str) -> tuple[str, str]:
    return (x, y) if x < y else (y, x)


async def _resolved_with(session: AsyncSession, entity: str, entry_id: str) -> set[str]:
    """Ids of the entries `entry_id` has a resolved pair with."""
    rows = (
        await session.execute(
            select(DuplicatePair.a_id, DuplicatePair.b_id).where(
                DuplicatePair.entity == entity,
                DuplicatePair.status != "open",
                or_(DuplicatePair.a_id == entry_id, DuplicatePair.b_id == entry_id),
            )
        )
    ).all()
    return {b if a == entry_id else a for a, b in rows}


Other = tuple[str, str, str, Signature]
"""A published entry of another centre: id, centre, lab, signature."""


async def others(session: AsyncSession, *, entity: str, centre_id: str) -> list[Other]:
    """The published entries of `entity` of every centre but `centre_id`."""
    documents = (
        await session.execute(
            select(
                SearchDocument.entry_id,
                SearchDocument.centre_id,
                SearchDocument.lab_id,
                SearchDocument.signature,
            ).where(SearchDocument.entity == entity, SearchDocument.centre_id != centre_id)
        )
    ).all()
    return [(i, c, lab, Signature.from_json(data)) for i, c, lab, data in documents]


async def find(
    session: AsyncSession,
    *,
    entity: str,
    entry_id: str,
    centre_id: str,
    mine: Signature,
    candidates: Sequence[Other] | None = None,
    new: bool = False,
) -> list[Candidate]:
    """Published entries of other centres that `mine` duplicates, most similar first.
    `candidates`: those entries, read already (an import reads them once per chunk); `new`: the
    entry was just created, so no pair of it has been resolved yet."""
    if candidates is None:
        candidates = await others(session, entity=entity, centre_id=centre_id)
    resolved = set() if new else await _resolved_with(session, entity, entry_id)
    found = []
    for other_id, other_centre, other_lab, signature in candidates:
        if other_id == entry_id or other_id in resolved:
            continue
        match = compare(mine, signature)
        if match is not None:
            found.append(
                Candidate(entity, other_id, other_centre, other_lab, match.similarity, match.reason)
            )
    return sorted(found, key=lambda c: (-c.similarity, c.id))


async def record(
    session: AsyncSession,
    *,
    entity: str,
    entry_id: str,
    centre_id: str,
    lab_id: str,
    candidates: Sequence[Candidate],
    now: datetime,
) -> tuple[list[Candidate], list[DuplicatePair]]:
    """Store open pairs for `candidates` (both sides published); returns the candidates with
    their pair ids, and the pairs that are new (for their events)."""
    if not candidates:
        return [], []
    keys = [ordered(entry_id, c.id) for c in candidates]
    existing = {
        (pair.a_id, pair.b_id): pair
        for pair in (
            await session.scalars(
                select(DuplicatePair).where(
                    DuplicatePair.entity == entity,
                    or_(*(and_(DuplicatePair.a_id == a, DuplicatePair.b_id == b) for a, b in keys)),
                )
            )
        ).all()
    }
    out: list[Candidate] = []
    created: list[DuplicatePair] = []
    for candidate, (a, b) in zip(candidates, keys, strict=True):
        pair = existing.get((a, b))
        if pair is None:
            mine_first = a == entry_id
            pair = DuplicatePair(
                id=str(uuid7()),
                entity=entity,
                a_id=a,
                a_centre_id=centre_id if mine_first else candidate.centre_id,
                a_lab_id=lab_id if mine_first else candidate.lab_id,
                b_id=b,
                b_centre_id=candidate.centre_id if mine_first else centre_id,
                b_lab_id=candidate.lab_id if mine_first else lab_id,
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
            pair.similarity = candidate.similarity
            pair.reason = candidate.reason
            pair.updated_at = now
            pair.version += 1
        out.append(
            Candidate(
                candidate.entity,
                candidate.id,
                candidate.centre_id,
                candidate.lab_id,
                candidate.similarity,
                candidate.reason,
                pair.id,
            )
        )
    return out, created
