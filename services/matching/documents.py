"""From catalogue entries and demands to what the ranker reads (`Entry`, `Query`).

An entry's text is its title, description and keywords (and, for equipment, category,
manufacturer and model), in each language it has; the vector is computed from that text, the
terms from each language with its own stemmer. A demand's text is its title, description and
needs; its language is detected from that text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.matching import text
from services.matching.embedding import Embedder
from services.matching.geo import Point, locate
from services.matching.ranking import Entry, Query, tag_set
from services.matching.text import LANGUAGES, Language

LanguageMap = Mapping[str, str | None]


def texts_by_language(
    title: LanguageMap, description: LanguageMap | None, extras: Iterable[str | None] = ()
) -> dict[Language, str]:
    """The entry's text in each language it is written in (extras go with every language)."""
    extra = ". ".join(e for e in extras if e)
    found: dict[Language, str] = {}
    for language in LANGUAGES:
        parts = [title.get(language), (description or {}).get(language)]
        if not any(parts):
            continue
        found[language] = ". ".join(p for p in [*parts, extra] if p)
    if not found and extra:
        found["en"] = extra
    return found


def embedding_text(texts: Mapping[Language, str]) -> str:
    return "\n".join(texts[language] for language in LANGUAGES if language in texts)


@dataclass(frozen=True)
class EntryDocument:
    """An entry as indexed: the ranker's view plus the text the vector was made from."""

    entry: Entry
    text: str


def entry_document(
    *,
    entry_id: str,
    entity: str,
    lab_id: str,
    centre_id: str,
    title: LanguageMap,
    description: LanguageMap | None,
    extras: Sequence[str | None] = (),
    tags: Mapping[str, Iterable[str]] | None,
    trl_min: int | None = None,
    trl_max: int | None = None,
    province: str | None,
    municipality: str | None,
    shareable: bool | None = None,
) -> EntryDocument:
    texts = texts_by_language(title, description, extras)
    counts: Counter[str] = text.term_counts(texts)
    return EntryDocument(
        entry=Entry(
            id=entry_id,
            entity=entity,
            lab_id=lab_id,
            centre_id=centre_id,
            title={k: v for k, v in title.items() if v},
            languages=frozenset(texts),
            tags=tag_set(tags),
            trl_min=trl_min,
            trl_max=trl_max,
            province=province,
            point=locate(province, municipality),
            terms=dict(counts),
            forms=text.surface_forms(texts),
            shareable=shareable,
        ),
        text=embedding_text(texts),
    )


def demand_text(title: str, description: str | None, needs: Sequence[str]) -> str:
    return "\n".join(p for p in [title, description or "", *needs] if p)


def make_query(
    *,
    text_: str,
    tags: Mapping[str, Iterable[str]] | None = None,
    sector: str | None = None,
    trl_current: int | None = None,
    trl_target: int | None = None,
    point: Point | None = None,
    preferred_provinces: Iterable[str] = (),
    vector: npt.NDArray[np.float32] | None = None,
    language: Language | None = None,
) -> Query:
    chosen = language or text.detect_language(text_)
    # Without evidence of the language, the words are stemmed both ways.
    analysed = text.analyse(text_, chosen)
    if chosen is None:
        italian = set(analysed)
        analysed += [pair for pair in text.analyse(text_, "en") if pair not in italian]
    forms: dict[str, str] = {}
    for term, word in analysed:
        forms.setdefault(term, word)
    all_tags = set(tag_set(tags))
    if sector:
        all_tags.add(f"ateco:{sector}")
    return Query(
        text=text_,
        language=chosen,
        terms=dict(Counter(term for term, _ in analysed)),
        forms=forms,
        tags=frozenset(all_tags),
        trl_current=trl_current,
        trl_target=trl_target,
        point=point,
        preferred_provinces=frozenset(preferred_provinces),
        vector=vector,
    )


def embed_one(embedder: Embedder, value: str) -> npt.NDArray[np.float32]:
    vector: npt.NDArray[np.float32] = embedder.encode([value])[0]
    return vector
