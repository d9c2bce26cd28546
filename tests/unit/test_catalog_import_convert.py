"""Catalogue import: rows of text as the payloads of the catalogue's input schemas."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import openpyxl
import pytest

from services.catalog.schemas import CompetenceIn, EquipmentIn, LabIn, ServiceIn
from services.catalog.transfer.convert import Converted, convert_rows, parse_cell
from services.catalog.transfer.fields import FIELDS, Field
from services.catalog.transfer.mapping import resolve_mapping
from services.catalog.transfer.reading import Row, Table, read_table


def field(entity: str, name: str) -> Field:
    return next(f for f in FIELDS[entity] if f.name == name)


def table(headers: list[str], *rows: list[str]) -> Table:
    return Table(headers, [Row(number, list(cells)) for number, cells in enumerate(rows, 2)])


def convert(entity: str, headers: list[str], *rows: list[str]) -> list[Converted]:
    data = table(headers, *rows)
    resolution = resolve_mapping(entity, headers, None, None)
    assert resolution.problems == [], resolution.problems
    return convert_rows(entity, data, resolution.mapping)


def problems(converted: Converted) -> list[dict[str, Any]]:
    return [p.as_dict() for p in converted.problems]


# -- kinds ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ISO 9001 | ISO/IEC 17025", ["ISO 9001", "ISO/IEC 17025"]),
        ("a; b;; a", ["a", "b"]),
        ("uno\ndue\r\ntre", ["uno", "due", "tre"]),
        ("prove, misure", ["prove", "misure"]),
        ("ricerca, sviluppo | noleggio", ["ricerca, sviluppo", "noleggio"]),
    ],
)
def test_lists(text: str, expected: list[str]) -> None:
    assert parse_cell(field("lab", "accreditations"), text) == expected


@pytest.mark.parametrize(("text", "expected"), [("3", 3), ("3.0", 3), ("3,0", 3), ("+7", 7)])
def test_integers(text: str, expected: int) -> None:
    assert parse_cell(field("competence", "trl_min"), text) == expected


@pytest.mark.parametrize("text", ["dieci", "3,5", "3.1", "1e3", ""])
def test_not_integers(text: str) -> None:
    with pytest.raises(ValueError, match="is not a whole number"):
        parse_cell(field("competence", "trl_min"), text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("85", "85"),
        ("85,50", "85.50"),
        ("85.50", "85.50"),
        ("1.234,50", "1234.50"),
        ("1,234.50", "1234.50"),
        ("€ 85,50", "85.50"),
        ("85,50 €", "85.50"),
        ("85 EUR/h", "85"),
        ("1 234,5", "1234.5"),
        ("1.234.567", "1234567"),
        ("0,125", "0.125"),
        ("-10", "-10"),
    ],
)
def test_decimals(text: str, expected: str) -> None:
    value = parse_cell(field("equipment", "tariff_eur_per_hour"), text)
    assert value == expected and Decimal(value) == Decimal(expected)


def test_decimals_that_are_not_or_ambiguous() -> None:
    tariff = field("equipment", "tariff_eur_per_hour")
    with pytest.raises(ValueError, match="is not a number"):
        parse_cell(tariff, "ottanta")
    with pytest.raises(ValueError, match="ambiguous"):
        parse_cell(tariff, "1.500")  # one thousand five hundred, or one and a half?


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        *[(t, True) for t in ("sì", "SI", "s", "Yes", "y", "true", "Vero", "1", "x", "X")],
        *[(t, False) for t in ("no", "N", "false", "Falso", "0")],
    ],
)
def test_booleans(text: str, expected: bool) -> None:
    assert parse_cell(field("equipment", "shareable"), text) is expected


def test_not_a_boolean() -> None:
    with pytest.raises(ValueError, match="'forse' is not yes or no"):
        parse_cell(field("equipment", "shareable"), "forse")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("tags_ateco", "26.51 | 2651 | 7120", ["26.51", "71.20"]),
        ("tags_ateco", "Collaudi e analisi tecniche", ["71.20"]),  # a group and its class
        ("tags_ateco", "attività manifatturiere", ["C"]),
        ("tags_ateco", "C - ATTIVITÀ MANIFATTURIERE; 26.51 - Fabbricazione", ["C", "26.51"]),
        (
            "tags_ateco",  # a label with a comma and a semicolon, whole
            "Produzione di pane; produzione di prodotti di pasticceria freschi",
            ["10.71"],
        ),
        ("tags_ket", "Fotonica, Advanced materials", ["photonics", "advanced_materials"]),
        ("tags_ket", "PHOTONICS", ["photonics"]),
        ("tags_erc", "pe1_1; PE1: Mathematics", ["PE1_1", "PE1"]),
        ("tags_s3", "s3-2021.dig", ["S3-2021.DIG"]),
        ("tags_ford", "Mathematics", ["1.1"]),
    ],
)
def test_tags_as_codes_or_labels(name: str, text: str, expected: list[str]) -> None:
    assert parse_cell(field("competence", name), text) == expected


def test_unknown_tags_name_the_values_and_the_taxonomy() -> None:
    with pytest.raises(ValueError) as raised:
        parse_cell(field("competence", "tags_ateco"), "26.51 | 99.99 | Astrologia")
    message = str(raised.value)
    assert "'99.99', 'Astrologia' are neither codes nor labels of ATECO 2025" in message


@pytest.mark.parametrize(
    ("text", "code"),
    [("LU", "LU"), ("lu", "LU"), ("Lucca", "LU"), ("FORLÌ-CESENA", "FC"), ("Bozen", "BZ")],
)
def test_provinces(text: str, code: str) -> None:
    assert parse_cell(field("lab", "province"), text) == code


def test_unknown_province() -> None:
    with pytest.raises(ValueError, match="'Lucka' is neither the two-letter code"):
        parse_cell(field("lab", "province"), "Lucka")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("testing", "testing"),
        ("Prove e analisi", "testing"),
        ("consulenza", "consulting"),
        ("Technology scouting", "technology_scouting"),
        ("Supporto alla proprietà intellettuale", "ip_support"),
    ],
)
def test_service_kinds(text: str, code: str) -> None:
    assert parse_cell(field("service", "kind"), text) == code


def test_unknown_service_kind_lists_the_kinds() -> None:
    with pytest.raises(ValueError) as raised:
        parse_cell(field("service", "kind"), "pulizie")
    assert "'pulizie' is not a kind of service" in str(raised.value)
    assert "testing (Prove e analisi)" in str(raised.value) and "funding_support" in str(
        raised.value
    )


# -- rows -----------------------------------------------------------------------------------

EQUIPMENT_HEADERS = [
    "Codice",
    "Laboratorio",
    "Nome",
    "Name",
    "Descrizione",
    "Produttore",
    "Modello",
    "Anno",
    "Condivisibile",
    "Tariffa oraria (€/h)",
    "Codice ATECO",
    "KET",
]


def equipment_row(**changes: str) -> list[str]:
    row = dict(
        zip(
            EQUIPMENT_HEADERS,
            [
                "EQ-1",
                "LAB-1",
                "Microscopio elettronico",
                "",
                "Qualità è già",
                "Zeiss",
                "Sigma 300",
                "2019",
                "sì",
                "€ 1.234,50",
                "Collaudi e analisi tecniche | 26.51",
                "Fotonica",
            ],
            strict=True,
        )
    )
    row.update(changes)
    return list(row.values())


def test_an_equipment_row() -> None:
    (row,) = convert("equipment", EQUIPMENT_HEADERS, equipment_row())
    assert row.valid and row.problems == []
    assert (row.row, row.external_id, row.lab_ref) == (2, "EQ-1", "LAB-1")
    assert row.payload == {
        "name": {"it": "Microscopio elettronico"},
        "description": {"it": "Qualità è già"},
        "manufacturer": "Zeiss",
        "model": "Sigma 300",
        "year": 2019,
        "shareable": True,
        "tariff_eur_per_hour": "1234.50",
        "tags": {"ateco": ["71.20", "26.51"], "ket": ["photonics"]},
    }
    assert EquipmentIn.model_validate(row.payload).tariff_eur_per_hour == Decimal("1234.50")


def test_absent_optional_fields_are_left_to_the_schema() -> None:
    row = equipment_row(
        Descrizione="", Produttore="", Anno="", Condivisibile="", **{"Codice ATECO": "", "KET": ""}
    )
    (converted,) = convert("equipment", EQUIPMENT_HEADERS, row)
    assert converted.payload is not None
    assert set(converted.payload) == {"name", "model", "tariff_eur_per_hour"}
    assert EquipmentIn.model_validate(converted.payload).shareable is False


def test_every_problem_of_a_row_is_reported_on_its_column() -> None:
    row = equipment_row(
        Nome="",
        Anno="1700",
        Condivisibile="forse",
        **{"Tariffa oraria (€/h)": "-10", "Codice ATECO": "99.99", "KET": "Fotonica"},
    )
    (converted,) = convert("equipment", EQUIPMENT_HEADERS, row)
    assert not converted.valid and converted.payload is None
    assert converted.external_id == "EQ-1"  # known, for the report
    found = problems(converted)
    assert [p["column"] for p in found] == [
        "Nome",
        "Anno",
        "Condivisibile",
        "Tariffa oraria (€/h)",
        "Codice ATECO",
    ]
    assert all(p["row"] == 2 for p in found)
    name, year, shareable, tariff, ateco = found
    assert name["value"] == "" and name["problem"].startswith("A name is required")
    assert year["value"] == "1700" and "greater than or equal to 1900" in year["problem"]
    assert shareable["value"] == "forse" and "not yes or no" in shareable["problem"]
    assert tariff["value"] == "-10" and "greater than or equal to 0" in tariff["problem"]
    assert ateco["value"] == "99.99"
    assert "'99.99' is neither a code nor a label of ATECO 2025" in ateco["problem"]
    assert not any(p["problem"].startswith("Value error") for p in found)


def test_missing_identifier_and_lab() -> None:
    (converted,) = convert(
        "equipment", EQUIPMENT_HEADERS, equipment_row(Codice="", Laboratorio="  ")
    )
    assert converted.external_id is None and converted.lab_ref is None
    assert [(p["column"], p["problem"]) for p in problems(converted)] == [
        ("Codice", "The identifier (external_id) is required: this cell is empty."),
        (
            "Laboratorio",
            "The lab (its external_id or Italian name) is required: this cell is empty.",
        ),
    ]
    (long,) = convert("equipment", EQUIPMENT_HEADERS, equipment_row(Codice="X" * 101))
    assert "101 characters long: at most 100" in long.problems[0].problem


def test_a_too_long_english_name_is_on_the_english_column() -> None:
    (converted,) = convert("equipment", EQUIPMENT_HEADERS, equipment_row(Name="N" * 201))
    (problem,) = problems(converted)
    assert problem["column"] == "Name" and problem["value"] == "N" * 201
    assert problem["problem"] == "The text should have at most 200 characters."


def test_competences_trl_and_keywords() -> None:
    headers = ["Codice", "Laboratorio", "Titolo", "TRL min", "TRL max", "Parole chiave", "ERC"]
    rows = convert(
        "competence",
        headers,
        ["C1", "L1", "Analisi", "3,0", "5", "prove; misure", "PE1"],
        ["C2", "L1", "Analisi", "dieci", "5", "", ""],
        ["C3", "L1", "Analisi", "7", "3", "", ""],
        ["C4", "L1", "Analisi", "2", "4", "ok; " + "k" * 61, ""],
        ["C5", "L1", "Analisi", "", "10", "", ""],
    )
    assert rows[0].payload == {
        "title": {"it": "Analisi"},
        "trl_min": 3,
        "trl_max": 5,
        "keywords": ["prove", "misure"],
        "tags": {"erc": ["PE1"]},
    }
    CompetenceIn.model_validate(rows[0].payload)
    # "dieci": one problem, not also "trl_min is required".
    assert problems(rows[1]) == [
        {
            "row": 3,
            "column": "TRL min",
            "value": "dieci",
            "problem": "'dieci' is not a whole number.",
        }
    ]
    (reversed_range,) = problems(rows[2])
    assert reversed_range["row"] == 4 and reversed_range["column"] == "TRL max"
    assert reversed_range["value"] == "3"
    assert reversed_range["problem"] == "trl_max (3) must not be lower than trl_min (7)."
    (keyword,) = problems(rows[3])
    assert keyword["column"] == "Parole chiave"
    assert keyword["problem"] == "Item 2: The text should have at most 60 characters."
    assert [(p["column"], p["problem"]) for p in problems(rows[4])] == [
        ("TRL min", "The field 'trl_min' is required: this cell is empty."),
        ("TRL max", "The value should be less than or equal to 9."),
    ]


def test_labs_province_by_name_and_location() -> None:
    headers = ["ID", "Nome", "Name", "Provincia", "Comune", "Accreditamenti", "E-mail"]
    rows = convert(
        "lab",
        headers,
        ["L1", "Laboratorio prove", "Testing lab", "Lucca", "Capannori", "ISO 9001", "A@b.it"],
        ["L2", "Lab", "", "LU", "Firenze", "", "not-an-email"],
        ["L3", "", "", "Toscana", "Lucca", "", ""],
    )
    assert rows[0].payload == {
        "name": {"it": "Laboratorio prove", "en": "Testing lab"},
        "province": "LU",
        "municipality": "Capannori",
        "accreditations": ["ISO 9001"],
        "contact_email": "A@b.it",
    }
    assert rows[0].lab_ref is None
    LabIn.model_validate(rows[0].payload)
    assert problems(rows[1]) == [
        {
            "row": 3,
            "column": "Comune",
            "value": "Firenze",
            "problem": "There is no comune called 'Firenze' in the province of Lucca (LU).",
        },
        {
            "row": 3,
            "column": "E-mail",
            "value": "not-an-email",
            "problem": "Not an e-mail address.",
        },
    ]
    assert [p["column"] for p in problems(rows[2])] == ["Nome", "Provincia"]


def test_services() -> None:
    headers = ["Codice", "Laboratorio", "Servizio", "Tipo", "Prezzo"]
    good, bad = convert(
        "service",
        headers,
        ["S1", "L1", "Prove di trazione", "Prove e analisi", "a campione"],
        ["S2", "L1", "Pulizie", "pulizie", ""],
    )
    assert good.payload == {
        "name": {"it": "Prove di trazione"},
        "kind": "testing",
        "price_model": "a campione",
    }
    ServiceIn.model_validate(good.payload)
    assert [p["column"] for p in problems(bad)] == ["Tipo"]


def test_a_csv_row_longer_than_its_header_is_a_problem() -> None:
    content = (
        "Codice;Laboratorio;Nome;Descrizione;Anno\r\n"
        "E1;L1;Forno;Cottura; a legna;2019\r\n"  # an unquoted ";" shifts the year
        'E2;L1;Forno;"Cottura; a legna";2019\r\n'
    ).encode("cp1252")
    data = read_table(content, "a.csv")
    mapping = resolve_mapping("equipment", data.headers, None, None).mapping
    shifted, quoted = convert_rows("equipment", data, mapping)
    assert quoted.valid and quoted.payload is not None and quoted.payload["year"] == 2019
    first, second = problems(shifted)
    assert first["row"] == 2 and first["column"] is None and first["value"] == "2019"
    assert "1 more cell than the header has columns" in first["problem"]
    assert "';' in a cell without quotes" in first["problem"]
    assert second["column"] == "Anno" and second["value"] == "a legna"


def test_a_name_with_no_column_at_all() -> None:
    headers = ["Codice", "Laboratorio", "Anno"]
    data = table(headers, ["E1", "L1", "2020"])
    (converted,) = convert_rows("equipment", data, {"Codice": "external_id", "Laboratorio": "lab"})
    (problem,) = problems(converted)
    assert problem["column"] is None and problem["value"] is None
    assert problem["problem"].endswith("no column holds it.")


def test_an_xlsx_file_end_to_end() -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["external_id", "lab", "name_it", "year", "shareable", "tariff_eur_per_hour"])
    sheet.append(["E1", "L1", "Forno", 2019, True, 85.5])
    sheet.append(["E2", "L1", "Pressa", 2021.0, False, 1234.5])
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = read_table(buffer.getvalue(), "equipment.xlsx")
    resolution = resolve_mapping("equipment", data.headers, None, None)
    first, second = convert_rows("equipment", data, resolution.mapping)
    assert first.payload is not None and second.payload is not None
    assert first.payload["tariff_eur_per_hour"] == "85.5" and first.payload["shareable"] is True
    assert second.payload["year"] == 2021 and second.payload["tariff_eur_per_hour"] == "1234.5"


def test_mapping_must_name_fields_and_headers_of_the_table() -> None:
    data = table(["Codice"], ["E1"])
    with pytest.raises(ValueError, match="not a field"):
        convert_rows("equipment", data, {"Codice": "nonsense"})
    with pytest.raises(ValueError, match="not a column"):
        convert_rows("equipment", data, {"Altro": "external_id"})


def test_ten_thousand_equipment_rows_are_converted() -> None:
    rows = [
        equipment_row(Codice=f"EQ-{i}", Nome=f"Microscopio {i}", Modello=f"M{i % 97}")
        for i in range(10_000)
    ]
    data = table(EQUIPMENT_HEADERS, *rows)
    mapping = resolve_mapping("equipment", EQUIPMENT_HEADERS, None, None).mapping
    converted = convert_rows("equipment", data, mapping)
    assert len(converted) == 10_000 and all(c.valid for c in converted)
    assert converted[-1].external_id == "EQ-9999" and converted[-1].row == 10_001


def test_a_cell_an_export_guarded_against_formulas_imports_as_it_was() -> None:
    from services.catalog.transfer.convert import unguarded

    assert unguarded("'=SUM(A1)") == "=SUM(A1)"
    assert unguarded("'-5 gradi") == "-5 gradi"
    assert unguarded("'normale") == "'normale"
