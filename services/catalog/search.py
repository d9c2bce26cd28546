"""Full-text search over the published catalogue and the initiatives register, the same on
SQLite and PostgreSQL.

The service keeps its own inverted index instead of using a database's full-text engine (FTS5
and tsvector differ in tokenising, stemming and ranking, and SQLite's has no Italian stemmer):

- **Analyzer.** Text is folded (NFKD, accents dropped, lower case) and split into words of
  letters and digits; Italian and English stop words are dropped (`data/stopwords.json`, from
  Snowball's lists). A word of Italian text gives two terms: its Snowball Italian stem and a
  light stem (inflection only: `laboratorio`, `laboratori` → `laborator`; `prova`, `prove` →
  `prov`), because Snowball alone sends `laboratori` to `labor` but `laboratorio` to
  `laborator`. A word of English text gives its Snowball English (Porter2) stem, after British
  spellings are made American (`characterisation` meets `characterization`). Words with
  digits (models, codes) are kept as they are. Text whose language is unknown (keywords,
  manufacturer, model, category, accreditations) gets all three.
- **Index.** `search_documents` holds one row per published lab, competence, equipment and
  service offering, and per initiative that is not a draft (`initiatives/documents.py`: no lab,
  its lead centre as centre, its kind and status), with what filters, facets, titles and
  snippets need; `search_postings` its terms, each with a weight: the sum over its occurrences
  of the field's weight (`FIELD_WEIGHTS`: title 3, keywords 2, manufacturer/model 2,
  description 1, ...); `search_tags` its taxonomy codes with their ancestors, so that `ateco=C`
  finds an entry tagged `26.51`. The service rewrites a document in the same transaction as
  the change that affects it; drafts, withdrawn and deleted entries and draft initiatives are
  not in the index.
- **Query.** The query is analysed like text of unknown language, word by word: a word matches
  a document through any of its terms, so an Italian query finds the Italian text of an entry
  and an English query its English text (no translation). Documents are ranked by BM25
  (k1 = 1.2, b = 0.75; idf over the whole index, a word's best term counts), multiplied by
  the share of query words matched, so documents matching every word come first. Documents
  match when at least one word does. Only documents of centres that are active members (the
  `members` projection; an initiative's lead centre) are searched, so a suspension hides them at
  once.
- **Facets** count the matching documents (every page, after the filters) by entity, province,
  centre, kind (a service offering's or an initiative's: `training` is both), status
  (`published` for labs and entries, an initiative's own), tag (the codes as tagged), TRL level
  covered and shareability.
- **Pages** are ordered by score, then id; the cursor carries the last (score, id).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

import snowballstemmer
from sqlalchemy import delete, exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.errors import InvalidInput
from services.catalog import taxonomies
from services.catalog.models import Member, SearchDocument, SearchPosting, SearchTag
from services.catalog.taxonomies import DATA, TAG_DIMENSIONS, fold

K1 = 1.2
B = 0.75
SNIPPET_LENGTH = 200
LANGUAGES = ("it", "en")
ENTITIES = ("lab", "competence", "equipment", "service", "initiative")

FIELD_WEIGHTS = {
    "title": 3.0,
    "keywords": 2.0,
    "make": 2.0,
    "category": 1.5,
    "description": 1.0,
    "lab": 0.5,
    "extra": 0.5,
}
"""Weight of an occurrence of a term, by the field it is in."""

# -- analyzer -------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")
_ITALIAN_ENDINGS = ("a", "e", "i", "o")


@cache
def stop_words() -> frozenset[str]:
    data = json.loads((DATA / "stopwords.json").read_text(encoding="utf-8"))
    return frozenset(data["it"]) | frozenset(data["en"])


_stemmers = {
    lang: snowballstemmer.stemmer({"it": "italian", "en": "english"}[lang]) for lang in LANGUAGES
}


_BRITISH = (
    ("isations", "izations"),
    ("isation", "ization"),
    ("ysing", "yzing"),
    ("ysed", "yzed"),
    ("yse", "yze"),
    ("our", "or"),
    ("tre", "ter"),
    ("bre", "ber"),
)
_ISE = ("ise", "ised", "ises", "ising", "iser", "isers")
_IZE_AFTER = ("al", "an", "ar", "at", "er", "es", "gn", "il", "im", "it", "on", "rd")
"""Endings before -ise of verbs spelt -ize in American (organise, optimise, utilise,
standardise, characterise, ...), but not of advise, supervise, promise, exercise, expertise."""


@lru_cache(maxsize=100_000)
def american(word: str) -> str:
    """British spellings as American ones (`characterisation`, `optimise`, `analyse`, `fibre`,
    `colour`), so that both meet; applied to text and queries alike."""
    for ending in _ISE:
        stem = word[: -len(ending)]
        if word.endswith(ending) and len(stem) >= 3 and stem.endswith(_IZE_AFTER):
            return stem + ending.replace("is", "iz", 1)
    for british, us in _BRITISH:
        if word.endswith(british) and len(word) - len(british) >= 2:
            return word[: -len(british)] + us
    return word


@lru_cache(maxsize=100_000)
def snowball(word: str, lang: str) -> str:
    if lang == "en":
        word = american(word)
    stemmed: str = _stemmers[lang].stemWord(word)
    return stemmed


@lru_cache(maxsize=100_000)
def light_italian(word: str) -> str:
    """Inflectional stem of an Italian word: the final vowel goes, with the `i` of `-io`/`-ia`
    /`-ie` and the `h` of `-che`/`-chi`/`-ghe`/`-ghi` (`analisi` → `analis`, `tecniche` →
    `tecnic`, `laboratori` → `laborator`). Words of four letters or fewer stay as they are."""
    if len(word) <= 4 or not word.isalpha() or word[-1] not in _ITALIAN_ENDINGS:
        return word
    stem = word[:-1]
    if (stem.endswith("i") and len(stem) > 4) or stem.endswith(("ch", "gh")):
        stem = stem[:-1]
    return stem


def words(text: str) -> list[str]:
    """The folded words of a text, without stop words and single letters."""
    stops = stop_words()
    return [w for w in _WORD.findall(fold(text)) if w not in stops and len(w) > 1]


def word_terms(word: str, lang: str | None) -> frozenset[str]:
    """The index terms of one folded word: `lang` is `it`, `en`, or None when unknown."""
    if any(c.isdigit() for c in word):
        return frozenset((word,))
    terms: set[str] = set()
    if lang in (None, "it"):
        terms.add(snowball(word, "it"))
        terms.add(light_italian(word))
    if lang in (None, "en"):
        terms.add(snowball(word, "en"))
    return frozenset(t for t in terms if t)


def text_terms(text: str, lang: str | None) -> list[str]:
    """Every term of a text, with repeats (one entry per occurrence and term)."""
    return [term for word in words(text) for term in word_terms(word, lang)]


LanguageMap = Mapping[str, str]
FieldValue = LanguageMap | str | Sequence[str] | None


def field_terms(value: FieldValue) -> dict[str | None, list[str]]:
    """Terms of a field by language (None: language unknown)."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {None: text_terms(value, None)}
    if isinstance(value, Mapping):
        return {lang: text_terms(text, lang) for lang, text in value.items() if text}
    return {None: [t for item in value for t in text_terms(item, None)]}


def weigh(fields: Iterable[tuple[str, FieldValue]]) -> dict[str, float]:
    """Term → weight: the sum, over every occurrence, of its field's weight."""
    weights: dict[str, float] = defaultdict(float)
    for name, value in fields:
        for terms in field_terms(value).values():
            for term in terms:
                weights[term] += FIELD_WEIGHTS[name]
    return dict(weights)


def query_groups(q: str | None) -> list[frozenset[str]]:
    """One group of alternative terms per distinct query word."""
    seen: list[str] = []
    for word in words(q or ""):
        if word not in seen:
            seen.append(word)
    return [word_terms(word, None) for word in seen]


# -- documents ------------------------------------------------------------------------------


@dataclass
class Document:
    """What the index keeps of a lab, an entry or an initiative."""

    entry_id: str
    entity: str
    lab_id: str | None
    centre_id: str
    province: str
    title: LanguageMap
    text: LanguageMap
    fields: list[tuple[str, FieldValue]]
    tags: Mapping[str, Sequence[str]]
    signature: dict[str, Any] = field(default_factory=dict)
    kind: str | None = None
    status: str = "published"
    """Labs and entries are indexed only when published; an initiative gives its own."""
    shareable: bool | None = None
    trl_min: int | None = None
    trl_max: int | None = None


async def unindex(session: AsyncSession, entry_ids: Sequence[str]) -> None:
    """Remove documents (absent ones are ignored)."""
    if not entry_ids:
        return
    ids = list(entry_ids)
    await session.execute(delete(SearchPosting).where(SearchPosting.entry_id.in_(ids)))
    await session.execute(delete(SearchTag).where(SearchTag.entry_id.in_(ids)))
    await session.execute(delete(SearchDocument).where(SearchDocument.entry_id.in_(ids)))


async def index(session: AsyncSession, documents: Sequence[Document]) -> None:
    """Write documents, replacing what the index had for them."""
    if not documents:
        return
    await unindex(session, [d.entry_id for d in documents])
    rows: list[dict[str, Any]] = []
    postings: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    for doc in documents:
        weights = weigh(doc.fields)
        rows.append(
            {
                "entry_id": doc.entry_id,
                "entity": doc.entity,
                "lab_id": doc.lab_id,
                "centre_id": doc.centre_id,
                "province": doc.province,
                "kind": doc.kind,
                "status": doc.status,
                "shareable": doc.shareable,
                "trl_min": doc.trl_min,
                "trl_max": doc.trl_max,
                "title": dict(doc.title),
                "text": dict(doc.text),
                "tags": {d: list(doc.tags.get(d, ())) for d in TAG_DIMENSIONS},
                "signature": doc.signature,
                "length": sum(weights.values()),
            }
        )
        postings.extend(
            {"entry_id": doc.entry_id, "term": term[:100], "weight": weight}
            for term, weight in weights.items()
        )
        for dimension in TAG_DIMENSIONS:
            for code in sorted(taxonomies.closure(dimension, doc.tags.get(dimension, ()))):
                tags.append({"entry_id": doc.entry_id, "dimension": dimension, "code": code})
    await session.execute(insert(SearchDocument), rows)
    if postings:
        await session.execute(insert(SearchPosting), postings)
    if tags:
        await session.execute(insert(SearchTag), tags)


# -- query ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    province: str | None = None
    centre: str | None = None
    entity: str | None = None
    kind: str | None = None
    status: str | None = None
    trl: int | None = None
    shareable: bool | None = None
    tags: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    entity: str
    id: str
    lab_id: str | None
    centre_id: str
    province: str
    kind: str | None
    status: str
    title: str
    score: float
    snippet: str


@dataclass(frozen=True)
class Result:
    items: list[Hit]
    next_cursor: str | None
    total: int
    facets: dict[str, dict[str, int]]


def _visible() -> Any:
    """Documents of centres that are active members."""
    return select(SearchDocument).join(
        Member,
        (Member.organisation_id == SearchDocument.centre_id) & (Member.status == "active"),
    )


def _filtered(filters: Filters) -> Any:
    statement = _visible()
    doc = SearchDocument
    if filters.province:
        statement = statement.where(doc.province == filters.province)
    if filters.centre:
        statement = statement.where(doc.centre_id == filters.centre)
    if filters.entity:
        statement = statement.where(doc.entity == filters.entity)
    if filters.kind:
        statement = statement.where(doc.kind == filters.kind)
    if filters.status:
        statement = statement.where(doc.status == filters.status)
    if filters.shareable is not None:
        statement = statement.where(doc.shareable == filters.shareable)
    if filters.trl is not None:
        statement = statement.where(doc.trl_min <= filters.trl, doc.trl_max >= filters.trl)
    for dimension, codes in filters.tags.items():
        if codes:
            statement = statement.where(
                exists().where(
                    SearchTag.entry_id == doc.entry_id,
                    SearchTag.dimension == dimension,
                    SearchTag.code.in_(list(codes)),
                )
            )
    return statement


def bm25(tf: float, df: int, n: int, length: float, average: float) -> float:
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    norm = tf + K1 * (1 - B + B * (length / average if average else 1.0))
    return idf * tf * (K1 + 1) / norm


async def _scores(
    session: AsyncSession, groups: list[frozenset[str]], filters: Filters
) -> dict[str, float]:
    """Score of every visible, filtered document matching at least one query word."""
    terms = sorted(set().union(*groups))
    docs = _filtered(filters).subquery()
    rows = (
        await session.execute(
            select(SearchPosting.entry_id, SearchPosting.term, SearchPosting.weight, docs.c.length)
            .join(docs, docs.c.entry_id == SearchPosting.entry_id)
            .where(SearchPosting.term.in_(terms))
        )
    ).all()
    if not rows:
        return {}
    df = dict(
        (
            await session.execute(
                select(SearchPosting.term, func.count())
                .where(SearchPosting.term.in_(terms))
                .group_by(SearchPosting.term)
            )
        ).all()
    )
    n, average = (
        await session.execute(select(func.count(), func.avg(SearchDocument.length)))
    ).one()
    n, average = int(n), float(average or 0.0)
    by_doc: dict[str, dict[str, float]] = defaultdict(dict)
    lengths: dict[str, float] = {}
    for entry_id, term, weight, length in rows:
        by_doc[entry_id][term] = float(weight)
        lengths[entry_id] = float(length)
    scores: dict[str, float] = {}
    for entry_id, found in by_doc.items():
        total, matched = 0.0, 0
        for group in groups:
            best = max(
                (
                    bm25(found[t], int(df.get(t, 1)), n, lengths[entry_id], average)
                    for t in group
                    if t in found
                ),
                default=None,
            )
            if best is not None:
                total += best
                matched += 1
        scores[entry_id] = round(total * matched / len(groups), 4)
    return scores


def encode_cursor(score: float, entry_id: str) -> str:
    raw = json.dumps([score, entry_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        score, entry_id = json.loads(raw)
        if not isinstance(score, int | float) or isinstance(score, bool):
            raise ValueError("bad score")
        if not isinstance(entry_id, str):
            raise ValueError("bad id")
        return float(score), entry_id
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidInput(
            "invalid cursor: pass the next_cursor of a previous page",
            errors=[
                {"field": "cursor", "in": "query", "message": "invalid cursor", "type": "cursor"}
            ],
        ) from exc


def pick(text: Mapping[str, str], lang: str) -> str:
    """The text in `lang`, else in the other language, else empty."""
    return text.get(lang) or next((v for v in text.values() if v), "")


def snippet(text: str, groups: list[frozenset[str]], length: int = SNIPPET_LENGTH) -> str:
    """An excerpt of `text` around the first word that starts with a query term."""
    if len(text) <= length:
        return text
    # Fold character by character, so that positions in the folded text are the same.
    folded = "".join((fold(c)[:1] or " ") for c in text)
    start = 0
    positions = []
    for term in set().union(*groups) if groups else ():
        found = re.search(r"\b" + re.escape(term), folded)
        if found is not None:
            positions.append(found.start())
    if positions:
        start = max(0, min(positions) - length // 4)
        while start > 0 and not text[start - 1].isspace():
            start -= 1
    end = min(len(text), start + length)
    while end < len(text) and end > start + length // 2 and not text[end].isspace():
        end -= 1
    excerpt = text[start:end].strip()
    return ("…" if start > 0 else "") + excerpt + ("…" if end < len(text) else "")


def facets_of(documents: Iterable[SearchDocument]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = {
        name: Counter()
        for name in (
            "entity",
            "province",
            "centre",
            "kind",
            "status",
            *TAG_DIMENSIONS,
            "trl",
            "shareable",
        )
    }
    for doc in documents:
        counts["entity"][doc.entity] += 1
        if doc.province:
            counts["province"][doc.province] += 1
        counts["centre"][doc.centre_id] += 1
        if doc.kind:
            counts["kind"][doc.kind] += 1
        counts["status"][doc.status] += 1
        for dimension in TAG_DIMENSIONS:
            counts[dimension].update(set((doc.tags or {}).get(dimension, ())))
        if doc.trl_min is not None and doc.trl_max is not None:
            counts["trl"].update(str(level) for level in range(doc.trl_min, doc.trl_max + 1))
        if doc.shareable is not None:
            counts["shareable"]["true" if doc.shareable else "false"] += 1
    return {
        name: dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))
        for name, counter in counts.items()
    }


async def _documents(session: AsyncSession, ids: Sequence[str]) -> list[SearchDocument]:
    found: list[SearchDocument] = []
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        found.extend(
            (
                await session.scalars(
                    select(SearchDocument).where(SearchDocument.entry_id.in_(chunk))
                )
            ).all()
        )
    return found


async def search(
    session: AsyncSession,
    *,
    q: str | None,
    filters: Filters,
    lang: str,
    limit: int,
    cursor: str | None,
) -> Result:
    """One page of the ranked matches, with facets over all of them."""
    after = decode_cursor(cursor) if cursor else None
    groups = query_groups(q)
    if q and q.strip() and not groups:  # only stop words: nothing to look for
        return Result([], None, 0, facets_of([]))
    if groups:
        scores = await _scores(session, groups, filters)
        documents = await _documents(session, list(scores))
    else:
        documents = list((await session.scalars(_filtered(filters))).all())
        scores = {doc.entry_id: 0.0 for doc in documents}
    ranked = sorted(documents, key=lambda d: (-scores[d.entry_id], d.entry_id))
    if after is not None:
        score, entry_id = after
        ranked_after = [
            d
            for d in ranked
            if scores[d.entry_id] < score or (scores[d.entry_id] == score and d.entry_id > entry_id)
        ]
    else:
        ranked_after = ranked
    page = ranked_after[:limit]
    next_cursor = None
    if len(ranked_after) > limit:
        last = page[-1]
        next_cursor = encode_cursor(scores[last.entry_id], last.entry_id)
    items = [
        Hit(
            entity=doc.entity,
            id=doc.entry_id,
            lab_id=doc.lab_id,
            centre_id=doc.centre_id,
            province=doc.province,
            kind=doc.kind,
            status=doc.status,
            title=pick(doc.title, lang),
            score=scores[doc.entry_id],
            snippet=snippet(pick(doc.text, lang), groups),
        )
        for doc in page
    ]
    return Result(items, next_cursor, len(documents), facets_of(documents))
