"""Ranking: lexical and semantic evidence, tags, TRL, distance, fusion and explanations."""

from __future__ import annotations

import numpy as np
import pytest

from services.matching import text
from services.matching.documents import entry_document, make_query
from services.matching.embedding import default_embedder
from services.matching.geo import locate
from services.matching.ranking import (
    COMPONENTS,
    WEIGHTS,
    Entry,
    MemoryIndex,
    Weights,
    common_tags,
    geo_score,
    is_cross_language,
    rank,
    tag_score,
    trl_fit,
)

DIM = 4


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def entry(
    entry_id: str,
    lab: str,
    words: str,
    *,
    language: str = "en",
    centre: str = "C1",
    tags: frozenset[str] = frozenset(),
    trl: tuple[int, int] | None = None,
    place: tuple[str, str] = ("FI", "Firenze"),
    entity: str = "competence",
) -> Entry:
    document = entry_document(
        entry_id=entry_id,
        entity=entity,
        lab_id=lab,
        centre_id=centre,
        title={language: words},
        description=None,
        tags={t.split(":")[0]: [t.split(":")[1]] for t in tags},
        trl_min=trl[0] if trl else None,
        trl_max=trl[1] if trl else None,
        province=place[0],
        municipality=place[1],
    )
    return document.entry


def test_text_keeps_codes_and_acronyms_and_detects_the_language() -> None:
    terms = [s for s, _ in text.analyse("Conformità NIS2, analisi HPLC e ISO/IEC 17025", "it")]
    assert {"nis2", "hplc", "17025", "iso", "iec"} <= set(terms)
    assert text.detect_language("Cerchiamo un laboratorio per le analisi dell'olio") == "it"
    assert text.detect_language("We need a lab for the analysis of our oil") == "en"
    assert text.detect_language("HPLC") is None


def test_bm25_finds_a_code_that_only_one_entry_has() -> None:
    index = MemoryIndex(DIM)
    index.upsert(entry("a", "L1", "network security assessment for firms"), unit(1, 0, 0, 0))
    index.upsert(entry("b", "L2", "NIS2 compliance assessment"), unit(0, 1, 0, 0))
    index.upsert(entry("c", "L3", "assessment of glass defects"), unit(0, 0, 1, 0))
    scores = index.bm25(make_query(text_="NIS2 assessment").terms)
    assert int(np.argmax(scores)) == 1
    assert scores[2] > 0 and scores[1] > scores[0]


def test_semantic_evidence_and_removal() -> None:
    index = MemoryIndex(DIM)
    index.upsert(entry("a", "L1", "one"), unit(1, 0, 0, 0))
    index.upsert(entry("b", "L2", "two"), unit(0, 1, 0, 0))
    scores = index.semantic(unit(1, 1, 0, 0))
    assert scores[0] == pytest.approx(scores[1]) == pytest.approx(2**-0.5)
    index.remove("a")
    assert index.semantic(unit(1, 0, 0, 0))[0] == -1.0 and len(index) == 1
    index.upsert(entry("b", "L2", "two again"), unit(0, 0, 1, 0))  # an update: a new slot
    assert len(index) == 1 and index.dead == 2
    compact = index.compact()
    assert compact.slots == 1 and compact.get("b") is not None


def test_tags_follow_the_ateco_hierarchy() -> None:
    query = frozenset({"ateco:13.20", "ket:advanced_materials"})
    assert common_tags(query, frozenset({"ateco:13"})) == ["ateco:13.20"]
    assert common_tags(query, frozenset({"ateco:13.2"})) == ["ateco:13.20"]
    assert common_tags(query, frozenset({"ateco:13.20.00"})) == ["ateco:13.20"]
    assert common_tags(query, frozenset({"ateco:13.9", "ateco:1"})) == []
    assert tag_score(query, frozenset({"ateco:13", "ket:advanced_materials"})) == 1.0
    assert tag_score(frozenset(), frozenset({"ateco:13"})) == 0.0


def test_trl_fit_and_distance() -> None:
    assert trl_fit(3, 6, 3, 9) == 1.0
    assert trl_fit(3, 6, 5, 9) == 0.5
    assert trl_fit(7, 8, 1, 4) == 0.0
    assert trl_fit(3, 6, None, None) is None
    assert trl_fit(None, None, 3, 4) is None
    assert geo_score(None, "FI", frozenset()) == 0.5
    assert geo_score(250.0, "FI", frozenset({"FI"})) == 1.0
    assert geo_score(0.0, "FI", frozenset()) == 1.0 > geo_score(100.0, "FI", frozenset())


def test_fusion_weights_score_in_unit_interval_and_ties_break_on_ids() -> None:
    assert sum(getattr(WEIGHTS, c) for c in COMPONENTS) == pytest.approx(1.0)
    assert Weights(2, 2, 0, 0, 0).normalised() == Weights(0.5, 0.5, 0, 0, 0)
    with pytest.raises(ValueError):
        Weights(0, 0, 0, 0, 0).normalised()
    index = MemoryIndex(DIM)
    for lab in ("L2", "L1", "L3"):
        index.upsert(entry(f"{lab}-e", lab, "same words"), unit(1, 0, 0, 0))
    query = make_query(text_="same words", vector=unit(1, 0, 0, 0), language="en")
    matches = rank(index, query, limit=3)
    assert [m.entry.lab_id for m in matches] == ["L1", "L2", "L3"]
    assert all(0 <= m.score <= 1 for m in matches)
    assert rank(index, query, limit=3) == matches


def test_a_lab_appears_once_with_its_best_entry() -> None:
    index = MemoryIndex(DIM)
    index.upsert(entry("weak", "L1", "boats"), unit(0, 1, 0, 0))
    index.upsert(entry("strong", "L1", "olive oil polyphenols"), unit(1, 0, 0, 0))
    index.upsert(entry("other", "L2", "olive"), unit(1, 1, 0, 0))
    query = make_query(text_="olive oil polyphenols", vector=unit(1, 0, 0, 0), language="en")
    matches = rank(index, query, limit=5)
    assert [m.entry.id for m in matches] == ["strong", "other"]


def test_explanations_say_why() -> None:
    index = MemoryIndex(DIM)
    index.upsert(
        entry(
            "e",
            "L1",
            "HPLC analysis of olive oil polyphenols",
            tags=frozenset({"ateco:10.41"}),
            trl=(5, 9),
            place=("GR", "Grosseto"),
        ),
        unit(1, 0, 0, 0),
    )
    query = make_query(
        text_="Analisi HPLC dei polifenoli dell'olio",
        sector="10.41",
        trl_current=6,
        trl_target=8,
        point=locate("GR", "Scansano"),
        vector=unit(1, 0, 0, 0),
    )
    (match,) = rank(index, query, limit=1)
    explanation = match.explanation
    assert explanation.terms == ["hplc"]
    assert explanation.tags == ["ateco:10.41"]
    assert explanation.trl_fit == 1.0
    assert explanation.distance_km is not None and 15 < explanation.distance_km < 30
    assert explanation.cross_language is True
    for fragment in ("hplc", "ateco:10.41", "TRL range 5-9", "km from the firm", "Italian"):
        assert fragment in explanation.text
    assert not is_cross_language(None, match.entry)


def test_the_multilingual_model_crosses_languages() -> None:
    embedder = default_embedder()
    entries = [
        ("hplc", "HPLC analysis of polyphenols in extra virgin olive oil"),
        ("hull", "Carbon fibre lamination of yacht hulls"),
        ("nis2", "NIS2 compliance and penetration testing"),
    ]
    vectors = embedder.encode([t for _, t in entries])
    index = MemoryIndex(embedder.dimension)
    for (entry_id, words), vector in zip(entries, vectors, strict=True):
        index.upsert(entry(entry_id, entry_id, words), vector)
    for question, expected in (
        ("Misurare i polifenoli del nostro olio extravergine", "hplc"),
        ("Progettare lo scafo in carbonio della nostra barca", "hull"),
        ("Adeguarci alla direttiva sulla sicurezza informatica", "nis2"),
    ):
        query = make_query(text_=question, vector=embedder.encode([question])[0])
        assert rank(index, query, limit=1)[0].entry.id == expected, question


def test_vectorised_evidence_agrees_with_the_scalar_rules() -> None:
    from services.matching.geo import haversine_km
    from services.matching.ranking import geo_scores, trl_fits

    low = np.array([3, 5, 1, np.nan], dtype=np.float32)
    high = np.array([9, 9, 3, np.nan], dtype=np.float32)
    assert trl_fits(3, 6, low, high).tolist() == [1.0, 0.5, 0.25, 0.5]
    origin = locate("PO", "Prato")
    places = [locate("MS", "Carrara"), locate("SI", "Siena"), None]
    assert origin is not None
    lat = np.array([p.lat if p else np.nan for p in places], dtype=np.float32)
    lon = np.array([p.lon if p else np.nan for p in places], dtype=np.float32)
    scores = geo_scores(origin, lat, lon, ["MS", "SI", None], frozenset({"SI"}))
    assert places[0] is not None
    expected = geo_score(haversine_km(origin, places[0]), "MS", frozenset())
    assert scores[0] == pytest.approx(expected, rel=1e-4)
    assert scores[1] == 1.0 and scores[2] == 0.5
