"""Near-duplicate similarity: same model, similar text across Italian and English."""

from __future__ import annotations

from services.catalog.duplicates import THRESHOLD, compare, cosine, make_model_key, signature

SEM_IT = signature(
    name={"it": "Microscopio elettronico a scansione (SEM)"},
    description={"it": "Morfologia di fibre e cariche minerali; microanalisi EDS."},
    keywords=["microscopia elettronica"],
)


def test_the_same_manufacturer_and_model_is_a_duplicate_whatever_the_text() -> None:
    assert make_model_key("JEOL", "JSM-IT500") == make_model_key("jeol ", "JSM IT500")
    assert make_model_key("JEOL", None) is None
    a = signature(name={"it": "SEM"}, description=None, manufacturer="JEOL", model="JSM-IT500")
    b = signature(
        name={"en": "Microscope"}, description=None, manufacturer="Jeol", model="jsm it500"
    )
    match = compare(a, b)
    assert match is not None and match.similarity == 1.0
    assert match.reason == "same manufacturer and model"


def test_similar_text_is_a_duplicate_across_languages() -> None:
    both = signature(
        name={"it": "Microscopio elettronico a scansione", "en": "Scanning electron microscope"},
        description={
            "it": "SEM con microanalisi EDS per superfici di frattura.",
            "en": "SEM with EDS microanalysis of fracture surfaces.",
        },
        keywords=["microscopia elettronica"],
    )
    english = signature(
        name={"en": "Scanning electron microscope"},
        description={"en": "Electron microscopy with EDS microanalysis of surfaces and fibres."},
    )
    for a, b in ((SEM_IT, both), (both, english)):
        match = compare(a, b)
        assert match is not None, (a, b)
        assert THRESHOLD <= match.similarity < 1.0
        assert match.reason.startswith("similar name and description (terms in common: ")


def test_unrelated_entries_and_other_kinds_are_not() -> None:
    cytometer = signature(
        name={"it": "Citofluorimetro a flusso", "en": "Flow cytometer"},
        description={"it": "Analisi multiparametrica di popolazioni cellulari."},
    )
    assert compare(SEM_IT, cytometer) is None
    training = signature(
        name={"it": "Formazione su Industria 4.0"},
        description={"it": "Corsi per imprese su Industria 4.0 e digitalizzazione."},
        kind="training",
    )
    consulting = signature(
        name={"it": "Formazione su Industria 4.0"},
        description={"it": "Corsi per imprese su Industria 4.0 e digitalizzazione."},
        kind="consulting",
    )
    assert compare(training, training) is not None
    assert compare(training, consulting) is None


def test_short_names_alone_do_not_make_duplicates() -> None:
    a = signature(name={"it": "Forno"}, description=None)
    b = signature(name={"it": "Forno"}, description=None)
    assert compare(a, b) is None  # fewer than MIN_SHARED_TERMS terms in common


def test_cosine() -> None:
    assert cosine(frozenset("ab"), frozenset("ab")) == 1.0
    assert cosine(frozenset("ab"), frozenset()) == 0.0
    assert round(cosine(frozenset("abc"), frozenset("ab")), 3) == 0.816


def test_signatures_round_trip_through_json() -> None:
    from services.catalog.duplicates import Signature

    assert Signature.from_json(SEM_IT.as_json()) == SEM_IT
