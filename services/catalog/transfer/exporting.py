"""The published catalogue as export files: one record per row, keyed by the field names of
`fields.FIELDS[entity]`, written as CSV (one entity per file) or XLSX (one sheet per entity).

The columns are the import's field names in the same order, so an exported file imports again
unchanged. A record holds typed values: text (`str | None`), lists of text (lists, tags by
dimension), `Decimal` (tariff), `int` (year, TRL), `bool` (shareable).

Formula injection (OWASP "CSV injection"): a text cell that starts with `=`, `+`, `-`, `@`, a tab
or a carriage return would be run as a formula by a spreadsheet. In CSV such a cell gets a
leading apostrophe (the import drops it again); in XLSX it is stored as text, never as a formula,
with Excel's "quote prefix" flag (what Excel itself does for text typed after an apostrophe), so
the value stays unchanged. Numbers, booleans and decimals are never text, so never touched.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from services.catalog.models import Lab
from services.catalog.transfer.fields import FIELDS, Field, Kind

Locale = Literal["it", "en"]

LIST_SEPARATOR = " | "
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
SHEETS = {
    "lab": "Laboratori",
    "competence": "Competenze",
    "equipment": "Attrezzature",
    "service": "Servizi",
}
"""Entity → worksheet name, in the order of the sheets of a workbook."""

DECIMAL_FORMAT = "0.00"
MIN_WIDTH = 8
MAX_WIDTH = 60
SAMPLED_ROWS = 500
"""Column widths are measured on the header and the first rows."""

_LANGUAGES = ("_it", "_en")


# -- records ----------------------------------------------------------------------------------


def external_id(row: Any) -> str:
    """The centre's own identifier of a row, or its CLOCK id when it has none."""
    value = getattr(row, "external_id", None)
    return str(value) if value else str(row.id)


def lab_record(lab: Lab) -> dict[str, Any]:
    """A lab as a row of an export, keyed by `field_names("lab")`."""
    return {f.name: _value(lab, f, lab) for f in FIELDS["lab"]}


def entry_record(entity: str, entry: Any, lab: Lab) -> dict[str, Any]:
    """A competence, equipment or service offering (`entity`) of `lab` as a row of an export,
    keyed by `field_names(entity)`."""
    return {f.name: _value(entry, f, lab) for f in FIELDS[entity]}


def _value(row: Any, field: Field, lab: Lab) -> Any:
    name = field.name
    if name == "external_id":
        return external_id(row)
    if name == "lab":
        return external_id(lab)
    if field.kind is Kind.TAGS:
        tags = getattr(row, "tags", None) or {}
        return [str(code) for code in tags.get(field.dimension, [])]
    if name[-3:] in _LANGUAGES and not hasattr(row, name):
        texts = getattr(row, name[:-3], None) or {}
        return texts.get(name[-2:]) or None
    value = getattr(row, name, None)
    if field.kind is Kind.LIST:
        return [str(v) for v in value or []]
    if value is None:
        return None
    if field.kind is Kind.DECIMAL:
        return Decimal(str(value))
    if field.kind is Kind.INTEGER:
        return int(value)
    if field.kind is Kind.BOOLEAN:
        return bool(value)
    text = str(value)
    return text or None


# -- CSV ----------------------------------------------------------------------------------------


def _guard(text: str) -> str:
    """A leading apostrophe for text a spreadsheet would take for a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _csv_formatter(kind: Kind, locale: Locale) -> Callable[[Any], str]:
    yes, no = ("sì", "no") if locale == "it" else ("yes", "no")
    comma = locale == "it"

    def text(value: Any) -> str:
        return "" if value is None else _guard(str(value))

    def listed(value: Any) -> str:
        if not value:
            return ""
        if isinstance(value, str):
            return _guard(value)
        return _guard(LIST_SEPARATOR.join(str(v) for v in value))

    def decimal(value: Any) -> str:
        if value is None or value == "":
            return ""
        formatted = f"{Decimal(str(value)):.2f}"
        return formatted.replace(".", ",") if comma else formatted

    def integer(value: Any) -> str:
        return "" if value is None or value == "" else str(int(value))

    def boolean(value: Any) -> str:
        return "" if value is None else (yes if value else no)

    if kind in (Kind.LIST, Kind.TAGS):
        return listed
    if kind is Kind.DECIMAL:
        return decimal
    if kind is Kind.INTEGER:
        return integer
    if kind is Kind.BOOLEAN:
        return boolean
    return text


def to_csv(entity: str, records: Iterable[Mapping[str, Any]], *, locale: Locale = "it") -> bytes:
    """Records of `entity` as CSV, the header being the field names in export order.

    `it`: UTF-8 with BOM, `;`, decimal comma (`85,50`), `sì`/`no` (what Excel opens right in an
    Italian office); `en`: UTF-8, `,`, `85.50`, `yes`/`no`. Lists are joined with ` | `; cells
    with separators, quotes or new lines are quoted.
    """
    if locale not in ("it", "en"):
        raise ValueError(f"unknown locale {locale!r}: it or en")
    fields = FIELDS[entity]
    names = [f.name for f in fields]
    formatters = [_csv_formatter(f.kind, locale) for f in fields]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";" if locale == "it" else ",", lineterminator="\r\n")
    writer.writerow(names)
    writer.writerows(
        [fmt(record.get(name)) for name, fmt in zip(names, formatters, strict=True)]
        for record in records
    )
    return out.getvalue().encode("utf-8-sig" if locale == "it" else "utf-8")


# -- XLSX ---------------------------------------------------------------------------------------


def to_xlsx(sheets: Mapping[str, Sequence[Mapping[str, Any]]]) -> bytes:
    """Records by entity as an XLSX workbook: one worksheet per entity given (`lab`,
    `competence`, `equipment`, `service`, in that order, named as in `SHEETS`), the header row
    bold and frozen, typed cells (numbers, decimals with two decimals, TRUE/FALSE), lists joined
    with ` | `."""
    unknown = sorted(set(sheets) - set(SHEETS))
    if unknown:
        raise ValueError(f"unknown entities: {', '.join(unknown)}")
    if not sheets:
        raise ValueError("no entity to export")
    workbook = Workbook(write_only=True)
    for entity, title in SHEETS.items():
        if entity in sheets:
            _write_sheet(workbook.create_sheet(title), entity, sheets[entity])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _xlsx_text(text: str) -> str | None:
    """Text without the control characters a worksheet cannot hold (openpyxl refuses them)."""
    return ILLEGAL_CHARACTERS_RE.sub("", text) or None


def _xlsx_value(kind: Kind, value: Any) -> Any:
    if value is None or value == "":
        return None
    if kind in (Kind.LIST, Kind.TAGS):
        if isinstance(value, str):
            return _xlsx_text(value)
        return _xlsx_text(LIST_SEPARATOR.join(str(v) for v in value))
    if kind is Kind.DECIMAL:
        return Decimal(str(value))
    if kind is Kind.INTEGER:
        return int(value)
    if kind is Kind.BOOLEAN:
        return bool(value)
    return _xlsx_text(str(value))


def _width(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, Decimal):
        return len(f"{value:.2f}")
    if isinstance(value, bool):
        return 5
    text = str(value)
    return max(len(line) for line in text.splitlines()) if "\n" in text else len(text)


def _write_sheet(sheet: Any, entity: str, records: Sequence[Mapping[str, Any]]) -> None:
    fields = FIELDS[entity]
    names = [f.name for f in fields]
    kinds = [f.kind for f in fields]
    rows = [
        [_xlsx_value(kind, record.get(name)) for name, kind in zip(names, kinds, strict=True)]
        for record in records
    ]

    # Write-only sheets take their column widths and panes before the first row.
    for index, name in enumerate(names):
        measured = max((_width(row[index]) for row in rows[:SAMPLED_ROWS]), default=0)
        width = min(MAX_WIDTH, max(MIN_WIDTH, len(name), measured) + 2)
        sheet.column_dimensions[get_column_letter(index + 1)].width = width
    sheet.freeze_panes = "A2"

    bold = Font(bold=True)
    header = []
    for name in names:
        cell = WriteOnlyCell(sheet, name)
        cell.font = bold
        header.append(cell)
    sheet.append(header)

    for row in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in row])


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    if isinstance(value, str):
        if value.startswith(FORMULA_PREFIXES):
            cell = WriteOnlyCell(sheet, value)
            cell.data_type = "s"  # text, not the formula openpyxl makes of "=..."
            cell.quotePrefix = True
            return cell
        return value
    if isinstance(value, Decimal):
        cell = WriteOnlyCell(sheet, value)
        cell.number_format = DECIMAL_FORMAT
        return cell
    return value
