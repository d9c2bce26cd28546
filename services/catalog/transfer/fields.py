"""The columns of each entity in an import or export file.

A field is a flat name (`name_it`, `tags_ateco`, `lab`); its column in an export has that name,
so an exported file imports again unchanged. `synonyms` are headers people write in Italian or
English for it (compared folded: lower case, no accents, punctuation as spaces).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """How a cell's text becomes a value."""

    TEXT = "text"
    LIST = "list"
    """Several values in one cell, separated by `|`, `;`, `,` or new lines."""
    INTEGER = "integer"
    DECIMAL = "decimal"
    """Italian (`1.234,50`) or English (`1,234.50`) notation."""
    BOOLEAN = "boolean"
    """sì/si/yes/true/1/x or no/false/0 (empty: the default)."""
    TAGS = "tags"
    """Codes or labels of a taxonomy (`dimension`), several per cell."""
    PROVINCE = "province"
    """The ISTAT code (LU) or the province's name (Lucca)."""
    SERVICE_KIND = "service_kind"
    """The code (testing) or its label, Italian or English."""


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind = Kind.TEXT
    synonyms: tuple[str, ...] = ()
    required: bool = False
    dimension: str | None = None
    """The taxonomy of a TAGS field."""
    description: str = ""


EXTERNAL_ID = Field(
    "external_id",
    synonyms=(
        "codice",
        "id",
        "identificativo",
        "codice interno",
        "cod",
        "riferimento",
        "code",
        "identifier",
        "internal id",
        "ref",
        "reference",
    ),
    required=True,
    description="The centre's own identifier of the row: a re-import updates that entry.",
)
LAB_REF = Field(
    "lab",
    synonyms=(
        "laboratorio",
        "codice laboratorio",
        "id laboratorio",
        "lab id",
        "lab code",
        "laboratory",
        "laboratory id",
    ),
    required=True,
    description="The lab the entry belongs to: its external_id (or its exact Italian name).",
)


def _texts(base: str, it: tuple[str, ...], en: tuple[str, ...], required: bool) -> list[Field]:
    """`<base>_it` and `<base>_en` of a language map; an Italian header is Italian, an English
    one English. `required`: one of the two (the input schema says which is missing)."""
    return [
        Field(
            f"{base}_it",
            synonyms=(
                *it,
                *(f"{s} it" for s in it),
                *(f"{s} ita" for s in it),
                *(f"{s} (it)" for s in it),
            ),
            required=required,
        ),
        Field(
            f"{base}_en",
            synonyms=(
                *en,
                *(f"{s} en" for s in it),
                *(f"{s} eng" for s in it),
                *(f"{s} inglese" for s in it),
            ),
        ),
    ]


def _tags() -> list[Field]:
    return [
        Field(
            "tags_ateco",
            Kind.TAGS,
            ("ateco", "codice ateco", "codici ateco", "settore ateco", "nace"),
            dimension="ateco",
        ),
        Field(
            "tags_s3",
            Kind.TAGS,
            ("s3", "ris3", "specializzazione intelligente", "smart specialisation", "priorita s3"),
            dimension="s3",
        ),
        Field(
            "tags_ket",
            Kind.TAGS,
            ("ket", "tecnologie abilitanti", "key enabling technologies"),
            dimension="ket",
        ),
        Field(
            "tags_erc",
            Kind.TAGS,
            ("erc", "settore erc", "erc panel", "erc panels"),
            dimension="erc",
        ),
        Field(
            "tags_ford",
            Kind.TAGS,
            ("ford", "campo scientifico", "fields of science", "field of science", "fos"),
            dimension="ford",
        ),
    ]


DESCRIPTION = _texts("description", ("descrizione",), ("description",), False)

LAB = (
    EXTERNAL_ID,
    *_texts(
        "name",
        ("nome", "nome laboratorio", "denominazione", "laboratorio nome"),
        ("name", "lab name", "laboratory name"),
        True,
    ),
    *DESCRIPTION,
    Field(
        "province",
        Kind.PROVINCE,
        ("provincia", "prov", "sigla provincia", "province"),
        required=True,
    ),
    Field(
        "municipality",
        synonyms=("comune", "citta", "localita", "sede", "municipality", "city", "town"),
        required=True,
    ),
    Field(
        "accreditations",
        Kind.LIST,
        ("accreditamenti", "certificazioni", "accreditamento", "accreditations", "certifications"),
    ),
    Field("access_modes", Kind.LIST, ("modalita di accesso", "accesso", "access modes", "access")),
    Field(
        "contact_email",
        synonyms=("email", "e mail", "posta elettronica", "contatto", "contact", "contact email"),
    ),
)
COMPETENCE = (
    EXTERNAL_ID,
    LAB_REF,
    *_texts("title", ("titolo", "competenza", "nome"), ("title", "competence", "name"), True),
    *DESCRIPTION,
    Field(
        "trl_min",
        Kind.INTEGER,
        ("trl min", "trl minimo", "trl da", "min trl", "trl from"),
        required=True,
    ),
    Field(
        "trl_max",
        Kind.INTEGER,
        ("trl max", "trl massimo", "trl a", "max trl", "trl to"),
        required=True,
    ),
    Field("keywords", Kind.LIST, ("parole chiave", "keyword", "keywords", "tag", "tags")),
    *_tags(),
)
EQUIPMENT = (
    EXTERNAL_ID,
    LAB_REF,
    *_texts(
        "name",
        ("nome", "attrezzatura", "strumento", "apparecchiatura", "denominazione"),
        ("name", "equipment", "instrument"),
        True,
    ),
    *DESCRIPTION,
    Field("category", synonyms=("categoria", "tipologia", "category", "type")),
    Field(
        "manufacturer",
        synonyms=("produttore", "costruttore", "marca", "manufacturer", "brand", "maker"),
    ),
    Field("model", synonyms=("modello", "model")),
    Field(
        "year",
        Kind.INTEGER,
        ("anno", "anno di acquisto", "anno acquisto", "year", "year of purchase"),
    ),
    Field(
        "shareable",
        Kind.BOOLEAN,
        (
            "condivisibile",
            "disponibile a terzi",
            "uso condiviso",
            "shareable",
            "shared",
            "available to others",
        ),
    ),
    Field(
        "tariff_eur_per_hour",
        Kind.DECIMAL,
        (
            "tariffa oraria",
            "tariffa",
            "tariffa eur h",
            "costo orario",
            "prezzo orario",
            "hourly rate",
            "tariff",
            "rate eur h",
            "eur h",
        ),
    ),
    *_texts(
        "booking_conditions",
        ("condizioni di prenotazione", "condizioni di accesso", "prenotazione"),
        ("booking conditions", "booking"),
        False,
    ),
    *_tags(),
)
SERVICE = (
    EXTERNAL_ID,
    LAB_REF,
    *_texts("name", ("nome", "servizio", "denominazione"), ("name", "service"), True),
    Field(
        "kind",
        Kind.SERVICE_KIND,
        ("tipo", "tipologia", "tipo di servizio", "kind", "type", "service type"),
        required=True,
    ),
    *DESCRIPTION,
    Field(
        "price_model",
        synonyms=(
            "modello di prezzo",
            "prezzo",
            "tariffa",
            "condizioni economiche",
            "price model",
            "pricing",
            "price",
        ),
    ),
    *_tags(),
)

FIELDS: dict[str, tuple[Field, ...]] = {
    "lab": LAB,
    "competence": COMPETENCE,
    "equipment": EQUIPMENT,
    "service": SERVICE,
}
"""By entity, in the order of an export's columns."""


def field_names(entity: str) -> list[str]:
    return [f.name for f in FIELDS[entity]]
