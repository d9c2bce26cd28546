"""Ranking labs for a demand: lexical, semantic and structured evidence, fused and explained.

Pure: no database, no I/O. `MemoryIndex` holds the visible catalogue entries of one process
(vectors in a float32 matrix, terms in append-only postings), or the open initiatives of the
register (`initiatives.py`: an entry per initiative, its own "lab"); `features` scores the
entries for a query on five kinds of evidence, each in [0, 1]:

- `semantic`: cosine of the multilingual sentence embeddings (negative clipped to 0);
- `lexical`: BM25 (k1 1.2, b 0.75) of the demand's terms, divided by the best BM25 of the query;
  it catches codes and acronyms (HPLC, NIS2, ISO 17075) that embeddings blur;
- `tags`: share of the demand's tags (ATECO hierarchical, S3, KET, ERC, FORD) the entry has;
- `trl`: share of the demand's TRL path (current → target) inside the entry's TRL range;
  0.5 when the entry has no TRL (labs, equipment, services);
- `geo`: 1 in a preferred province, else exp(-distance / 100 km); 0.5 when unknown.

The score is their weighted sum (weights sum to 1, so the score is in [0, 1]); `WEIGHTS` were
tuned on the evaluation set (see `evaluate.py`), which dropped the TRL fit from the score. A
lab's score is its best entry's; ties break on ids, so a ranking is deterministic for the same
index.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from services.matching.geo import EARTH_RADIUS_KM, Point, distance_km

FloatArray = npt.NDArray[np.float32]
COMPONENTS = ("semantic", "lexical", "tags", "trl", "geo")
TAG_DIMENSIONS = ("ateco", "s3", "ket", "erc", "ford")
BM25_K1 = 1.2
BM25_B = 0.75
NEUTRAL = 0.5
GEO_SCALE_KM = 100.0
CANDIDATES = 150
"""Entries re-scored on every kind of evidence: the best 150 by meaning and the best 150 by
terms. With weights of 0.7 on meaning and 0.1 on terms, an entry outside both cannot reach
a top ten in practice; the evaluation re-scores every entry."""
RARE_POSTINGS = 5_000
"""Candidates by terms come from the terms in at most this many entries (every term, below
5,000 entries); their BM25 is then computed exactly, with every term."""


@dataclass(frozen=True)
class Weights:
    semantic: float
    lexical: float
    tags: float
    trl: float
    geo: float

    def vector(self) -> FloatArray:
        return np.array([getattr(self, c) for c in COMPONENTS], dtype=np.float32)

    def normalised(self) -> Weights:
        total = sum(getattr(self, c) for c in COMPONENTS)
        if total <= 0:
            raise ValueError("weights must not all be zero")
        return Weights(*(getattr(self, c) / total for c in COMPONENTS))

    def used(self) -> list[str]:
        return [c for c in COMPONENTS if getattr(self, c) > 0]


WEIGHTS = Weights(semantic=0.7, lexical=0.1, tags=0.1, trl=0.0, geo=0.1)
"""Fusion weights, from `evaluate.py`: grid search (step 0.05) maximising nDCG@10 on the 86
labelled demands, after 2-fold cross-validation showed which components help. TRL fit did not
(cross-validated nDCG@10 0.963 without it, 0.951 with it): it is dropped from the score and
only reported in the explanation."""

SEMANTIC_ONLY = Weights(1, 0, 0, 0, 0)
LEXICAL_ONLY = Weights(0, 1, 0, 0, 0)


# -- what the ranker knows ------------------------------------------------------------------


@dataclass(frozen=True)
class InitiativeFacts:
    """What an initiative's explanation says besides the fit: what it is, when and where."""

    kind: str
    """research_project, innovation_project, joint_action, training, dissemination_event."""
    status: str
    start_date: date | None
    end_date: date | None
    municipality: str | None
    funding_programme: str | None = None
    partner_centres: tuple[str, ...] = ()
    """The member centres besides the lead that confirmed their participation."""


@dataclass(frozen=True)
class Entry:
    """One matchable catalogue entry (a lab, competence, equipment or service), or an
    initiative of the register (entity `initiative`, its own lab)."""

    id: str
    entity: str
    lab_id: str
    centre_id: str
    title: Mapping[str, str]
    languages: frozenset[str]
    tags: frozenset[str]
    """`dimension:code`, e.g. `ateco:13.20`, `ket:advanced_materials`."""
    trl_min: int | None
    trl_max: int | None
    province: str | None
    point: Point | None
    terms: Mapping[str, int]
    """Term (stem) frequencies of its text."""
    forms: Mapping[str, str] = field(default_factory=dict)
    """A readable word for each term."""
    shareable: bool | None = None
    initiative: InitiativeFacts | None = None
    """Set for an initiative only."""

    @property
    def length(self) -> int:
        return sum(self.terms.values())

    def display_title(self, language: str | None) -> str:
        if language and self.title.get(language):
            return self.title[language]
        return self.title.get("it") or self.title.get("en") or ""


@dataclass(frozen=True)
class Query:
    text: str
    language: str | None
    terms: Mapping[str, int]
    forms: Mapping[str, str]
    tags: frozenset[str]
    trl_current: int | None
    trl_target: int | None
    point: Point | None
    preferred_provinces: frozenset[str]
    vector: FloatArray | None


def tag_set(tags: Mapping[str, Iterable[str]] | None) -> frozenset[str]:
    if not tags:
        return frozenset()
    return frozenset(
        f"{dimension}:{code.strip()}"
        for dimension in TAG_DIMENSIONS
        for code in tags.get(dimension, ())
        if code and code.strip()
    )


# -- the in-memory index --------------------------------------------------------------------


class MemoryIndex:
    """Visible entries of one process. Slots are append-only; an update kills the old slot and
    appends a new one; `compact` (or a full reload) reclaims dead slots."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self._vectors: FloatArray = np.zeros((1024, dimension), dtype=np.float32)
        self._alive: npt.NDArray[np.bool_] = np.zeros(1024, dtype=bool)
        self._lengths: FloatArray = np.zeros(1024, dtype=np.float32)
        # Per slot, for vectorised evidence: latitude, longitude, TRL range (NaN: unknown).
        self._numbers: FloatArray = np.full((1024, 4), np.nan, dtype=np.float32)
        self._provinces: list[str | None] = []
        self._entries: list[Entry | None] = []
        self._slot_of: dict[str, int] = {}
        self._postings: dict[str, tuple[array[int], array[float]]] = {}
        self._df: Counter[str] = Counter()
        self._total_length = 0.0

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._slot_of

    @property
    def slots(self) -> int:
        return len(self._entries)

    def get(self, entry_id: str) -> Entry | None:
        slot = self._slot_of.get(entry_id)
        return self._entries[slot] if slot is not None else None

    def entry(self, slot: int) -> Entry:
        found = self._entries[slot]
        assert found is not None, "dead slot"
        return found

    def entries(self) -> list[Entry]:
        return [e for e in self._entries if e is not None]

    def _grow(self) -> None:
        capacity = self._vectors.shape[0] * 2
        vectors = np.zeros((capacity, self.dimension), dtype=np.float32)
        vectors[: self._vectors.shape[0]] = self._vectors
        self._vectors = vectors
        self._alive = np.concatenate([self._alive, np.zeros_like(self._alive)])
        self._lengths = np.concatenate([self._lengths, np.zeros_like(self._lengths)])
        self._numbers = np.concatenate([self._numbers, np.full_like(self._numbers, np.nan)])

    def upsert(self, entry: Entry, vector: FloatArray) -> None:
        self.remove(entry.id)
        slot = len(self._entries)
        if slot >= self._vectors.shape[0]:
            self._grow()
        self._vectors[slot] = vector
        self._alive[slot] = True
        self._lengths[slot] = entry.length
        self._numbers[slot] = (
            entry.point.lat if entry.point else np.nan,
            entry.point.lon if entry.point else np.nan,
            entry.trl_min if entry.trl_min is not None else np.nan,
            entry.trl_max if entry.trl_max is not None else np.nan,
        )
        self._provinces.append(entry.province)
        self._entries.append(entry)
        self._slot_of[entry.id] = slot
        self._total_length += entry.length
        for term, count in entry.terms.items():
            postings = self._postings.get(term)
            if postings is None:
                postings = self._postings[term] = (array("l"), array("f"))
            postings[0].append(slot)
            postings[1].append(float(count))
            self._df[term] += 1

    def remove(self, entry_id: str) -> None:
        slot = self._slot_of.pop(entry_id, None)
        if slot is None:
            return
        entry = self._entries[slot]
        assert entry is not None
        self._alive[slot] = False
        self._entries[slot] = None
        self._total_length -= entry.length
        for term in entry.terms:
            self._df[term] -= 1
            if self._df[term] <= 0:
                del self._df[term]

    @property
    def dead(self) -> int:
        return len(self._entries) - len(self._slot_of)

    def compact(self) -> MemoryIndex:
        """A fresh index of the live entries (same vectors)."""
        fresh = MemoryIndex(self.dimension)
        for slot, entry in enumerate(self._entries):
            if entry is not None:
                fresh.upsert(entry, self._vectors[slot])
        return fresh

    # -- evidence over every slot ----------------------------------------------------------

    def semantic(self, vector: FloatArray) -> FloatArray:
        """Cosine with every slot (vectors are unit length); dead slots get -1."""
        n = len(self._entries)
        scores: FloatArray = self._vectors[:n] @ vector.astype(np.float32)
        scores[~self._alive[:n]] = -1.0
        return scores

    def bm25(self, terms: Mapping[str, int], *, max_postings: int | None = None) -> FloatArray:
        """BM25 of every slot; with `max_postings`, terms in more entries are left out (a
        cheap first pass that finds candidates by their rarer terms)."""
        n = len(self._entries)
        scores = np.zeros(n, dtype=np.float64)
        live = len(self._slot_of)
        if not live:
            return scores.astype(np.float32)
        average = max(self._total_length / live, 1.0)
        lengths = self._lengths[:n]
        for term in terms:
            df = self._df.get(term, 0)
            postings = self._postings.get(term)
            if not df or postings is None or (max_postings is not None and df > max_postings):
                continue
            idf = math.log(1.0 + (live - df + 0.5) / (df + 0.5))
            slots = np.frombuffer(postings[0], dtype=np.int64)
            tf = np.frombuffer(postings[1], dtype=np.float32)
            norm = BM25_K1 * (1.0 - BM25_B + BM25_B * lengths[slots] / average)
            contribution = idf * tf * (BM25_K1 + 1.0) / (tf + norm)
            scores += np.bincount(slots, weights=contribution, minlength=n)
        scores[~self._alive[:n]] = 0.0
        return scores.astype(np.float32)

    def bm25_of(self, terms: Mapping[str, int], slots: npt.NDArray[np.int64]) -> FloatArray:
        """Exact BM25 of the given slots only."""
        scores = np.zeros(slots.shape[0], dtype=np.float64)
        live = len(self._slot_of)
        if not live or not slots.shape[0]:
            return scores.astype(np.float32)
        average = max(self._total_length / live, 1.0)
        norm = BM25_K1 * (1.0 - BM25_B + BM25_B * self._lengths[slots] / average)
        entries = [self._entries[s] for s in slots.tolist()]
        for term in terms:
            df = self._df.get(term, 0)
            if not df:
                continue
            idf = math.log(1.0 + (live - df + 0.5) / (df + 0.5))
            tf = np.fromiter(
                ((e.terms.get(term, 0) if e is not None else 0) for e in entries),
                dtype=np.float64,
                count=len(entries),
            )
            scores += idf * tf * (BM25_K1 + 1.0) / (tf + norm)
        return scores.astype(np.float32)

    def numbers(self, slots: npt.NDArray[np.int64]) -> FloatArray:
        """Latitude, longitude, TRL min and max of the slots (NaN: unknown)."""
        found: FloatArray = self._numbers[slots]
        return found

    def province(self, slot: int) -> str | None:
        return self._provinces[slot]

    def alive_mask(self) -> npt.NDArray[np.bool_]:
        return self._alive[: len(self._entries)]

    def df(self, term: str) -> int:
        return self._df.get(term, 0)

    def idf(self, term: str) -> float:
        live = max(len(self._slot_of), 1)
        df = self._df.get(term, 0)
        return math.log(1.0 + (live - df + 0.5) / (df + 0.5))


# -- evidence of one entry ------------------------------------------------------------------


def _ateco_related(a: str, b: str) -> bool:
    """Same ATECO code, or one is an ancestor of the other (`13` ⊃ `13.2` ⊃ `13.20` ⊃
    `13.20.0`): the digits of the shorter (two at least) begin those of the longer."""
    if a == b:
        return True
    da, db = a.replace(".", ""), b.replace(".", "")
    if not (da.isdigit() and db.isdigit()):
        return False
    shorter, longer = sorted((da, db), key=len)
    return len(shorter) >= 2 and longer.startswith(shorter)


def common_tags(query_tags: frozenset[str], entry_tags: frozenset[str]) -> list[str]:
    """The demand's tags that the entry has (ATECO codes also through their hierarchy)."""
    found = []
    for tag in sorted(query_tags):
        if tag in entry_tags:
            found.append(tag)
            continue
        dimension, _, code = tag.partition(":")
        if dimension == "ateco" and any(
            t.startswith("ateco:") and _ateco_related(code, t[6:]) for t in entry_tags
        ):
            found.append(tag)
    return found


def tag_score(query_tags: frozenset[str], entry_tags: frozenset[str]) -> float:
    if not query_tags or not entry_tags:
        return 0.0
    if query_tags <= entry_tags:
        return 1.0
    return len(common_tags(query_tags, entry_tags)) / len(query_tags)


def trl_fit(
    current: int | None, target: int | None, low: int | None, high: int | None
) -> float | None:
    """Share of the TRL levels from `current` to `target` that the entry's range covers."""
    if low is None or high is None:
        return None
    if current is None and target is None:
        return None
    start = current if current is not None else target
    end = target if target is not None else current
    assert start is not None and end is not None
    start, end = min(start, end), max(start, end)
    overlap = min(end, high) - max(start, low) + 1
    return max(0, overlap) / (end - start + 1)


def geo_score(distance: float | None, province: str | None, preferred: frozenset[str]) -> float:
    if preferred and province in preferred:
        return 1.0
    if distance is None:
        return NEUTRAL
    return math.exp(-distance / GEO_SCALE_KM)


def trl_fits(
    current: int | None, target: int | None, low: FloatArray, high: FloatArray
) -> FloatArray:
    """`trl_fit` of many entries at once, NEUTRAL where the entry has no TRL."""
    result = np.full(low.shape[0], NEUTRAL, dtype=np.float32)
    if current is None and target is None:
        return result
    start = current if current is not None else target
    end = target if target is not None else current
    assert start is not None and end is not None
    start, end = min(start, end), max(start, end)
    known = ~np.isnan(low) & ~np.isnan(high)
    overlap = np.minimum(end, high[known]) - np.maximum(start, low[known]) + 1
    result[known] = np.maximum(0, overlap) / (end - start + 1)
    return result


def geo_scores(
    origin: Point | None,
    lat: FloatArray,
    lon: FloatArray,
    provinces: Sequence[str | None] | None,
    preferred: frozenset[str],
) -> FloatArray:
    """`geo_score` of many entries at once (haversine distances, vectorised)."""
    result = np.full(lat.shape[0], NEUTRAL, dtype=np.float32)
    if origin is not None:
        known = ~np.isnan(lat) & ~np.isnan(lon)
        distance = haversine_many(origin, lat[known], lon[known])
        result[known] = np.exp(-distance / GEO_SCALE_KM)
    if preferred and provinces is not None:
        result[[p in preferred for p in provinces]] = 1.0
    return result


def haversine_many(origin: Point, lat: FloatArray, lon: FloatArray) -> FloatArray:
    lat1, lon1 = math.radians(origin.lat), math.radians(origin.lon)
    lat2, lon2 = np.radians(lat.astype(np.float64)), np.radians(lon.astype(np.float64))
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    distance: FloatArray = (2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))).astype(
        np.float32
    )
    return distance


# -- features and ranking -------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    slots: npt.NDArray[np.int64]
    features: FloatArray
    """One row per slot, one column per COMPONENTS."""
    semantic_raw: FloatArray
    bm25_raw: FloatArray


def candidate_slots(
    semantic: FloatArray, bm25: FloatArray, alive: int, limit: int | None
) -> npt.NDArray[np.int64]:
    n = semantic.shape[0]
    if limit is None or n <= limit:
        slots = np.flatnonzero(semantic > -1.0)
        return slots.astype(np.int64)
    top_semantic = np.argpartition(-semantic, limit)[:limit]
    positive = np.flatnonzero(bm25 > 0)
    if positive.shape[0] > limit:
        positive = positive[np.argpartition(-bm25[positive], limit)[:limit]]
    slots = np.union1d(top_semantic, positive)
    return slots[semantic[slots] > -1.0].astype(np.int64)


LEXICAL_NORMALISATION = "max"
"""`max`: BM25 over the best BM25 of the query; `query`: over the sum of the idf of the
query's indexed terms. Chosen by the evaluation: cross-validated nDCG@10 0.963 with `max`
against 0.947 with `query` (without TRL; 0.951 against 0.929 with all five components)."""


def lexical_ceiling(index: MemoryIndex, query: Query) -> float:
    """BM25 of an average-length entry holding each indexed term of the query once."""
    return sum(index.idf(t) for t in query.terms if index.df(t) > 0)


def features(index: MemoryIndex, query: Query, *, candidates: int | None = CANDIDATES) -> Evidence:
    """Every kind of evidence for the most promising entries (all of them when `candidates`
    is None)."""
    if query.vector is not None:
        semantic = index.semantic(query.vector)
    else:
        semantic = np.where(index.alive_mask(), 0.0, -1.0).astype(np.float32)
    if candidates is None:
        every = index.bm25(query.terms)
        slots = candidate_slots(semantic, every, len(index), None)
        bm25 = every[slots]
    else:
        # Candidates by meaning and by their rarer terms; then exact BM25 for them alone.
        first_pass = index.bm25(query.terms, max_postings=RARE_POSTINGS)
        slots = candidate_slots(semantic, first_pass, len(index), candidates)
        bm25 = index.bm25_of(query.terms, slots)
    rows = np.zeros((slots.shape[0], len(COMPONENTS)), dtype=np.float32)
    rows[:, 0] = np.clip(semantic[slots], 0.0, 1.0)
    ceiling = (
        lexical_ceiling(index, query)
        if LEXICAL_NORMALISATION == "query"
        else (float(bm25.max()) if bm25.shape[0] else 0.0)
    )
    if ceiling > 0:
        rows[:, 1] = np.clip(bm25 / ceiling, 0.0, 1.0)
    if query.tags:
        for row, slot in enumerate(slots.tolist()):
            rows[row, 2] = tag_score(query.tags, index.entry(slot).tags)
    numbers = index.numbers(slots)
    rows[:, 3] = trl_fits(query.trl_current, query.trl_target, numbers[:, 2], numbers[:, 3])
    rows[:, 4] = geo_scores(
        query.point,
        numbers[:, 0],
        numbers[:, 1],
        [index.province(s) for s in slots.tolist()] if query.preferred_provinces else None,
        query.preferred_provinces,
    )
    return Evidence(slots, rows, semantic[slots], bm25)


@dataclass(frozen=True)
class Explanation:
    terms: list[str]
    tags: list[str]
    trl_fit: float | None
    distance_km: float | None
    cross_language: bool
    text: str


@dataclass(frozen=True)
class Match:
    entry: Entry
    score: float
    components: dict[str, float]
    explanation: Explanation


def lab_order(
    evidence: Evidence, index: MemoryIndex, weights: Weights
) -> list[tuple[str, int, float, int]]:
    """(lab id, slot, score, row) of each lab's best entry, best lab first; ties by ids."""
    scores = np.round(evidence.features @ weights.normalised().vector(), 6)
    candidates = sorted(
        (-float(scores[row]), index.entry(slot).id, slot, row)
        for row, slot in enumerate(evidence.slots.tolist())
    )
    best: dict[str, tuple[float, int, int]] = {}
    for negative, _, slot, row in candidates:
        lab = index.entry(slot).lab_id
        if lab not in best:
            best[lab] = (-negative, slot, row)
    ordered = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))
    return [(lab, slot, score, row) for lab, (score, slot, row) in ordered]


def rank(
    index: MemoryIndex,
    query: Query,
    *,
    weights: Weights = WEIGHTS,
    limit: int = 10,
    candidates: int | None = CANDIDATES,
    min_score: float = 0.0,
) -> list[Match]:
    """The best `limit` labs for the query, each with its best-fitting entry, explained."""
    evidence = features(index, query, candidates=candidates)
    matches: list[Match] = []
    for _, slot, score, row in lab_order(evidence, index, weights):
        if len(matches) >= limit:
            break
        if score <= min_score:
            continue
        entry = index.entry(slot)
        components = {
            c: round(float(evidence.features[row, i]), 4) for i, c in enumerate(COMPONENTS)
        }
        matches.append(
            Match(
                entry=entry,
                score=max(0.0, min(1.0, score)),
                components=components,
                explanation=explain(index, query, entry, {**components, "score": score}),
            )
        )
    return matches


# -- explanations ---------------------------------------------------------------------------

LANGUAGE_NAMES = {"it": "Italian", "en": "English"}
WEAK_SCORE = 0.3
"""Below this score an explanation says the entry *may* fit."""
ENTITY_NAMES = {
    "lab": "The lab",
    "competence": "Its competence",
    "equipment": "Its equipment",
    "service": "Its service",
    "initiative": "The initiative",
    "firm": "The firm",
}
EVENT_NAMES = {"training": "The training course", "dissemination_event": "The event"}
"""Initiatives that take place on a date (and in a place)."""
PROJECT_NAMES = {
    "research_project": "research project",
    "innovation_project": "innovation project",
    "joint_action": "joint action",
}
"""Initiatives that run over a period."""


def shared_terms(index: MemoryIndex, query: Query, entry: Entry, limit: int = 8) -> list[str]:
    """Words of the demand found in the entry, the rarest (most telling) first."""
    common = [t for t in query.terms if t in entry.terms]
    common.sort(key=lambda t: (-index.idf(t), t))
    return [query.forms.get(t) or entry.forms.get(t) or t for t in common[:limit]]


def is_cross_language(query_language: str | None, entry: Entry) -> bool:
    return bool(query_language and entry.languages and query_language not in entry.languages)


def explain(
    index: MemoryIndex, query: Query, entry: Entry, components: Mapping[str, float]
) -> Explanation:
    terms = shared_terms(index, query, entry)
    tags = common_tags(query.tags, entry.tags)
    fit = trl_fit(query.trl_current, query.trl_target, entry.trl_min, entry.trl_max)
    distance = distance_km(query.point, entry.point)
    cross = is_cross_language(query.language, entry)
    return Explanation(
        terms=terms,
        tags=tags,
        trl_fit=None if fit is None else round(fit, 2),
        distance_km=None if distance is None else round(distance, 1),
        cross_language=cross,
        text=explanation_text(query, entry, terms, tags, fit, distance, cross, components),
    )


def entry_name(entry: Entry) -> str:
    """How the explanation names the entry: by its entity, or an initiative by its kind."""
    facts = entry.initiative
    if facts is None:
        return ENTITY_NAMES.get(entry.entity, "Its entry")
    if facts.kind in EVENT_NAMES:
        return EVENT_NAMES[facts.kind]
    running = "running " if facts.status == "running" else ""
    return f"The {running}{PROJECT_NAMES.get(facts.kind, 'initiative')}"


def how_far(distance: float, origin: str = "the firm") -> str:
    return f"{distance:.0f} km from {origin}" if distance >= 1 else f"next to {origin}"


def initiative_when(
    query: Query, entry: Entry, facts: InitiativeFacts, distance: float | None
) -> str | None:
    """An event's date and place (and distance from the firm), a project's end."""
    if facts.kind not in EVENT_NAMES:
        return f"It runs until {facts.end_date}." if facts.end_date else None
    if facts.start_date is None:
        return None
    several_days = facts.end_date is not None and facts.end_date != facts.start_date
    when = (
        f"from {facts.start_date} to {facts.end_date}" if several_days else f"on {facts.start_date}"
    )
    where = f" in {facts.municipality}" if facts.municipality else ""
    preferred = (
        " (a preferred province)"
        if entry.province and entry.province in query.preferred_provinces
        else ""
    )
    near = f", {how_far(distance)}" if distance is not None else ""
    return f"It takes place {when}{where}{preferred}{near}."


def explanation_text(
    query: Query,
    entry: Entry,
    terms: Sequence[str],
    tags: Sequence[str],
    fit: float | None,
    distance: float | None,
    cross: bool,
    components: Mapping[str, Any],
) -> str:
    title = entry.display_title(query.language)
    verb = "fits" if float(components.get("score", 1.0)) >= WEAK_SCORE else "may fit"
    parts = [f"{entry_name(entry)} “{title}” {verb} the demand"]
    reasons = []
    semantic = float(components.get("semantic", 0.0))
    if semantic >= 0.5:
        reasons.append("its description is close in meaning to the demand")
    elif semantic >= 0.3:
        reasons.append("its description is related in meaning to the demand")
    if terms:
        reasons.append("they share the terms " + ", ".join(terms))
    if tags:
        reasons.append("they share the tags " + ", ".join(tags))
    if reasons:
        parts.append(": " + "; ".join(reasons))
    sentences = ["".join(parts) + "."]
    if fit is not None and query.trl_current is not None and query.trl_target is not None:
        covered = "covers" if fit >= 1 else f"covers {round(fit * 100)}% of"
        sentences.append(
            f"Its TRL range {entry.trl_min}-{entry.trl_max} {covered} the path from TRL "
            f"{query.trl_current} to {query.trl_target}."
        )
    if entry.initiative is not None:
        when = initiative_when(query, entry, entry.initiative, distance)
        if when:
            sentences.append(when)
    elif distance is not None:
        where = f" in {entry.province}" if entry.province else ""
        preferred = (
            " (a preferred province)"
            if entry.province and entry.province in query.preferred_provinces
            else ""
        )
        if entry.entity == "firm":  # a supplier proposed for a challenge (`capabilities.py`)
            sentences.append(f"The firm is {how_far(distance, 'the publisher')}{where}.")
        else:
            sentences.append(f"The lab is {how_far(distance)}{where}{preferred}.")
    if cross and query.language:
        described = " and ".join(LANGUAGE_NAMES.get(lang, lang) for lang in sorted(entry.languages))
        noun = "initiative" if entry.initiative is not None else "entry"
        sentences.append(
            f"Found across languages: the demand is in {LANGUAGE_NAMES.get(query.language)}, "
            f"the {noun} is described in {described}."
        )
    return " ".join(sentences)
