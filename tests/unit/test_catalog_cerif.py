"""Equipment as CERIF-XML (OpenAIRE Guidelines for CRIS Managers 1.1), validated against the
schema shipped in services/catalog/data/cerif/."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import xmlschema

from services.catalog.models import Equipment, Lab
from services.catalog.transfer.cerif import (
    EQUIPMENT_IDENTIFIER,
    EXPORT_NAMESPACE,
    EXPORT_SCHEMA,
    NAMESPACE,
    PROFILE_SCHEMA,
    URL_IDENTIFIER,
    EquipmentItem,
    equipment_xml,
)

BASE = "https://clock.toscana.it/api/v1/catalog"
NS = {"o": NAMESPACE, "c": EXPORT_NAMESPACE}
LANG = "{http://www.w3.org/XML/1998/namespace}lang"
GENERATED = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(EXPORT_SCHEMA))


def make_lab(n: int, **values: Any) -> Lab:
    lab = Lab(
        id=f"0190a000-0000-7000-8000-00000000000{n}",
        centre_id="0190a000-0000-7000-8000-0000000000c1",
        name={"it": f"Laboratorio {n}", "en": f"Lab {n}"},
        description={},
        province="PI",
        municipality="Pisa",
        accreditations=[],
        access_modes=[],
        contact_email=f"lab{n}@example.it",
        status="published",
        version=1,
    )
    setattr(lab, "external_id", None)  # noqa: B010 (a column the models may lack yet)
    for key, value in values.items():
        setattr(lab, key, value)
    return lab


def make_equipment(n: int, lab: Lab, **values: Any) -> Equipment:
    equipment = Equipment(
        id=f"0190a000-0000-7000-8000-0000000000e{n}",
        lab_id=lab.id,
        centre_id=lab.centre_id,
        name={"it": "Microscopio elettronico a scansione", "en": "Scanning electron microscope"},
        description={"it": "SEM con microanalisi EDS.", "en": "SEM with EDS microanalysis."},
        category="Microscopia",
        manufacturer="JEOL",
        model="JSM-IT500",
        year=2019,
        shareable=True,
        tariff_eur_per_hour="85.50",
        booking_conditions={"it": "Su prenotazione", "en": "On booking"},
        tags={"ateco": ["72.19"], "s3": [], "ket": [], "erc": [], "ford": []},
        status="published",
        version=1,
    )
    setattr(equipment, "external_id", None)  # noqa: B010
    for key, value in values.items():
        setattr(equipment, key, value)
    return equipment


def three_items() -> list[EquipmentItem]:
    lab_1 = make_lab(1, external_id="LAB-A")
    lab_2 = make_lab(2, name={"it": "Lab <Ricerca> & Sviluppo"}, contact_email=None)
    both = make_equipment(1, lab_1, external_id="INV-2019/44")
    italian = make_equipment(
        2,
        lab_1,
        name={"it": "Citofluorimetro a flusso"},
        description={"it": "Analisi multiparametrica di popolazioni cellulari."},
        category=None,
        manufacturer="Beckman Coulter",
        model="CytoFLEX",
        year=None,
        shareable=False,
        tariff_eur_per_hour=None,
        booking_conditions=None,
    )
    special = make_equipment(
        3,
        lab_2,
        name={"it": "Forno & <muffola> è caldo", "en": "Muffle furnace & <oven>"},
        description={"it": "Costo: 40 € l'ora; temperature > 1000 °C & oltre.\nSeconda riga"},
        manufacturer="Nabertherm & Co.",
        tariff_eur_per_hour="40.00",
        booking_conditions=None,
    )
    return [
        EquipmentItem(both, lab_1, "Università di Pisa", "UNIPI", BASE),
        EquipmentItem(italian, lab_1, "Università di Pisa", "UNIPI", BASE + "/"),
        EquipmentItem(special, lab_2, "Consorzio Ricerca & Innovazione è Toscana", None, BASE),
    ]


def test_the_schemas_are_valid_xsd() -> None:
    profile = xmlschema.XMLSchema(str(PROFILE_SCHEMA))  # strict: raises on a bad schema
    meta = xmlschema.XMLSchema.meta_schema
    assert meta is not None
    if not meta.built:
        meta.build()
    for path in (EXPORT_SCHEMA, PROFILE_SCHEMA):
        meta.validate(str(path))
    assert not meta.is_valid(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element nam="a"/></xs:schema>'
    )
    assert profile.target_namespace == "https://www.openaire.eu/cerif-profile/1.1/"
    assert set(profile.elements) == {"Equipment", "OrgUnit"}


def test_three_equipment_validate(schema: xmlschema.XMLSchema) -> None:
    data = equipment_xml(three_items(), generated_at=GENERATED)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<clock:Equipments')
    assert "è".encode() in data and "€".encode() in data
    assert b"\n    <Name xml:lang=" in data  # pretty printed
    schema.validate(data)

    root = ET.fromstring(data)
    assert root.tag == f"{{{EXPORT_NAMESPACE}}}Equipments"
    assert root.get("generatedAt") == "2025-03-01T09:30:00Z"
    first, second, third = root.findall("o:Equipment", NS)

    assert first.get("id") == "0190a000-0000-7000-8000-0000000000e1"
    names = {n.get(LANG): n.text for n in first.findall("o:Name", NS)}
    assert names == {
        "it": "Microscopio elettronico a scansione",
        "en": "Scanning electron microscope",
    }
    identifiers = [(i.get("type"), i.text) for i in first.findall("o:Identifier", NS)]
    assert identifiers == [
        (URL_IDENTIFIER, f"{BASE}/equipment/0190a000-0000-7000-8000-0000000000e1"),
        (EQUIPMENT_IDENTIFIER, "INV-2019/44"),
    ]
    descriptions = {d.get(LANG): d.text or "" for d in first.findall("o:Description", NS)}
    assert descriptions["it"].startswith("SEM con microanalisi EDS.\n\nCategoria: Microscopia\n")
    for fact in (
        "Produttore: JEOL",
        "Modello: JSM-IT500",
        "Anno: 2019",
        "Tariffa oraria: 85,50 EUR",
        "Uso condiviso con terzi: sì",
        "Condizioni di prenotazione: Su prenotazione",
    ):
        assert fact in descriptions["it"]
    assert "Hourly rate: 85.50 EUR" in descriptions["en"]
    assert "Booking conditions: On booking" in descriptions["en"]

    lab = first.find("o:Owner/o:OrgUnit", NS)
    assert lab is not None and lab.get("id") == "0190a000-0000-7000-8000-000000000001"
    assert [n.text for n in lab.findall("o:Name", NS)] == ["Laboratorio 1", "Lab 1"]
    assert [i.text for i in lab.findall("o:Identifier", NS)] == [
        f"{BASE}/labs/0190a000-0000-7000-8000-000000000001",
        "LAB-A",
    ]
    assert lab.findtext("o:ElectronicAddress", namespaces=NS) == "mailto:lab1@example.it"
    centre = lab.find("o:PartOf/o:OrgUnit", NS)
    assert centre is not None and centre.get("id") == "0190a000-0000-7000-8000-0000000000c1"
    assert centre.findtext("o:Acronym", namespaces=NS) == "UNIPI"
    assert centre.findtext("o:Name", namespaces=NS) == "Università di Pisa"

    # Italian only: no English name, no English description.
    assert [n.get(LANG) for n in second.findall("o:Name", NS)] == ["it"]
    assert [d.get(LANG) for d in second.findall("o:Description", NS)] == ["it"]
    assert len(second.findall("o:Identifier", NS)) == 1
    assert second.findtext("o:Identifier", namespaces=NS) == (
        f"{BASE}/equipment/0190a000-0000-7000-8000-0000000000e2"
    )
    text = second.findtext("o:Description", namespaces=NS) or ""
    assert "Uso condiviso con terzi: no" in text
    assert "Anno" not in text and "Tariffa" not in text and "Categoria" not in text

    # Escaped on the way out, the same on the way in.
    assert third.findtext("o:Name", namespaces=NS) == "Forno & <muffola> è caldo"
    assert b"Forno &amp; &lt;muffola&gt; \xc3\xa8 caldo" in data
    special = third.findtext("o:Description", namespaces=NS) or ""
    assert special.startswith("Costo: 40 € l'ora; temperature > 1000 °C & oltre.\nSeconda riga")
    assert "Produttore: Nabertherm & Co." in special
    english = [d.text or "" for d in third.findall("o:Description", NS) if d.get(LANG) == "en"]
    assert english and english[0].startswith("Category: Microscopia")  # facts, no description
    lab_2 = third.find("o:Owner/o:OrgUnit", NS)
    assert lab_2 is not None
    assert lab_2.findtext("o:Name", namespaces=NS) == "Lab <Ricerca> & Sviluppo"
    assert lab_2.find("o:ElectronicAddress", NS) is None
    centre_2 = lab_2.find("o:PartOf/o:OrgUnit", NS)
    assert centre_2 is not None and centre_2.find("o:Acronym", NS) is None
    assert centre_2.findtext("o:Name", namespaces=NS) == "Consorzio Ricerca & Innovazione è Toscana"


def test_each_record_validates_on_its_own(schema: xmlschema.XMLSchema) -> None:
    """As the payload of an OAI-PMH record would be."""
    profile = xmlschema.XMLSchema(str(PROFILE_SCHEMA))
    root = ET.fromstring(equipment_xml(three_items(), generated_at=GENERATED))
    for record in root.findall("o:Equipment", NS):
        profile.validate(ET.tostring(record, encoding="unicode"))


def test_an_empty_catalogue_and_other_time_zones(schema: xmlschema.XMLSchema) -> None:
    rome = timezone(timedelta(hours=1))
    data = equipment_xml([], generated_at=datetime(2025, 3, 1, 10, 30, tzinfo=rome))
    schema.validate(data)
    assert ET.fromstring(data).get("generatedAt") == "2025-03-01T09:30:00Z"
    naive = equipment_xml([], generated_at=datetime(2025, 3, 1, 9, 30))
    assert ET.fromstring(naive).get("generatedAt") == "2025-03-01T09:30:00Z"


def test_characters_xml_cannot_carry_are_dropped(schema: xmlschema.XMLSchema) -> None:
    lab = make_lab(1)
    equipment = make_equipment(
        1, lab, name={"it": "Bilancia\x00 analitica\x0b"}, model="XP\x1f205", description={}
    )
    data = equipment_xml(
        [EquipmentItem(equipment, lab, "Ente", None, BASE)], generated_at=GENERATED
    )
    schema.validate(data)
    record = ET.fromstring(data).find("o:Equipment", NS)
    assert record is not None
    assert record.findtext("o:Name", namespaces=NS) == "Bilancia analitica"
    assert "Modello: XP205" in (record.findtext("o:Description", namespaces=NS) or "")


def _invalid(schema: xmlschema.XMLSchema, data: bytes) -> None:
    assert not schema.is_valid(data)
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        schema.validate(data)


def test_invalid_documents_are_rejected(schema: xmlschema.XMLSchema) -> None:
    data = equipment_xml(three_items(), generated_at=GENERATED)
    schema.validate(data)
    text = data.decode("utf-8")

    # No Name: the first equipment's two names removed.
    no_name = text.replace(
        '<Name xml:lang="it">Microscopio elettronico a scansione</Name>', "", 1
    ).replace('<Name xml:lang="en">Scanning electron microscope</Name>', "", 1)
    assert no_name != text
    _invalid(schema, no_name.encode())

    # An element the profile does not have.
    unknown = text.replace("<Owner>", "<Price>85.50</Price>\n    <Owner>", 1)
    _invalid(schema, unknown.encode())

    # Elements out of the profile's order.
    order = ET.fromstring(data)
    first = order.find("o:Equipment", NS)
    assert first is not None
    owner = first.find("o:Owner", NS)
    assert owner is not None
    first.remove(owner)
    first.insert(0, owner)
    _invalid(schema, ET.tostring(order))

    # The records in another namespace (a newer profile, or none).
    newer = text.replace(
        'xmlns="https://www.openaire.eu/cerif-profile/1.1/"',
        'xmlns="https://www.openaire.eu/cerif-profile/1.2/"',
    )
    _invalid(schema, newer.encode())
    _invalid(
        schema, text.replace('xmlns="https://www.openaire.eu/cerif-profile/1.1/"', "").encode()
    )

    # A name without its language, an identifier without its type, a record without an id.
    _invalid(schema, text.replace('<Name xml:lang="it">', "<Name>", 1).encode())
    _invalid(
        schema, text.replace(f'<Identifier type="{URL_IDENTIFIER}">', "<Identifier>", 1).encode()
    )
    _invalid(
        schema,
        text.replace(
            '<Equipment id="0190a000-0000-7000-8000-0000000000e1">', "<Equipment>"
        ).encode(),
    )

    # The same id twice in a file; no generation time.
    twice = text.replace("0000000000e2", "0000000000e1").encode()
    _invalid(schema, twice)
    _invalid(schema, text.replace(' generatedAt="2025-03-01T09:30:00Z"', "").encode())
