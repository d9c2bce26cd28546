"""Catalogue import: which column is which field, guessed, saved or given."""

from __future__ import annotations

import pytest

from services.catalog.transfer.fields import FIELDS, field_names
from services.catalog.transfer.mapping import (
    Problem,
    fold,
    guess_mapping,
    resolve_mapping,
)
from services.catalog.transfer.reading import read_table

ITALIAN_FILE = (
    "Codice;Laboratorio;Nome;Descrizione;Produttore;Modello;Anno;Condivisibile;"
    "Tariffa oraria (€/h);Codice ATECO\r\nE1;L1;Forno;Cottura è à;Ditta;M;2019;sì;85,50;26.51\r\n"
).encode("cp1252")


def test_fold() -> None:
    assert fold("  Modalità   d'Accesso ") == "modalita d accesso"
    assert fold("Tariffa (€/h)") == "tariffa eur h"
    assert fold("E-MAIL") == "e mail" and fold("name_it") == "name it"
    assert fold("---") == ""


def test_italian_headers_of_a_windows_1252_file_are_all_guessed() -> None:
    table = read_table(ITALIAN_FILE, "attrezzature.csv")
    assert guess_mapping("equipment", table.headers) == {
        "Codice": "external_id",
        "Laboratorio": "lab",
        "Nome": "name_it",
        "Descrizione": "description_it",
        "Produttore": "manufacturer",
        "Modello": "model",
        "Anno": "year",
        "Condivisibile": "shareable",
        "Tariffa oraria (€/h)": "tariff_eur_per_hour",
        "Codice ATECO": "tags_ateco",
    }


@pytest.mark.parametrize("entity", sorted(FIELDS))
def test_an_exported_file_maps_to_itself(entity: str) -> None:
    names = field_names(entity)
    assert guess_mapping(entity, names) == {name: name for name in names}
    upper = [name.upper() for name in names]  # NAME_IT, TAGS_ATECO
    assert list(guess_mapping(entity, upper).values()) == names


@pytest.mark.parametrize(
    ("entity", "header", "field"),
    [
        ("equipment", "Nome (IT)", "name_it"),
        ("equipment", "Descrizione EN", "description_en"),
        ("equipment", "Tariffa (€/h)", "tariff_eur_per_hour"),
        ("equipment", "Codice ATECO", "tags_ateco"),
        ("equipment", "Codici ATECO 2025", "tags_ateco"),
        ("equipment", "Anno d'acquisto", "year"),
        ("equipment", "Nome attrezzatura (EN)", "name_en"),
        ("equipment", "Description (English)", "description_en"),
        ("equipment", "Codice del laboratorio", "lab"),
        ("equipment", "Condizioni di prenotazione (EN)", "booking_conditions_en"),
        ("competence", "Livello TRL min", "trl_min"),
        ("competence", "TRL massimo", "trl_max"),
        ("competence", "Titolo inglese", "title_en"),
        ("lab", "E-mail di contatto", "contact_email"),
        ("lab", "Sigla della provincia", "province"),
        ("lab", "Modalità di accesso", "access_modes"),
        ("service", "Tipo di servizio", "kind"),
    ],
)
def test_loose_guesses(entity: str, header: str, field: str) -> None:
    assert guess_mapping(entity, ["Colonna senza senso", header]) == {header: field}


def test_a_field_gets_the_first_header_only() -> None:
    headers = ["Denominazione", "Nome", "Codice", "ID"]
    assert guess_mapping("equipment", headers) == {
        "Denominazione": "name_it",
        "Codice": "external_id",
    }


def test_exact_matches_win_over_earlier_loose_ones() -> None:
    # "Codice laboratorio padre" loosely means lab, but "Laboratorio" is exactly lab.
    guessed = guess_mapping("equipment", ["Codice laboratorio padre", "Laboratorio"])
    assert guessed == {"Laboratorio": "lab"}


def test_precedence_given_over_saved_over_guessed() -> None:
    headers = ["Codice", "Laboratorio", "Nome", "Descrizione", "Marca", "Vecchio codice"]
    resolution = resolve_mapping(
        "equipment",
        headers,
        given={"Vecchio codice": "external_id", "Descrizione": "description_en"},
        saved={
            "Codice": "model",  # saved: overrides the guess (external_id)
            "Descrizione": "description_it",  # given wins
            "Marca": "",  # saved as ignored
            "Assente": "category",  # not in this file: not applied, no problem
            "Nome": "no_such_field",  # an old saved mapping: ignored, guessed instead
        },
    )
    assert resolution.problems == []
    assert resolution.mapping == {
        "Codice": "model",
        "Laboratorio": "lab",
        "Nome": "name_it",
        "Descrizione": "description_en",
        "Vecchio codice": "external_id",
    }
    assert resolution.unmapped_headers == ["Marca"]


def test_given_ignores_a_column_with_empty_or_null() -> None:
    headers = ["Codice", "Laboratorio", "Nome", "Name"]
    resolution = resolve_mapping("equipment", headers, given={"Name": None, "Nome": "name_en"})
    assert resolution.mapping == {"Codice": "external_id", "Laboratorio": "lab", "Nome": "name_en"}
    assert resolution.unmapped_headers == ["Name"]
    assert resolution.valid


def test_given_headers_match_folded() -> None:
    resolution = resolve_mapping("lab", ["Sigla Prov.", "ID"], given={"sigla prov": "province"})
    assert resolution.mapping["Sigla Prov."] == "province"


def test_explicit_mapping_problems() -> None:
    headers = ["Codice", "Laboratorio", "Nome", "Titolo breve"]
    resolution = resolve_mapping(
        "equipment",
        headers,
        given={
            "Nome": "nome_it",
            "Colonna X": "model",
            "Codice": "external_id",
            "Titolo breve": "external_id",
        },
    )
    problems = [p.as_dict() for p in resolution.problems]
    unknown, absent, twice = problems[:3]
    assert unknown["column"] == "Nome" and unknown["value"] == "nome_it"
    assert "'nome_it' is not a field of a equipment" in str(unknown["problem"])
    assert "name_it" in str(unknown["problem"]) and "tariff_eur_per_hour" in str(unknown["problem"])
    assert absent["column"] == "Colonna X" and "not in the file" in str(absent["problem"])
    assert "'Laboratorio'" in str(absent["problem"])
    assert twice["column"] == "Titolo breve" and twice["value"] == "external_id"
    assert "two columns, 'Codice' and 'Titolo breve'" in str(twice["problem"])
    # "Nome" was wrongly mapped, so no column holds the name.
    assert problems[3]["row"] is None and "name_it (Italian) or name_en" in str(
        problems[3]["problem"]
    )
    assert len(problems) == 4
    assert resolution.mapping == {"Codice": "external_id", "Laboratorio": "lab"}
    assert not resolution.valid


def test_required_fields_without_a_column() -> None:
    resolution = resolve_mapping("lab", ["Nome", "Comune"], None, None)
    texts = [p.problem for p in resolution.problems]
    assert len(texts) == 2
    assert "'external_id'" in texts[0] and "'province'" in texts[1]
    assert all(p.row is None and p.column is None for p in resolution.problems)

    competence = resolve_mapping("competence", ["Codice", "Laboratorio", "TRL min"], None, None)
    missing = " ".join(p.problem for p in competence.problems)
    assert "title_it (Italian) or title_en" in missing and "'trl_max'" in missing
    assert "'trl_min'" not in missing

    service = resolve_mapping("service", ["Codice", "Laboratorio", "Name"], None, None)
    assert [p.problem for p in service.problems] == ["No column holds the required field 'kind'."]


def test_problem_is_dict_like() -> None:
    problem = Problem(3, "Anno", "dieci", "Not a number.")
    assert problem.as_dict() == {
        "row": 3,
        "column": "Anno",
        "value": "dieci",
        "problem": "Not a number.",
    }
    assert problem["column"] == "Anno"
