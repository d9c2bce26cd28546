"""Firms' capabilities as the ranker reads them, so that challenges can be offered SMEs.

A firm's capabilities (a description and tags) are analysed like a catalogue entry's text
(`documents.entry_document`: terms with the stemmer of the description's language, and the
sentence vector), stored on the firm when they change, and ranked with `ranking.rank` over a
per-request `MemoryIndex` (as `initiatives.py` ranks initiatives): the firms with capabilities
are a few thousand at most, and a challenge's teams are asked for rarely.

In that index a firm is an entry of entity `firm` and its own "lab"; its "centre" is
`firm:<id>`, so that a team mixing a firm and labs counts as diverse. Its tags are its
capability tags plus its own ATECO code (a firm serves the sector it works in).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.matching.documents import EntryDocument, entry_document
from services.matching.embedding import Embedder, from_bytes, to_bytes
from services.matching.geo import locate
from services.matching.models import Firm
from services.matching.ranking import Entry, MemoryIndex, tag_set
from services.matching.sizes import SizeClass
from services.matching.text import detect_language

ENTITY = "firm"
SMALL_AND_MEDIUM = (SizeClass.MICRO.value, SizeClass.SMALL.value, SizeClass.MEDIUM.value)


def centre_key(firm_id: str) -> str:
    """A firm's stand-in for a centre in teams."""
    return f"{ENTITY}:{firm_id}"


def firm_tags(firm: Firm) -> dict[str, list[str]]:
    tags = {k: list(v) for k, v in (firm.capability_tags or {}).items() if v}
    ateco = tags.setdefault("ateco", [])
    if firm.ateco_code not in ateco:
        ateco.append(firm.ateco_code)
    return tags


def firm_document(firm: Firm, capabilities: str) -> EntryDocument:
    language = detect_language(capabilities) or "it"
    return entry_document(
        entry_id=firm.id,
        entity=ENTITY,
        lab_id=firm.id,
        centre_id=centre_key(firm.id),
        title={language: firm.name},
        description={language: capabilities},
        tags=firm_tags(firm),
        province=firm.province,
        municipality=firm.municipality,
    )


async def analyse(
    firm: Firm,
    *,
    capabilities: str | None,
    tags: Mapping[str, list[str]],
    embedder: Embedder,
) -> None:
    """Set the firm's capabilities and what the ranker reads of them (nothing without a
    description: a firm is proposed for what it says it does)."""
    firm.capabilities = capabilities
    firm.capability_tags = {k: list(v) for k, v in tags.items() if v}
    if capabilities is None:
        firm.capability_languages = None
        firm.capability_terms = None
        firm.capability_forms = None
        firm.capability_embedding = None
        firm.capability_model = None
        return
    document = firm_document(firm, capabilities)
    vector = (await asyncio.to_thread(embedder.encode, [document.text]))[0]
    firm.capability_languages = sorted(document.entry.languages)
    firm.capability_terms = dict(document.entry.terms)
    firm.capability_forms = dict(document.entry.forms)
    firm.capability_embedding = to_bytes(vector)
    firm.capability_model = embedder.name


def entry_of(firm: Firm) -> Entry:
    return Entry(
        id=firm.id,
        entity=ENTITY,
        lab_id=firm.id,
        centre_id=centre_key(firm.id),
        title={(firm.capability_languages or ["it"])[0]: firm.name},
        languages=frozenset(firm.capability_languages or ()),
        tags=tag_set(firm_tags(firm)),
        trl_min=None,
        trl_max=None,
        province=firm.province,
        point=locate(firm.province, firm.municipality),
        terms=firm.capability_terms or {},
        forms=firm.capability_forms or {},
    )


async def sme_index(
    session: AsyncSession, *, embedder: Embedder, excluded: str
) -> tuple[MemoryIndex, dict[str, Firm]]:
    """The SMEs with capabilities (analysed by this embedder), but `excluded`; and them by id."""
    rows = await session.scalars(
        select(Firm)
        .where(
            Firm.size_class.in_(SMALL_AND_MEDIUM),
            Firm.capability_embedding.is_not(None),
            Firm.capability_model == embedder.name,
            Firm.id != excluded,
        )
        .order_by(Firm.id)
    )
    index = MemoryIndex(embedder.dimension)
    firms: dict[str, Firm] = {}
    for firm in rows:
        assert firm.capability_embedding is not None
        index.upsert(entry_of(firm), from_bytes(firm.capability_embedding))
        firms[firm.id] = firm
    return index, firms
