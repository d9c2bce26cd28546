"""Initiatives proposed to demands: which are open, how they are ranked and explained."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from services.matching.documents import entry_document, make_query
from services.matching.embedding import default_embedder, to_bytes
from services.matching.geo import locate
from services.matching.initiatives import MIN_SCORE, PROPOSALS, entry_of, is_open
from services.matching.models import CatalogInitiative
from services.matching.ranking import (
    Entry,
    FloatArray,
    InitiativeFacts,
    MemoryIndex,
    Query,
    explanation_text,
    rank,
)

TODAY = date(2026, 3, 2)


@pytest.mark.parametrize(
    ("kind", "status", "start", "end", "registration", "expected"),
    [
        # Events: planned or running, today or later, registration not closed.
        ("training", "planned", date(2026, 4, 15), None, True, True),
        ("training", "planned", TODAY, None, None, True),  # today; registration not said
        ("dissemination_event", "running", date(2026, 3, 3), date(2026, 3, 4), True, True),
        ("training", "planned", date(2026, 3, 1), None, True, False),  # yesterday
        ("training", "running", date(2026, 2, 28), date(2026, 3, 5), True, False),  # started
        ("training", "planned", date(2026, 4, 15), None, False, False),  # registration closed
        ("training", "closed", date(2026, 4, 15), None, True, False),
        ("dissemination_event", "planned", None, None, True, False),  # no date
        # Projects and joint actions: running and not past their end.
        ("research_project", "running", date(2025, 1, 1), date(2027, 6, 30), None, True),
        ("innovation_project", "running", None, None, None, True),  # no end said
        ("joint_action", "running", date(2025, 1, 1), TODAY, None, True),  # ends today
        ("research_project", "running", date(2024, 1, 1), date(2026, 3, 1), None, False),
        ("research_project", "planned", date(2026, 9, 1), date(2029, 8, 31), None, False),
        ("joint_action", "closed", date(2025, 1, 1), date(2027, 1, 1), None, False),
        ("programme", "running", None, None, None, False),  # not a kind of the register
    ],
)
def test_what_is_open(
    kind: str,
    status: str,
    start: date | None,
    end: date | None,
    registration: bool | None,
    expected: bool,
) -> None:
    assert (
        is_open(
            kind=kind,
            status=status,
            start_date=start,
            end_date=end,
            registration_open=registration,
            today=TODAY,
        )
        is expected
    )


def query(
    words: str,
    *,
    place: tuple[str, str] = ("LU", "Viareggio"),
    preferred_provinces: tuple[str, ...] = (),
    vector: FloatArray | None = None,
) -> Query:
    return make_query(
        text_=words,
        point=locate(*place),
        preferred_provinces=preferred_provinces,
        vector=vector,
    )


def initiative(
    title: dict[str, str],
    facts: InitiativeFacts,
    *,
    description: dict[str, str] | None = None,
    place: tuple[str, str] | tuple[None, None] = (None, None),
) -> Entry:
    document = entry_document(
        entry_id="i1",
        entity="initiative",
        lab_id="i1",
        centre_id="C1",
        title=title,
        description=description,
        tags=None,
        province=place[0],
        municipality=place[1],
    )
    return replace(document.entry, initiative=facts)


def text_of(q: Query, entry: Entry, distance: float | None, **components: float) -> str:
    return explanation_text(
        q, entry, ["compositi"], [], None, distance, False, {"score": 0.6, **components}
    )


def test_a_training_course_is_explained_by_its_date_and_place() -> None:
    course = initiative(
        {"it": "Corso sui materiali compositi"},
        InitiativeFacts("training", "planned", date(2026, 12, 3), None, "Prato"),
        place=("PO", "Prato"),
    )
    assert text_of(query("Formazione sui compositi"), course, 12.4, semantic=0.6) == (
        "The training course “Corso sui materiali compositi” fits the demand: its description is "
        "close in meaning to the demand; they share the terms compositi. It takes place on "
        "2026-12-03 in Prato, 12 km from the firm."
    )
    two_days = replace(
        course,
        initiative=InitiativeFacts(
            "dissemination_event", "planned", date(2026, 12, 3), date(2026, 12, 4), "Prato"
        ),
    )
    preferred = query("Formazione sui compositi", preferred_provinces=("PO",))
    assert text_of(preferred, two_days, 0.4) == (
        "The event “Corso sui materiali compositi” fits the demand: they share the terms "
        "compositi. It takes place from 2026-12-03 to 2026-12-04 in Prato (a preferred "
        "province), next to the firm."
    )
    assert text_of(query("Formazione sui compositi", place=("XX", "Nowhere")), course, None) == (
        "The training course “Corso sui materiali compositi” fits the demand: they share the "
        "terms compositi. It takes place on 2026-12-03 in Prato."
    )


def test_a_running_project_is_explained_by_its_end() -> None:
    facts = InitiativeFacts(
        "research_project", "running", date(2025, 1, 1), date(2027, 6, 30), None
    )
    project = initiative({"it": "Compositi riciclabili"}, facts)
    assert text_of(query("Riciclo dei compositi"), project, None) == (
        "The running research project “Compositi riciclabili” fits the demand: they share the "
        "terms compositi. It runs until 2027-06-30."
    )
    open_ended = replace(
        project, initiative=InitiativeFacts("joint_action", "running", None, None, None)
    )
    assert text_of(query("Riciclo dei compositi"), open_ended, None) == (
        "The running joint action “Compositi riciclabili” fits the demand: they share the terms "
        "compositi."
    )
    english = replace(project, languages=frozenset({"en"}))
    crossing = explanation_text(
        query("Riciclo dei compositi"), english, [], [], None, None, True, {"score": 0.2}
    )
    assert crossing.startswith("The running research project “Compositi riciclabili” may fit")
    assert crossing.endswith(
        "Found across languages: the demand is in Italian, the initiative is described in English."
    )


def test_a_labs_explanation_reads_as_before() -> None:
    lab = entry_document(
        entry_id="l1",
        entity="lab",
        lab_id="l1",
        centre_id="C1",
        title={"en": "Composites Lab"},
        description=None,
        tags=None,
        province="LU",
        municipality="Viareggio",
    ).entry
    q = query("Riparazione di scafi in compositi", preferred_provinces=("LU",))
    assert explanation_text(
        q, lab, ["compositi"], [], None, 0.3, True, {"score": 0.6, "semantic": 0.35}
    ) == (
        "The lab “Composites Lab” fits the demand: its description is related in meaning to the "
        "demand; they share the terms compositi. The lab is next to the firm in LU (a preferred "
        "province). Found across languages: the demand is in Italian, the entry is described in "
        "English."
    )


def test_a_stored_initiative_becomes_an_entry_with_its_confirmed_partners() -> None:
    document = entry_document(
        entry_id="i1",
        entity="initiative",
        lab_id="i1",
        centre_id="C1",
        title={"it": "Corso sui compositi"},
        description=None,
        tags={"s3": ["S3-2021.MAT"]},
        province="LU",
        municipality="Viareggio",
    )
    row = CatalogInitiative(
        id="i1",
        centre_id="C1",
        kind="training",
        status="planned",
        title={"it": "Corso sui compositi"},
        description={},
        tags={"s3": ["S3-2021.MAT"], "ket": []},
        partner_centres=[
            {"centre_id": "C2", "status": "confirmed"},
            {"centre_id": "C3", "status": "proposed"},
        ],
        funding_programme="erdf_tuscany",
        start_date=date(2026, 4, 15),
        end_date=None,
        registration_open=True,
        province="LU",
        municipality="Viareggio",
        languages=sorted(document.entry.languages),
        terms=dict(document.entry.terms),
        forms=dict(document.entry.forms),
        embedding=to_bytes(default_embedder().encode(["x"])[0]),
        embedding_model="use-multilingual-v3",
        catalog_version=1,
        updated_at=datetime(2026, 3, 2, tzinfo=UTC),
    )
    entry = entry_of(row)
    assert entry.entity == "initiative" and entry.lab_id == entry.id == "i1"
    assert entry.tags == frozenset({"s3:S3-2021.MAT"})
    assert entry.point == locate("LU", "Viareggio") and entry.terms == document.entry.terms
    assert entry.initiative == InitiativeFacts(
        "training",
        "planned",
        date(2026, 4, 15),
        None,
        "Viareggio",
        funding_programme="erdf_tuscany",
        partner_centres=("C2",),
    )


def test_only_initiatives_that_fit_pass_the_threshold() -> None:
    embedder = default_embedder()
    facts = InitiativeFacts("training", "planned", date(2026, 4, 15), None, "Viareggio")
    offers = {
        "composites": (
            {"it": "Corso di laminazione dei materiali compositi"},
            {"it": "Resine, fibre di carbonio e di vetro, riparazione di scafi in composito."},
        ),
        "wine": (
            {"it": "Enoturismo e accoglienza in cantina"},
            {"it": "Degustazioni guidate e promozione delle cantine del Chianti."},
        ),
        "cyber": (
            {"en": "NIS2 compliance workshop"},
            {"en": "Cybersecurity obligations of essential and important entities."},
        ),
    }
    index = MemoryIndex(embedder.dimension)
    for name, (title, description) in offers.items():
        document = entry_document(
            entry_id=name,
            entity="initiative",
            lab_id=name,
            centre_id="C1",
            title=title,
            description=description,
            tags=None,
            province="LU",
            municipality="Viareggio",
        )
        index.upsert(replace(document.entry, initiative=facts), embedder.encode([document.text])[0])
    words = "Formare i tecnici del cantiere sulla laminazione in fibra di carbonio degli scafi"
    q = query(words, vector=embedder.encode([words])[0])
    proposed = rank(index, q, limit=PROPOSALS, min_score=MIN_SCORE)
    assert [m.entry.id for m in proposed] == ["composites"]
    assert proposed[0].explanation.text.startswith(
        "The training course “Corso di laminazione dei materiali compositi” fits the demand"
    )
    scores = {m.entry.id: m.score for m in rank(index, q, limit=PROPOSALS)}
    assert scores["wine"] < MIN_SCORE and scores["cyber"] < MIN_SCORE
