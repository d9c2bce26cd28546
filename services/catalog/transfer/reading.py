"""A CSV or XLSX file as a header and rows of text.

CSV: UTF-8 with a BOM, UTF-8, or else Windows-1252 (what Excel writes in Italy); the separator
(`;`, `,` or a tab) is the one the header line uses most, outside quotes. XLSX: the first
worksheet that has something in it, numbers written plainly (`12`, `85.5`), dates as ISO
(`2024-03-01`), booleans as `true`/`false`. Rows keep their number in the spreadsheet (the header
is row 1 when it is the first line); empty rows are skipped; blanks around cells are stripped.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import math
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from services.catalog.transfer.mapping import fold

MAX_ROWS = 50_000
"""Data rows in one file at most."""
MAX_COLUMNS = 200
TITLE_ROWS = 5
"""Rows of a single cell (titles) that may come before the header."""

XLSX_TYPES = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-excel.sheet.macroenabled.12",
    }
)
SAVE_AS = "save it as .xlsx or .csv"

_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SEPARATORS = (";", "\t", ",")
"""In order of preference when the header has as many of two."""


class UnreadableFile(ValueError):
    """The file is not a CSV or XLSX table this import can read; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Row:
    number: int
    """The row's number in the spreadsheet (the header's is 1 when it is the first row)."""
    cells: list[str]
    """One text per header, stripped ("" for an empty cell)."""
    extra: list[str] = field(default_factory=list)
    """Cells with something in them beyond the header's last column (in a CSV file, often a
    separator in a cell without quotes)."""


@dataclass
class Table:
    headers: list[str]
    rows: list[Row] = field(default_factory=list)
    encoding: str = "utf-8"
    """`utf-8`, `utf-8-sig` (with a BOM), `cp1252` or `xlsx`."""
    separator: str | None = None
    """Of a CSV file; None for XLSX."""


def read_table(
    content: bytes, filename: str | None = None, content_type: str | None = None
) -> Table:
    """The table in `content`; raises UnreadableFile."""
    if not content.strip(b" \t\r\n\x00\xef\xbb\xbf"):
        raise UnreadableFile("The file is empty.")
    name = (filename or "").lower().strip()
    kind = (content_type or "").split(";")[0].strip().lower()
    if content.startswith(_OLE):
        raise UnreadableFile(
            "This is an old Excel workbook (.xls) or a password-protected one, which cannot be "
            f"read: {SAVE_AS} (without a password)."
        )
    if content.startswith(b"%PDF"):
        raise UnreadableFile(f"This is a PDF document, not a spreadsheet: {SAVE_AS}.")
    if content.startswith(_ZIP):
        return _read_xlsx(content)
    if name.endswith((".xlsx", ".xlsm")) or kind in XLSX_TYPES:
        raise UnreadableFile(
            "The file is named or sent as XLSX but is not an Excel workbook (an XLSX file is a "
            f"ZIP archive): {SAVE_AS} again."
        )
    if name.endswith((".xls", ".ods", ".numbers")):
        raise UnreadableFile(f"A .{name.rsplit('.', 1)[1]} file cannot be read: {SAVE_AS}.")
    return _read_csv(content)


# -- CSV ------------------------------------------------------------------------------------

_CP1252_TABLE = "".join(
    bytes([b]).decode("cp1252", errors="replace").replace("\ufffd", chr(b)) for b in range(256)
)
"""Windows-1252, with its five undefined bytes read as Latin-1."""


def _decode(content: bytes) -> tuple[str, str]:
    if content.startswith(codecs.BOM_UTF8):
        try:
            return content[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise UnreadableFile(
                f"The file starts as UTF-8 but has bytes that are not UTF-8 (at byte "
                f"{exc.start + 3}): save it again as CSV UTF-8."
            ) from None
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (
        b"\x00" in content[:4096] and content[:4096].count(b"\x00") > 8
    ):
        raise UnreadableFile(
            "This is not a CSV text file (it looks like UTF-16 text or binary data): "
            f"{SAVE_AS}, CSV in UTF-8."
        )
    try:
        return content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    text, _ = codecs.charmap_decode(content, "strict", _CP1252_TABLE)
    return text, "cp1252"


def _looks_binary(text: str) -> bool:
    sample = text[:8192]
    controls = sum(1 for c in sample if c < " " and c not in "\t\r\n\f\v")
    return "\x00" in sample or controls > max(2, len(sample) // 100)


def _separator(text: str) -> str:
    """The separator the header line (up to its first line break outside quotes) uses most."""
    counts = dict.fromkeys(_SEPARATORS, 0)
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char in "\r\n":
            if any(counts.values()):
                break
        elif char in counts:
            counts[char] += 1
    return max(_SEPARATORS, key=lambda s: counts[s])  # the first of the most frequent


def _read_csv(content: bytes) -> Table:
    text, encoding = _decode(content)
    head = text[:1024].lstrip().lower()
    if head.startswith("<") and any(tag in head for tag in ("<html", "<?xml", "<table")):
        raise UnreadableFile(f"This is an HTML or XML document, not a CSV or XLSX file: {SAVE_AS}.")
    if _looks_binary(text):
        raise UnreadableFile(f"This is not a CSV or XLSX file (it holds binary data): {SAVE_AS}.")
    separator = _separator(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, quotechar='"')
    try:
        table = _table(enumerate(reader, start=1), encoding, separator)
    except csv.Error as exc:
        raise UnreadableFile(f"The CSV file cannot be read: {exc}.") from None
    if table is None:
        raise UnreadableFile("The file has no header row: it is empty.")
    return table


# -- XLSX -----------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A cell's value as text: 12, 85.5, 2024-03-01, true."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        # Excel keeps 15 significant digits: 0.1 + 0.2 reads 0.3, as the cell shows it.
        return format(Decimal(format(value, ".15g")).normalize(), "f")
    if isinstance(value, datetime):
        if value.time() == time(0, 0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def _read_xlsx(content: bytes) -> Table:
    import openpyxl  # only XLSX files need it

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" not in names:
                hint = (
                    " (an OpenDocument spreadsheet?)"
                    if "mimetype" in names or "content.xml" in names
                    else ""
                )
                raise UnreadableFile(f"This ZIP archive is not an Excel workbook{hint}: {SAVE_AS}.")
    except zipfile.BadZipFile:
        raise UnreadableFile(
            f"The XLSX file is damaged (its ZIP archive cannot be opened): {SAVE_AS} again."
        ) from None
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises whatever its parsers meet
        raise UnreadableFile(
            f"The XLSX file is damaged and cannot be read ({type(exc).__name__}): {SAVE_AS} again."
        ) from None
    try:
        for sheet in workbook.worksheets:
            sheet.reset_dimensions()  # some writers record wrong dimensions
            values = enumerate(sheet.iter_rows(values_only=True), start=1)
            table = _table(((n, [_text(v) for v in row]) for n, row in values), "xlsx", None)
            if table is not None:
                return table
    except UnreadableFile:
        raise
    except Exception as exc:
        raise UnreadableFile(
            f"The XLSX file is damaged and cannot be read ({type(exc).__name__}): {SAVE_AS} again."
        ) from None
    finally:
        workbook.close()
    raise UnreadableFile("The workbook is empty: no worksheet has anything in it.")


# -- both -----------------------------------------------------------------------------------


def _stripped(cells: Sequence[str]) -> list[str]:
    return [c.strip() for c in cells]


def _headers(cells: list[str], number: int) -> list[str]:
    while cells and not cells[-1]:
        cells.pop()
    if len(cells) > MAX_COLUMNS:
        raise UnreadableFile(
            f"The header (row {number}) has {len(cells)} columns: at most {MAX_COLUMNS} are read."
        )
    seen: dict[str, str] = {}
    for header in cells:
        if not header:
            continue
        key = fold(header) or header
        if key in seen:
            same = "" if seen[key] == header else f" and {seen[key]!r}"
            raise UnreadableFile(
                f"The header (row {number}) has the column {header!r}{same} twice: give each "
                "column its own name."
            )
        seen[key] = header
    return cells


def _table(
    rows: Iterable[tuple[int, Sequence[str]]], encoding: str, separator: str | None
) -> Table | None:
    """The header and the rows after it; None when every row is empty. The header is the first
    row with something in it, unless that row has a single cell (a title, such as `Elenco
    attrezzature 2024`) and one of the next few rows has more: that row is the header."""
    remaining = iter(rows)
    first: list[tuple[int, list[str]]] = []
    for number, raw in remaining:
        cells = _stripped(raw)
        filled = sum(1 for c in cells if c)
        if filled:
            first.append((number, cells))
            if filled > 1 or len(first) > TITLE_ROWS:
                break
    if not first:
        return None
    if sum(1 for c in first[-1][1] if c) > 1:
        (number, cells), pending = first[-1], []
    else:
        (number, cells), pending = first[0], first[1:]
    headers = _headers(cells, number)
    width = len(headers)
    data: list[Row] = []
    for number, raw in itertools.chain(pending, remaining):
        cells = [c.strip() for c in raw[:width]]
        if not any(cells):  # notes on the right of an empty row too
            continue
        extra = [c.strip() for c in raw[width:] if c.strip()] if len(raw) > width else []
        if len(cells) < width:
            cells.extend([""] * (width - len(cells)))
        if len(data) == MAX_ROWS:
            raise UnreadableFile(
                f"The file has more than {MAX_ROWS} rows: split it into smaller files."
            )
        data.append(Row(number, cells, extra))
    return Table(headers, data, encoding, separator)
