"""The catalogue's equipment as CERIF-XML of the OpenAIRE Guidelines for CRIS Managers 1.1
(namespace `https://www.openaire.eu/cerif-profile/1.1/`, entity Equipment), so that a
university's CRIS (DSpace-CRIS, IRIS) can take it in.

One file holds many records in CLOCK's own container, `Equipments` in
`https://clock.toscana.it/ns/cerif-export/1.0/` (the guidelines have no collection element: a
CRIS exposes each record through OAI-PMH). `data/cerif/clock-cerif-export.xsd` (the container)
and `data/cerif/openaire-cerif-equipment.xsd` (the subset of the profile written here) describe
the file; the tests validate against them.

What each record holds:

- `id`: the equipment's CLOCK id (a UUID, as the guidelines recommend: unique across types);
- `Name` per language (`xml:lang` it, en);
- `Identifier`: the equipment's CLOCK URL (type: the CERIF identifier type URL) and, when the
  centre gave one, the centre's own code (type: an institution-assigned identifier, as in the
  guidelines' examples);
- `Description` per language: the description, then manufacturer, model, year, category, hourly
  rate, shared use and booking conditions, which the profile has no elements for;
- `Owner`: the lab as an `OrgUnit` (names, CLOCK URL, the centre's code of the lab, e-mail),
  `PartOf` the centre (acronym, name).

No `Type` (the guidelines name no vocabulary of equipment types; CLOCK's category is free text)
and no `Acronym` (CLOCK has none for equipment). Tags (ATECO, S3, KET, ERC, FORD) are not
written: the profile's equipment has no subject element.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from services.catalog.models import Equipment, Lab

NAMESPACE = "https://www.openaire.eu/cerif-profile/1.1/"
"""The OpenAIRE CERIF profile 1.1: the records."""
EXPORT_NAMESPACE = "https://clock.toscana.it/ns/cerif-export/1.0/"
"""CLOCK's own: the container of a file of records."""

SCHEMAS = Path(__file__).resolve().parent.parent / "data" / "cerif"
EXPORT_SCHEMA = SCHEMAS / "clock-cerif-export.xsd"
"""The schema of a whole file (it imports `PROFILE_SCHEMA`)."""
PROFILE_SCHEMA = SCHEMAS / "openaire-cerif-equipment.xsd"

URL_IDENTIFIER = "https://w3id.org/cerif/vocab/IdentifierTypes#URL"
EQUIPMENT_IDENTIFIER = "Institution assigned unique equipment identifier"
ORGUNIT_IDENTIFIER = "Institution assigned unique organisation unit identifier"

LANGUAGES = ("it", "en")
LABELS = {
    "it": {
        "category": "Categoria",
        "manufacturer": "Produttore",
        "model": "Modello",
        "year": "Anno",
        "tariff": "Tariffa oraria",
        "shareable": "Uso condiviso con terzi",
        "booking": "Condizioni di prenotazione",
        "yes": "sì",
        "no": "no",
    },
    "en": {
        "category": "Category",
        "manufacturer": "Manufacturer",
        "model": "Model",
        "year": "Year",
        "tariff": "Hourly rate",
        "shareable": "Shared use with others",
        "booking": "Booking conditions",
        "yes": "yes",
        "no": "no",
    },
}

# Characters XML 1.0 cannot carry at all (C0 controls but tab, LF, CR; lone surrogates;
# U+FFFE, U+FFFF): ElementTree would write them as they are, making the file unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class EquipmentItem:
    """A published piece of equipment with what its record needs besides the row."""

    equipment: Equipment
    lab: Lab
    centre_name: str | None
    centre_acronym: str | None
    base_url: str
    """The catalogue API's public URL, e.g. `https://clock.toscana.it/api/v1/catalog`: the
    equipment's identifier is `<base_url>/equipment/<id>`, the lab's `<base_url>/labs/<id>`."""

    @property
    def url(self) -> str:
        return f"{self.base_url.rstrip('/')}/equipment/{self.equipment.id}"

    @property
    def lab_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/labs/{self.lab.id}"


def equipment_xml(items: Sequence[EquipmentItem], *, generated_at: datetime) -> bytes:
    """The equipment of `items` as one CERIF-XML file (UTF-8, pretty printed)."""
    root = ET.Element(
        "clock:Equipments",
        {
            "xmlns:clock": EXPORT_NAMESPACE,
            "xmlns": NAMESPACE,
            "generatedAt": _timestamp(generated_at),
        },
    )
    root.append(
        ET.Comment(
            " CLOCK catalogue: equipment as CERIF-XML of the OpenAIRE Guidelines for CRIS Managers"
            " 1.1 in a container of CLOCK's; manufacturer, model, year, category, hourly rate and"
            " booking conditions are in Description, the profile having no elements for them. "
        )
    )
    for item in items:
        root.append(_equipment(item))
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body.encode("utf-8") + b"\n"


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _text(value: object) -> str:
    return _NOT_XML.sub("", str(value)).strip()


def _sub(parent: ET.Element, tag: str, text: object, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    element.text = _text(text)
    return element


def _texts(value: Mapping[str, str] | None) -> dict[str, str]:
    """A language map's non-empty texts, Italian and English first."""
    texts = {lang: _text(text) for lang, text in (value or {}).items() if text}
    texts = {lang: text for lang, text in texts.items() if text}
    ordered = [lang for lang in LANGUAGES if lang in texts]
    ordered += sorted(lang for lang in texts if lang not in LANGUAGES)
    return {lang: texts[lang] for lang in ordered}


def _external_id(row: object) -> str | None:
    value = getattr(row, "external_id", None)
    return (_text(value) or None) if value else None


def _equipment(item: EquipmentItem) -> ET.Element:
    equipment = item.equipment
    element = ET.Element("Equipment", {"id": _text(equipment.id)})
    names = _texts(equipment.name)
    if not names:
        # Every CLOCK equipment has a name; should one have none, its record still needs one.
        names = {"it": _text(equipment.model or equipment.id)}
    for lang, name in names.items():
        _sub(element, "Name", name, **{"xml:lang": lang})
    _sub(element, "Identifier", item.url, type=URL_IDENTIFIER)
    code = _external_id(equipment)
    if code:
        _sub(element, "Identifier", code, type=EQUIPMENT_IDENTIFIER)
    for lang, description in _descriptions(equipment, names).items():
        _sub(element, "Description", description, **{"xml:lang": lang})
    owner = ET.SubElement(element, "Owner")
    owner.append(_lab(item))
    return element


def _descriptions(equipment: Equipment, names: Mapping[str, str]) -> dict[str, str]:
    """By language (those of the name, the description or the booking conditions): the
    description, then the facts the profile has no element for, labelled in that language."""
    descriptions = _texts(equipment.description)
    booking = _texts(equipment.booking_conditions)
    languages = [*names, *(lang for lang in descriptions if lang not in names)]
    languages += [lang for lang in booking if lang not in languages]
    result = {}
    for lang in languages:
        labels = LABELS.get(lang, LABELS["en"])
        facts = []
        for key in ("category", "manufacturer", "model"):
            value = _text(getattr(equipment, key) or "")
            if value:
                facts.append(f"{labels[key]}: {value}")
        if equipment.year is not None:
            facts.append(f"{labels['year']}: {int(equipment.year)}")
        if equipment.tariff_eur_per_hour not in (None, ""):
            amount = f"{Decimal(str(equipment.tariff_eur_per_hour)):.2f}"
            if lang == "it":
                amount = amount.replace(".", ",")
            facts.append(f"{labels['tariff']}: {amount} EUR")
        if equipment.shareable is not None:
            facts.append(f"{labels['shareable']}: {labels['yes' if equipment.shareable else 'no']}")
        if lang in booking:
            facts.append(f"{labels['booking']}: {booking[lang]}")
        parts = [descriptions[lang]] if lang in descriptions else []
        if facts:
            parts.append("\n".join(facts))
        if parts:
            result[lang] = "\n\n".join(parts)
    return result


def _lab(item: EquipmentItem) -> ET.Element:
    """The lab as the owning OrgUnit, part of the centre."""
    lab = item.lab
    unit = ET.Element("OrgUnit", {"id": _text(lab.id)})
    for lang, name in _texts(lab.name).items():
        _sub(unit, "Name", name, **{"xml:lang": lang})
    _sub(unit, "Identifier", item.lab_url, type=URL_IDENTIFIER)
    code = _external_id(lab)
    if code:
        _sub(unit, "Identifier", code, type=ORGUNIT_IDENTIFIER)
    email = _text(lab.contact_email or "")
    if email:
        _sub(unit, "ElectronicAddress", f"mailto:{email}")
    part_of = ET.SubElement(unit, "PartOf")
    centre = ET.SubElement(part_of, "OrgUnit", {"id": _text(lab.centre_id)})
    acronym = _text(item.centre_acronym or "")
    if acronym:
        _sub(centre, "Acronym", acronym)
    name = _text(item.centre_name or "")
    if name:
        # A member's name is its legal name, Italian for the centres of the region.
        _sub(centre, "Name", name, **{"xml:lang": "it"})
    return unit
