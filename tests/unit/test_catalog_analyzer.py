"""The catalog's analyzer: folding, stop words, Italian and English stemming, snippets."""

from __future__ import annotations

import pytest

from services.catalog import search
from services.catalog.search import light_italian, query_groups, text_terms, words


def matches(query: str, text: str, lang: str) -> bool:
    """True when every query word finds one of its terms in the text's terms."""
    terms = set(text_terms(text, lang))
    return all(group & terms for group in query_groups(query))


def test_words_are_folded_and_stop_words_dropped() -> None:
    assert words("Qualità dell'aria e delle acque: l'analisi") == [
        "qualita",
        "aria",
        "acque",
        "analisi",
    ]
    assert words("The testing of the materials") == ["testing", "materials"]
    assert words("AI e IoT") == ["ai", "iot"]  # `ai` is kept: artificial intelligence


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("laboratorio", "laborator"),
        ("laboratori", "laborator"),
        ("prova", "prov"),
        ("prove", "prov"),
        ("materiale", "material"),
        ("materiali", "material"),
        ("tecniche", "tecnic"),
        ("tecnico", "tecnic"),
        ("energia", "energ"),
        ("energie", "energ"),
        ("analisi", "analis"),
        ("sem", "sem"),
        ("it500", "it500"),
    ],
)
def test_light_italian_stemming_removes_inflection(word: str, stem: str) -> None:
    assert light_italian(word) == stem


@pytest.mark.parametrize(
    ("query", "text", "lang"),
    [
        ("laboratori di prova", "Laboratorio prove materiali", "it"),
        ("laboratorio prove", "I laboratori di prova accreditati", "it"),
        ("caratterizzazione materiali", "Caratterizzazione dei materiali compositi", "it"),
        ("qualita", "Controllo qualità", "it"),
        ("materials characterization", "Characterisation of composite materials", "en"),
        ("testing laboratories", "A laboratory for tensile tests", "en"),
        ("JSM-IT500", "JEOL JSM IT500", "it"),
    ],
)
def test_queries_find_inflected_and_accented_forms(query: str, text: str, lang: str) -> None:
    assert matches(query, text, lang)


def test_a_query_in_the_other_language_does_not_translate() -> None:
    assert not matches("district heating", "Teleriscaldamento geotermico", "it")
    assert matches("district heating", "Geothermal district heating", "en")


def test_weights_follow_fields() -> None:
    weights = search.weigh([("title", {"it": "Prove"}), ("description", {"it": "prove prove"})])
    assert weights["prov"] == 3.0 + 2 * 1.0


def test_snippets_centre_on_the_first_match() -> None:
    text = (
        "Introduzione generica. " * 20
        + "La caratterizzazione dei materiali compositi. "
        + "x " * 80
    )
    excerpt = search.snippet(text, query_groups("materiali"))
    assert "materiali" in excerpt and excerpt.startswith("…") and len(excerpt) <= 210
    assert search.snippet("breve", query_groups("materiali")) == "breve"


def test_bm25_prefers_rare_terms_and_short_documents() -> None:
    rare = search.bm25(1.0, df=1, n=100, length=10, average=10)
    common = search.bm25(1.0, df=50, n=100, length=10, average=10)
    long = search.bm25(1.0, df=1, n=100, length=100, average=10)
    assert rare > common and rare > long > 0


@pytest.mark.parametrize(
    ("british", "american"),
    [
        ("characterisation", "characterization"),
        ("optimised", "optimized"),
        ("analyse", "analyze"),
        ("fibre", "fiber"),
        ("centre", "center"),
        ("colour", "color"),
    ],
)
def test_british_and_american_spellings_meet(british: str, american: str) -> None:
    assert search.snowball(british, "en") == search.snowball(american, "en")


def test_verbs_in_ise_that_are_not_british_stay() -> None:
    assert search.american("supervised") == "supervised"
    assert search.american("expertise") == "expertise"
    assert search.snowball("supervised", "en") == search.snowball("supervision", "en")
