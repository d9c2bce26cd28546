"""Rows of text as the payloads of the catalogue's input schemas, each problem named by row and
column.

A cell becomes a value by its field's kind (`fields.Kind`): lists split on `|`, `;`, new lines
(or commas when there is no other separator); whole numbers may be written `3,0`; decimals in
Italian (`1.234,50`) or English (`1,234.50`) notation, with or without `€`; yes/no in Italian or
English; taxonomy values as codes or labels; a province as its code or name. The payload is then
validated by the entity's input schema (`LabIn`, `CompetenceIn`, `EquipmentIn`, `ServiceIn`) and
each of its errors becomes a problem on the column it is about. Every problem of a row is
reported; a row with problems has no payload.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Any

from pydantic import BaseModel, ValidationError

from services.catalog import taxonomies
from services.catalog.schemas import CompetenceIn, EquipmentIn, LabIn, ServiceIn
from services.catalog.transfer.fields import FIELDS, Field, Kind
from services.catalog.transfer.mapping import Problem, fold
from services.catalog.transfer.reading import Table

__all__ = ["MODELS", "Converted", "Problem", "convert_rows", "parse_cell"]

MODELS: dict[str, type[BaseModel]] = {
    "lab": LabIn,
    "competence": CompetenceIn,
    "equipment": EquipmentIn,
    "service": ServiceIn,
}
EXTERNAL_ID_MAX = 100
LAB_REF_MAX = 200
LANGUAGE_MAPS = ("name", "title", "description", "booking_conditions")
LANGUAGES = ("it", "en")
MODEL_LEVEL = {"competence": "trl_max"}
"""The field a schema's error about the whole row is shown on (trl_min above trl_max)."""


@dataclass
class Converted:
    row: int
    """The spreadsheet's row number."""
    external_id: str | None
    lab_ref: str | None
    """Of an entry: the lab's external_id or Italian name, as written; None for a lab."""
    payload: dict[str, Any] | None
    """The input schema's JSON body; None when the row has problems."""
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.payload is not None and not self.problems


class _Bad(ValueError):
    """A cell that cannot be read as its field's kind; the message says why."""


# -- cells ----------------------------------------------------------------------------------

_OTHER_SEPARATORS = re.compile(r"[|;\r\n]+")


def _split(text: str) -> list[str]:
    """`a | b`, `a; b`, lines, or `a, b` when there is no other separator; no blanks, no
    repeats."""
    parts = _OTHER_SEPARATORS.split(text) if _OTHER_SEPARATORS.search(text) else text.split(",")
    found: list[str] = []
    for part in parts:
        item = part.strip()
        if item and item not in found:
            found.append(item)
    return found


_WHOLE = re.compile(r"[+-]?\d+(?:[.,]0*)?")


def _integer(text: str) -> int:
    compact = text.replace(" ", "")
    if not _WHOLE.fullmatch(compact):
        raise _Bad(f"{text!r} is not a whole number.")
    return int(re.split(r"[.,]", compact)[0])


_CURRENCY = re.compile(r"€|euro|eur|/\s*(?:h|ora|hour)\b|\s", re.IGNORECASE)
_ITALIAN = re.compile(r"[+-]?\d{1,3}(?:\.\d{3})+,\d+")
_ENGLISH = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+\.\d+")
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:([.,])\d{3})(?:\1\d{3})+")
_SIMPLE = re.compile(r"[+-]?(\d*)(?:[.,](\d+))?")


def _decimal(text: str) -> str:
    """`85`, `85,50`, `85.50`, `1.234,50`, `1,234.50`, `€ 85,50` → `85.50` (as text)."""
    compact = _CURRENCY.sub("", text)
    if _ITALIAN.fullmatch(compact):
        number = compact.replace(".", "").replace(",", ".")
    elif _ENGLISH.fullmatch(compact):
        number = compact.replace(",", "")
    elif _GROUPED.fullmatch(compact):  # 1.234.567 or 1,234,567
        number = compact.replace(".", "").replace(",", "")
    elif (simple := _SIMPLE.fullmatch(compact)) and (simple.group(1) or simple.group(2)):
        whole, fraction = simple.group(1), simple.group(2)
        if fraction is not None and len(fraction) == 3 and whole.lstrip("0"):
            separator = "," if "," in compact else "."
            raise _Bad(
                f"{text!r} is ambiguous (thousands or decimals?): write {whole}{fraction} without "
                f"a thousands separator, or at most two decimals (such as {whole}{separator}50)."
            )
        number = compact.replace(",", ".")
    else:
        raise _Bad(f"{text!r} is not a number (such as 85,50 or 85.50).")
    try:
        return str(Decimal(number))
    except InvalidOperation:
        raise _Bad(f"{text!r} is not a number (such as 85,50 or 85.50).") from None


_TRUE = frozenset({"si", "s", "yes", "y", "true", "vero", "1", "x"})
_FALSE = frozenset({"no", "n", "false", "falso", "0"})


def _boolean(text: str) -> bool:
    folded = fold(text)
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise _Bad(f"{text!r} is not yes or no (write sì or no, yes or no, true or false, 1 or 0).")


# -- taxonomies -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Index:
    codes: dict[str, str]
    """A code in lower case → the code."""
    labels: dict[str, list[str]]
    """A folded label (Italian or English) → the codes that have it."""
    folded: dict[str, tuple[str, ...]]
    """A code → its folded labels."""


@cache
def _index(name: str) -> _Index:
    taxonomy = taxonomies.get(name)
    codes: dict[str, str] = {}
    labels: defaultdict[str, list[str]] = defaultdict(list)
    folded: dict[str, tuple[str, ...]] = {}
    for term in taxonomy.terms.values():
        codes.setdefault(term.code.lower(), term.code)
        folded[term.code] = tuple(fold(label) for label in term.label.values())
        for key in folded[term.code]:
            if key and term.code not in labels[key]:
                labels[key].append(term.code)
    return _Index(codes, dict(labels), folded)


def _code(name: str, value: str) -> str | None:
    taxonomy = taxonomies.get(name)
    return taxonomy.canonical(value) or _index(name).codes.get(value.strip().lower())


_DASHES = "-\u2013\u2014:"  # hyphen, en and em dashes, colon


@lru_cache(maxsize=20_000)
def _term(name: str, value: str) -> str | None:
    """The code of a value written as a code, a label or `code - label`; None when unknown;
    raises _Bad when the label belongs to unrelated codes."""
    code = _code(name, value)
    if code is not None:
        return code
    index = _index(name)
    candidates = index.labels.get(fold(value))
    if candidates:
        if len(candidates) == 1:
            return candidates[0]
        # ATECO repeats a title down a branch (a group with a single class): the deepest.
        taxonomy = taxonomies.get(name)
        deepest = max(candidates, key=lambda c: len(taxonomy.ancestors(c)))
        if all(c in taxonomy.ancestors(deepest) for c in candidates):
            return deepest
        raise _Bad(
            f"{value!r} is the label of several codes of {_title(name)}: "
            f"{', '.join(candidates)}; write the code."
        )
    # `26.51 - Fabbricazione di ...`, `PE1: Mathematics`, `S3-2021.DIG Digitale`.
    for position, char in enumerate(value):
        if not (char.isspace() or char in _DASHES):
            continue
        code = _code(name, value[:position]) if value[:position].strip() else None
        if code is None:
            continue
        between = value[position:]
        rest = between.lstrip(" \t" + _DASHES)
        separated = any(c in _DASHES for c in between[: len(between) - len(rest)])
        start = fold(rest)
        if any(label.startswith(start) for label in index.folded[code]) or (
            separated and not _OTHER_SEPARATORS.search(rest)
        ):
            return code
    return None


def _title(name: str) -> str:
    if name in taxonomies.TITLES:
        return taxonomies.TITLES[name]
    return str(taxonomies.get(name).title.get("en", name))


def _tags(text: str, dimension: str) -> list[str]:
    return list(_cell_tags(text, dimension))


@lru_cache(maxsize=20_000)
def _cell_tags(text: str, dimension: str) -> tuple[str, ...]:
    """The codes of a cell (a file repeats the same few); raises _Bad (not cached)."""
    whole = _term(dimension, text)
    if whole is not None:
        return (whole,)
    codes: list[str] = []
    unknown: list[str] = []
    for value in _split(text):
        code = _term(dimension, value)
        if code is None:
            unknown.append(value)
        elif code not in codes:
            codes.append(code)
    if unknown:
        listed = ", ".join(repr(v) for v in unknown)
        noun = (
            "is neither a code nor a label" if len(unknown) == 1 else "are neither codes nor labels"
        )
        raise _Bad(
            f"{listed} {noun} of {_title(dimension)} (see GET /taxonomies/{dimension} for the "
            "codes)."
        )
    return tuple(codes)


_PROVINCE_ALIASES = {
    "aosta": "AO",
    "valle d aosta": "AO",
    "bolzano": "BZ",
    "bozen": "BZ",
    "alto adige": "BZ",
    "forli": "FC",
    "massa": "MS",
    "monza": "MB",
    "monza brianza": "MB",
    "monza e brianza": "MB",
    "pesaro": "PU",
    "reggio emilia": "RE",
    "reggio di calabria": "RC",
    "spezia": "SP",
    "aquila": "AQ",
    "bat": "BT",
}


@cache
def _provinces() -> dict[str, str]:
    """Folded names (each part of `Bolzano/Bozen` too) → code."""
    found: dict[str, str] = {}
    for term in taxonomies.get("provinces").terms.values():
        label = term.label["it"]
        for name in (label, *label.split("/")):
            found.setdefault(fold(name), term.code)
    for alias, code in _PROVINCE_ALIASES.items():
        found.setdefault(alias, code)
    return found


def _province(text: str) -> str:
    code = taxonomies.get("provinces").canonical(text) if len(text.strip()) == 2 else None
    code = code or _provinces().get(fold(text))
    if code is None:
        raise _Bad(
            f"{text!r} is neither the two-letter code (such as LU) nor the name of an Italian "
            "province."
        )
    return code


@cache
def _service_kinds() -> dict[str, str]:
    found: dict[str, str] = {}
    for term in taxonomies.get("service_kinds").terms.values():
        for key in (term.code, *term.label.values()):
            found.setdefault(fold(key), term.code)
    return found


def _service_kind(text: str) -> str:
    code = _service_kinds().get(fold(text))
    if code is None:
        kinds = "; ".join(
            f"{term.code} ({term.label['it']})"
            for term in taxonomies.get("service_kinds").terms.values()
        )
        raise _Bad(f"{text!r} is not a kind of service: write one of {kinds}.")
    return code


_PARSERS: dict[Kind, Callable[[str, Field], Any]] = {
    Kind.TEXT: lambda text, _: text,
    Kind.LIST: lambda text, _: _split(text),
    Kind.INTEGER: lambda text, _: _integer(text),
    Kind.DECIMAL: lambda text, _: _decimal(text),
    Kind.BOOLEAN: lambda text, _: _boolean(text),
    Kind.TAGS: lambda text, f: _tags(text, f.dimension or ""),
    Kind.PROVINCE: lambda text, _: _province(text),
    Kind.SERVICE_KIND: lambda text, _: _service_kind(text),
}


def parse_cell(f: Field, text: str) -> Any:
    """The value of a (non-empty, stripped) cell of field `f`; raises ValueError naming the
    problem."""
    return _PARSERS[f.kind](text, f)


# -- schema errors --------------------------------------------------------------------------


def _error_field(entity: str, loc: Sequence[int | str], mapping: Mapping[str, str]) -> str | None:
    """The field (flat name) a schema error is about, e.g. ("name", "it") → name_it."""
    if not loc:
        return MODEL_LEVEL.get(entity)
    top = str(loc[0])
    if top in LANGUAGE_MAPS:
        if len(loc) > 1 and loc[1] in LANGUAGES:
            return f"{top}_{loc[1]}"
        mapped = set(mapping.values())
        return next((f"{top}_{lang}" for lang in LANGUAGES if f"{top}_{lang}" in mapped), None)
    if top == "tags" and len(loc) > 1:
        return f"tags_{loc[1]}"
    return top


_READABLE = (
    ("Value error, ", ""),
    ("Assertion failed, ", ""),
    ("Input should be", "The value should be"),
    ("String should", "The text should"),
    ("List should", "The list should"),
    ("Decimal input should", "The number should"),
    (" after validation", ""),
)


def _sentence(message: str) -> str:
    for old, new in _READABLE:
        message = message.replace(old, new)
    message = message.strip()
    if not message:
        return "The value is not valid."
    first = message.split(" ", 1)[0]
    if first.isalpha() and first.islower():  # not a field's name (trl_max) or a code
        message = message[0].upper() + message[1:]
    return message if message.endswith(".") else message + "."


def _schema_message(error: Mapping[str, Any], name: str | None, has_column: bool) -> str:
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "missing":
        top = str(loc[0]) if loc else ""
        if top in LANGUAGE_MAPS:
            return f"A {top} is required, in Italian ({top}_it), English ({top}_en) or both: " + (
                "this cell is empty." if has_column else "no column holds it."
            )
        what = name or top
        return f"The field {what!r} is required: " + (
            "this cell is empty." if has_column else "no column holds it."
        )
    message = _sentence(str(error.get("msg", "")))
    items = [part for part in loc[1:] if isinstance(part, int)]
    if items:
        message = f"Item {items[0] + 1}: {message}"
    return message


# -- rows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    index: int
    header: str
    field: Field


def _columns(entity: str, table: Table, mapping: Mapping[str, str]) -> list[_Column]:
    by_name = {f.name: f for f in FIELDS[entity]}
    position = {header: index for index, header in enumerate(table.headers) if header}
    columns = []
    for header, name in mapping.items():
        if not name:
            continue
        if name not in by_name:
            raise ValueError(f"{name!r} is not a field of a {entity}")
        if header not in position:
            raise ValueError(f"{header!r} is not a column of the table")
        columns.append(_Column(position[header], header, by_name[name]))
    return sorted(columns, key=lambda c: c.index)


def convert_rows(entity: str, table: Table, mapping: Mapping[str, str]) -> list[Converted]:
    """Each row of `table` read with `mapping` (header → field, as `resolve_mapping` gives), in
    the table's order. A CSV row with more cells than the header is a problem (its columns are
    likely shifted); two rows with one external_id are the caller's to report."""
    if entity not in MODELS:
        raise ValueError(f"unknown entity {entity!r}: one of {', '.join(MODELS)}")
    columns = _columns(entity, table, mapping)
    column_of = {c.field.name: c for c in columns}
    converted = []
    for row in table.rows:
        result = _convert(entity, row.number, row.cells, columns, column_of, mapping)
        if row.extra and table.separator is not None:
            result.problems.insert(0, _overflow(row.number, row.extra, table))
            result.payload = None
        converted.append(result)
    return converted


def _overflow(number: int, extra: Sequence[str], table: Table) -> Problem:
    """A CSV row longer than its header: its columns are probably shifted."""
    separator = {"\t": "tab"}.get(table.separator or "", table.separator)
    noun = "cell" if len(extra) == 1 else "cells"
    return Problem(
        number,
        None,
        " | ".join(extra),
        f"The row has {len(extra)} more {noun} than the header has columns, so its values may "
        f"be in the wrong columns: is there a {separator!r} in a cell without quotes around "
        "the cell?",
    )


GUARDED = ("'=", "'+", "'-", "'@", "'\t", "'\r")


def unguarded(text: str) -> str:
    """A cell as it was before an export guarded it against formula injection (a `'` before
    a leading =, +, -, @, tab or CR; transfer/exporting.py)."""
    return text[1:] if text.startswith(GUARDED) else text


def _convert(
    entity: str,
    number: int,
    cells: Sequence[str],
    columns: Sequence[_Column],
    column_of: Mapping[str, _Column],
    mapping: Mapping[str, str],
) -> Converted:
    problems: list[Problem] = []
    failed: set[str] = set()
    values: dict[str, Any] = {}
    texts: dict[str, str] = {}

    def problem(name: str | None, message: str) -> None:
        column = column_of.get(name) if name else None
        header = column.header if column else None
        value = texts.get(name, "") if name else None
        problems.append(Problem(number, header, value if header else None, message))
        if name:
            failed.add(name)

    for column in columns:
        text = unguarded(cells[column.index].strip() if column.index < len(cells) else "")
        name = column.field.name
        texts[name] = text
        if not text or name in ("external_id", "lab"):
            continue
        try:
            value = parse_cell(column.field, text)
        except ValueError as exc:
            problem(name, str(exc))
            continue
        if value != []:
            values[name] = value

    external_id = texts.get("external_id") or None
    if external_id is None:
        problem(
            "external_id",
            "The identifier (external_id) is required: " + _why("external_id", column_of),
        )
    elif len(external_id) > EXTERNAL_ID_MAX:
        problem(
            "external_id",
            f"The identifier is {len(external_id)} characters long: at most {EXTERNAL_ID_MAX}.",
        )
    lab_ref = None
    if entity != "lab":
        lab_ref = texts.get("lab") or None
        if lab_ref is None:
            problem(
                "lab",
                "The lab (its external_id or Italian name) is required: " + _why("lab", column_of),
            )
        elif len(lab_ref) > LAB_REF_MAX:
            problem(
                "lab",
                f"The lab reference is {len(lab_ref)} characters long: at most {LAB_REF_MAX}.",
            )

    payload = _payload(values)
    try:
        MODELS[entity].model_validate(payload)
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_context=False, include_input=False):
            about = _error_field(entity, error["loc"], mapping)
            if about is not None and about in failed:
                continue  # already reported, as the cell could not be read
            problem(about, _schema_message(error, about, about in column_of))

    if entity == "lab" and not failed & {"province", "municipality"}:
        province, municipality = values.get("province"), values.get("municipality")
        if province and municipality:
            try:
                taxonomies.check_location(province, municipality)
            except taxonomies.InvalidLocation as exc:
                problem(exc.field, _sentence(exc.message))

    order = {c.header: c.index for c in columns}
    problems.sort(key=lambda p: -1 if p.column is None else order.get(p.column, -1))
    return Converted(
        row=number,
        external_id=external_id,
        lab_ref=lab_ref,
        payload=None if problems else payload,
        problems=problems,
    )


def _why(name: str, column_of: Mapping[str, _Column]) -> str:
    return "this cell is empty." if name in column_of else "no column holds it."


def _payload(values: Mapping[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    tags: dict[str, list[str]] = {}
    for name, value in values.items():
        base, _, language = name.rpartition("_")
        if base in LANGUAGE_MAPS and language in LANGUAGES:
            payload.setdefault(base, {})[language] = value
        elif name.startswith("tags_"):
            tags[name.removeprefix("tags_")] = value
        elif name not in ("external_id", "lab"):
            payload[name] = value
    for base in LANGUAGE_MAPS:  # Italian first, as people read them
        if base in payload:
            payload[base] = {
                lang: payload[base][lang] for lang in LANGUAGES if lang in payload[base]
            }
    if tags:
        payload["tags"] = {d: tags[d] for d in taxonomies.TAG_DIMENSIONS if d in tags}
    return payload
