"""Catalogue export: records from ORM rows, CSV (Italian and English Excel), XLSX."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook

from services.catalog.models import Competence, Equipment, Lab, ServiceOffering
from services.catalog.transfer.exporting import (
    SHEETS,
    Locale,
    entry_record,
    lab_record,
    to_csv,
    to_xlsx,
)
from services.catalog.transfer.fields import FIELDS, field_names

NO_TAGS: dict[str, list[str]] = {"ateco": [], "s3": [], "ket": [], "erc": [], "ford": []}


def make_lab(external_id: str | None = "LAB-01", **values: Any) -> Lab:
    lab = Lab(
        id="0190a000-0000-7000-8000-000000000001",
        centre_id="0190a000-0000-7000-8000-0000000000c1",
        name={"it": "Laboratorio prove materiali", "en": "Materials testing lab"},
        description={"it": "Prove meccaniche; analisi chimiche."},
        province="PI",
        municipality="Pisa",
        accreditations=["ACCREDIA", "ISO 17025"],
        access_modes=[],
        contact_email="lab@example.it",
        status="published",
        version=1,
    )
    for key, value in values.items():
        setattr(lab, key, value)
    setattr(lab, "external_id", external_id)  # noqa: B010 (a column the models may lack yet)
    return lab


def make_equipment(external_id: str | None = "EQ-7", **values: Any) -> Equipment:
    equipment = Equipment(
        id="0190a000-0000-7000-8000-0000000000e1",
        lab_id="0190a000-0000-7000-8000-000000000001",
        centre_id="0190a000-0000-7000-8000-0000000000c1",
        name={"it": "Microscopio elettronico a scansione", "en": "Scanning electron microscope"},
        description={"it": "SEM con microanalisi EDS.", "en": "SEM with EDS microanalysis."},
        category="Microscopia",
        manufacturer="JEOL",
        model="JSM-IT500",
        year=2019,
        shareable=True,
        tariff_eur_per_hour="85.50",
        booking_conditions={"it": "Su prenotazione; 48 ore di anticipo"},
        tags={**NO_TAGS, "ateco": ["72.19", "71.20"], "ford": ["2.5"]},
        status="published",
        version=3,
    )
    for key, value in values.items():
        setattr(equipment, key, value)
    setattr(equipment, "external_id", external_id)  # noqa: B010
    return equipment


# -- records ----------------------------------------------------------------------------------


def test_a_lab_record_has_the_import_columns_with_typed_values() -> None:
    record = lab_record(make_lab())
    assert list(record) == field_names("lab")
    assert record["external_id"] == "LAB-01"
    assert record["name_it"] == "Laboratorio prove materiali"
    assert record["name_en"] == "Materials testing lab"
    assert record["description_en"] is None
    assert record["province"] == "PI"
    assert record["accreditations"] == ["ACCREDIA", "ISO 17025"]
    assert record["access_modes"] == []
    assert record["contact_email"] == "lab@example.it"


def test_without_an_external_id_the_clock_id_stands_for_it() -> None:
    lab = make_lab(external_id=None)
    equipment = make_equipment(external_id=None)
    assert lab_record(lab)["external_id"] == lab.id
    record = entry_record("equipment", equipment, lab)
    assert record["external_id"] == equipment.id
    assert record["lab"] == lab.id
    assert entry_record("equipment", equipment, make_lab())["lab"] == "LAB-01"


def test_an_equipment_record_is_typed() -> None:
    record = entry_record("equipment", make_equipment(), make_lab())
    assert list(record) == field_names("equipment")
    assert record["lab"] == "LAB-01"
    assert record["tariff_eur_per_hour"] == Decimal("85.50")
    assert isinstance(record["tariff_eur_per_hour"], Decimal)
    assert record["year"] == 2019
    assert record["shareable"] is True
    assert record["booking_conditions_it"] == "Su prenotazione; 48 ore di anticipo"
    assert record["booking_conditions_en"] is None
    assert record["tags_ateco"] == ["72.19", "71.20"]
    assert record["tags_ford"] == ["2.5"]
    assert record["tags_s3"] == []
    empty = entry_record(
        "equipment",
        make_equipment(year=None, tariff_eur_per_hour=None, booking_conditions=None, model=None),
        make_lab(),
    )
    assert empty["year"] is None and empty["tariff_eur_per_hour"] is None
    assert empty["booking_conditions_it"] is None and empty["model"] is None


def test_competence_and_service_records() -> None:
    lab = make_lab()
    competence = Competence(
        id="c1",
        lab_id=lab.id,
        centre_id=lab.centre_id,
        title={"en": "Fatigue testing"},
        description={},
        trl_min=4,
        trl_max=7,
        keywords=["fatica", "compositi"],
        tags={**NO_TAGS, "erc": ["PE8_8"]},
        status="published",
        version=1,
    )
    record = entry_record("competence", competence, lab)
    assert list(record) == field_names("competence")
    assert record["external_id"] == "c1"
    assert record["title_it"] is None and record["title_en"] == "Fatigue testing"
    assert (record["trl_min"], record["trl_max"]) == (4, 7)
    assert record["keywords"] == ["fatica", "compositi"]
    assert record["tags_erc"] == ["PE8_8"]

    service = ServiceOffering(
        id="s1",
        lab_id=lab.id,
        centre_id=lab.centre_id,
        name={"it": "Prove di trazione"},
        kind="testing",
        description={"it": "Su provini normati."},
        price_model=None,
        tags=NO_TAGS,
        status="published",
        version=1,
    )
    setattr(service, "external_id", "SRV-1")  # noqa: B010
    record = entry_record("service", service, lab)
    assert list(record) == field_names("service")
    assert record["external_id"] == "SRV-1"
    assert record["kind"] == "testing"
    assert record["price_model"] is None


# -- CSV ----------------------------------------------------------------------------------------


def read_csv(data: bytes, encoding: str, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding), newline=""), delimiter=delimiter))


@pytest.mark.parametrize("entity", list(FIELDS))
def test_the_csv_header_is_the_import_field_names(entity: str) -> None:
    formats: list[tuple[Locale, str]] = [("it", ";"), ("en", ",")]
    for locale, delimiter in formats:
        rows = read_csv(to_csv(entity, [], locale=locale), "utf-8-sig", delimiter)
        assert rows == [field_names(entity)]


def test_italian_csv_is_what_excel_opens_in_an_italian_office() -> None:
    equipment = make_equipment(
        description={"it": 'Due righe;\ncon punto e virgola e "virgolette"'},
        shareable=False,
    )
    data = to_csv("equipment", [entry_record("equipment", equipment, make_lab())])
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.split(b"\r\n", 1)[0] == b"\xef\xbb\xbf" + ";".join(field_names("equipment")).encode(
        "utf-8"
    )
    header, row = read_csv(data, "utf-8-sig", ";")
    cells = dict(zip(header, row, strict=True))
    assert cells["tariff_eur_per_hour"] == "85,50"
    assert cells["shareable"] == "no"
    assert cells["year"] == "2019"
    assert cells["tags_ateco"] == "72.19 | 71.20"
    assert cells["tags_s3"] == ""
    assert cells["booking_conditions_it"] == "Su prenotazione; 48 ore di anticipo"
    assert cells["description_it"] == 'Due righe;\ncon punto e virgola e "virgolette"'
    assert cells["description_en"] == ""
    assert cells["name_it"] == "Microscopio elettronico a scansione"
    true = to_csv("equipment", [entry_record("equipment", make_equipment(), make_lab())])
    assert dict(zip(*read_csv(true, "utf-8-sig", ";"), strict=True))["shareable"] == "sì"


def test_english_csv() -> None:
    lab = make_lab(accreditations=["ACCREDIA", "ISO, 17025"])
    data = to_csv("equipment", [entry_record("equipment", make_equipment(), lab)], locale="en")
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.startswith(b"external_id,lab,name_it,")
    header, row = read_csv(data, "utf-8", ",")
    cells = dict(zip(header, row, strict=True))
    assert cells["tariff_eur_per_hour"] == "85.50"
    assert cells["shareable"] == "yes"
    assert cells["booking_conditions_it"] == "Su prenotazione; 48 ore di anticipo"
    lab_data = to_csv("lab", [lab_record(lab)], locale="en")
    header, row = read_csv(lab_data, "utf-8", ",")
    assert dict(zip(header, row, strict=True))["accreditations"] == "ACCREDIA | ISO, 17025"
    with pytest.raises(ValueError):
        to_csv("lab", [], locale="de")  # type: ignore[arg-type]


def test_csv_cells_that_look_like_formulas_are_guarded() -> None:
    lab = make_lab(external_id='=HYPERLINK("http://x")', municipality="+39 Pisa")
    equipment = make_equipment(
        manufacturer="-2+3",
        model="@SUM(A1)",
        category="\tcmd",
        description={"it": "\r=1"},
        tags={**NO_TAGS, "s3": ["=evil", "ok"]},
        tariff_eur_per_hour="0.00",
    )
    cells = dict(
        zip(
            *read_csv(
                to_csv("equipment", [entry_record("equipment", equipment, lab)]),
                "utf-8-sig",
                ";",
            ),
            strict=True,
        )
    )
    assert cells["lab"] == '\'=HYPERLINK("http://x")'
    assert cells["manufacturer"] == "'-2+3"
    assert cells["model"] == "'@SUM(A1)"
    assert cells["category"] == "'\tcmd"
    assert cells["description_it"] == "'\r=1"
    assert cells["tags_s3"] == "'=evil | ok"
    assert cells["tariff_eur_per_hour"] == "0,00"
    assert cells["name_it"] == "Microscopio elettronico a scansione"
    lab_cells = dict(
        zip(*read_csv(to_csv("lab", [lab_record(lab)]), "utf-8-sig", ";"), strict=True)
    )
    assert lab_cells["municipality"] == "'+39 Pisa"


# -- XLSX ---------------------------------------------------------------------------------------


def test_xlsx_has_one_typed_sheet_per_entity() -> None:
    lab = make_lab()
    equipment = [
        entry_record("equipment", make_equipment(), lab),
        entry_record(
            "equipment",
            make_equipment(
                external_id="EQ-8",
                year=None,
                shareable=False,
                tariff_eur_per_hour=None,
                manufacturer="=cmd|' /C calc'!A0",
                model="bad\x01char",
            ),
            lab,
        ),
    ]
    # Given out of order, with no services: the sheets come in the entities' order.
    data = to_xlsx({"equipment": equipment, "lab": [lab_record(lab)], "competence": []})
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Laboratori", "Competenze", "Attrezzature"]

    sheet = book["Attrezzature"]
    assert sheet.freeze_panes == "A2"
    header = [cell.value for cell in sheet[1]]
    assert header == field_names("equipment")
    assert all(cell.font.b for cell in sheet[1])
    column = {name: index for index, name in enumerate(header)}

    first, second = (list(row) for row in sheet.iter_rows(min_row=2))
    assert first[column["external_id"]].value == "EQ-7"
    assert first[column["lab"]].value == "LAB-01"
    tariff = first[column["tariff_eur_per_hour"]]
    assert tariff.data_type == "n" and tariff.value == 85.5 and tariff.number_format == "0.00"
    year = first[column["year"]]
    assert year.data_type == "n" and year.value == 2019
    shareable = first[column["shareable"]]
    assert shareable.data_type == "b" and shareable.value is True
    assert first[column["tags_ateco"]].value == "72.19 | 71.20"
    assert first[column["tags_s3"]].value is None
    assert first[column["description_en"]].value == "SEM with EDS microanalysis."

    assert second[column["year"]].value is None
    assert second[column["shareable"]].value is False
    assert second[column["tariff_eur_per_hour"]].value is None
    formula = second[column["manufacturer"]]
    assert formula.data_type == "s" and formula.value == "=cmd|' /C calc'!A0"
    assert formula.quotePrefix
    assert second[column["model"]].value == "badchar"

    widths = [sheet.column_dimensions[c].width for c in ("A", "C", "L")]
    assert all(8 <= width <= 62 for width in widths)

    labs = book["Laboratori"]
    assert [cell.value for cell in labs[1]] == field_names("lab")
    assert [cell.value for cell in labs[2]][:3] == [
        "LAB-01",
        "Laboratorio prove materiali",
        "Materials testing lab",
    ]
    assert labs.max_row == 2
    assert [cell.value for cell in book["Competenze"][1]] == field_names("competence")
    assert book["Competenze"].max_row == 1


def test_xlsx_needs_known_entities() -> None:
    assert list(SHEETS) == ["lab", "competence", "equipment", "service"]
    with pytest.raises(ValueError):
        to_xlsx({})
    with pytest.raises(ValueError):
        to_xlsx({"labs": []})


def test_a_thousand_records_make_a_thousand_rows() -> None:
    lab = make_lab()
    record = entry_record("equipment", make_equipment(), lab)
    records = [{**record, "external_id": f"EQ-{n}"} for n in range(1_000)]
    data = to_csv("equipment", records)
    book = to_xlsx({"equipment": records})
    assert data.count(b"\r\n") == 1_001
    rows = load_workbook(io.BytesIO(book), read_only=True)["Attrezzature"].iter_rows()
    assert sum(1 for _ in rows) == 1_001
