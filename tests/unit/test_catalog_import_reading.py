"""Catalogue import: CSV and XLSX files read as a header and rows of text."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

import openpyxl
import pytest

from services.catalog.transfer import reading
from services.catalog.transfer.reading import UnreadableFile, read_table

ITALIAN_HEADER = (
    "Codice;Laboratorio;Nome;Descrizione;Produttore;Modello;Anno;Condivisibile;"
    "Tariffa oraria (€/h);Codice ATECO"
)
ITALIAN_ROW = (
    "EQ-1;LAB-1;Microscopio elettronico;Qualità dei materiali: è già usato;Zeiss;Sigma 300;"
    "2019;sì;€ 85,50;26.51"
)


def windows_1252_file() -> bytes:
    return f"{ITALIAN_HEADER}\r\n{ITALIAN_ROW}\r\n".encode("cp1252")


def xlsx(*sheets: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    for index, rows in enumerate(sheets):
        sheet = workbook.active if index == 0 else workbook.create_sheet(f"Sheet{index + 1}")
        assert sheet is not None
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_windows_1252_with_semicolons_and_accents() -> None:
    table = read_table(windows_1252_file(), "attrezzature.csv", "text/csv")
    assert table.encoding == "cp1252" and table.separator == ";"
    assert table.headers[8] == "Tariffa oraria (€/h)" and len(table.headers) == 10
    (row,) = table.rows
    assert row.number == 2
    assert row.cells[3] == "Qualità dei materiali: è già usato"
    assert row.cells[7] == "sì" and row.cells[8] == "€ 85,50"


def test_bytes_windows_1252_leaves_undefined_are_read_as_latin_1() -> None:
    content = "Codice;Nome\r\nA1;Caff".encode("cp1252") + b"\xe8 \x81\r\n"
    table = read_table(content)
    assert table.encoding == "cp1252"
    assert table.rows[0].cells == ["A1", "Caffè \x81"]


def test_utf8_with_bom_commas_quotes_and_numbering() -> None:
    text = (
        "\ufeff Codice , Nome ,Parole chiave,,\n"
        'C1,"Prove, analisi; misure","uno\ndue"\n'
        ",,,,\n"
        "\n"
        "C2,Solo due\n"
        "C3,Tre,tre,extra,ignored\n"
    )
    table = read_table(text.encode("utf-8"))
    assert table.encoding == "utf-8-sig" and table.separator == ","
    assert table.headers == ["Codice", "Nome", "Parole chiave"]  # trailing empty ones dropped
    assert [row.number for row in table.rows] == [2, 5, 6]  # rows 3 and 4 are empty
    assert table.rows[0].cells == ["C1", "Prove, analisi; misure", "uno\ndue"]
    assert table.rows[1].cells == ["C2", "Solo due", ""]  # padded
    assert table.rows[2].cells == ["C3", "Tre", "tre"]  # truncated
    assert table.rows[2].extra == ["extra", "ignored"] and table.rows[1].extra == []


def test_plain_utf8_tab_separated() -> None:
    table = read_table("Código\tName\nX\tÄrger\n".encode())
    assert table.encoding == "utf-8" and table.separator == "\t"
    assert table.headers == ["Código", "Name"] and table.rows[0].cells == ["X", "Ärger"]


def test_separator_counted_outside_quotes() -> None:
    table = read_table(b'"Nome; breve",Codice,Anno\n"a;b",C1,2020\n')
    assert table.separator == "," and table.headers == ["Nome; breve", "Codice", "Anno"]


def test_a_title_row_above_the_header_is_skipped() -> None:
    table = read_table(b"Elenco attrezzature 2024;;\n;;\nCodice;Nome;Anno\nE1;Forno;2020\n")
    assert table.headers == ["Codice", "Nome", "Anno"]
    assert table.rows[0].number == 4 and table.rows[0].cells == ["E1", "Forno", "2020"]


def test_xlsx_cells_as_text() -> None:
    content = xlsx(
        [],  # an empty first sheet: the first one with something in it is read
        [
            ["Codice", "Anno", "Tariffa", "Condivisibile", "Note", "Data", "Intero"],
            ["E1", 2019, 85.5, True, None, date(2024, 3, 1), 12.0],
            [None, None, None, None, None, None, None],
            ["E2", 2020, 0.1 + 0.2, False, "  testo  ", datetime(2024, 3, 1, 9, 30), 7],
        ],
    )
    table = read_table(content, "catalogo.xlsx")
    assert table.encoding == "xlsx" and table.separator is None
    assert table.headers == ["Codice", "Anno", "Tariffa", "Condivisibile", "Note", "Data", "Intero"]
    assert [row.number for row in table.rows] == [2, 4]
    assert table.rows[0].cells == ["E1", "2019", "85.5", "true", "", "2024-03-01", "12"]
    assert table.rows[1].cells == [
        "E2",
        "2020",
        "0.3",
        "false",
        "testo",
        "2024-03-01 09:30:00",
        "7",
    ]


def test_xlsx_is_found_by_content_whatever_its_name() -> None:
    table = read_table(xlsx([["Codice"], ["X"]]), "export.bin", "application/octet-stream")
    assert table.encoding == "xlsx" and table.rows[0].cells == ["X"]


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "filename", "expected"),
    [
        (b"", None, "empty"),
        (b"  \r\n\r\n", "a.csv", "empty"),
        (b";;;\r\n;;\r\n", "a.csv", "no header"),
        (b"Nome;Codice;nome \r\nx;y;z\r\n", "a.csv", "'nome' and 'Nome' twice"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "catalogo.pdf", "PDF"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(200), "catalogo.xls", ".xlsx or .csv"),
        (bytes(range(256)) * 20, "dump.bin", "binary"),
        (b"PK\x03\x04" + b"\x00garbage" * 50, "catalogo.xlsx", "damaged"),
        (_zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"}), "a.ods", "OpenDoc"),
        (b"Codice;Nome\r\nA;B\r\n", "catalogo.xlsx", "not an Excel workbook"),
        (b"<html><body><table><tr><td>x</td></tr></table>", "a.htm", "HTML"),
        (b"Codice\tNome\nA\tB\n", "catalogo.ods", "A .ods file cannot be read"),
        ("Codice,Nome\n".encode("utf-16"), "a.csv", "UTF-16"),
    ],
)
def test_unreadable_files_say_why(content: bytes, filename: str | None, expected: str) -> None:
    with pytest.raises(UnreadableFile) as raised:
        read_table(content, filename)
    assert isinstance(raised.value, ValueError)
    assert expected in str(raised.value)


def test_corrupt_workbook_inside_a_valid_zip() -> None:
    content = _zip({"xl/workbook.xml": b"<not-xml", "[Content_Types].xml": b"<x/>"})
    with pytest.raises(UnreadableFile, match="damaged"):
        read_table(content, "a.xlsx")


def test_too_many_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "MAX_ROWS", 10)
    content = "Codice\n" + "".join(f"R{i}\n" for i in range(10))
    assert len(read_table(content.encode()).rows) == 10
    with pytest.raises(UnreadableFile, match="more than 10 rows"):
        read_table((content + "R10\n").encode())


def test_too_many_columns() -> None:
    header = ";".join(f"C{i}" for i in range(201))
    with pytest.raises(UnreadableFile, match="201 columns"):
        read_table(f"{header}\n".encode())
    assert len(read_table(header.rsplit(";", 1)[0].encode()).headers) == 200


def test_ten_thousand_rows_are_read() -> None:
    content = (
        ITALIAN_HEADER
        + "\r\n"
        + "\r\n".join(ITALIAN_ROW.replace("EQ-1", f"EQ-{i}") for i in range(10_000))
    ).encode("cp1252")
    table = read_table(content, "big.csv")
    assert len(table.rows) == 10_000 and table.rows[-1].number == 10_001
    assert table.rows[-1].cells[0] == "EQ-9999"
