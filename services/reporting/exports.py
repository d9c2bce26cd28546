"""Exports of an issued report: CSV (one row per KPI item), XLSX (a sheet of totals with the
comparison, then one sheet per dimension) and PDF (title, period, hash, a chart, the tables)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from services.reporting.kpis import BY_NAME

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADERS = ("kpi", "title", "unit", "period", "dimension", "key", "label", "value")


def _number(value: Any) -> Any:
    """Decimal strings as numbers for spreadsheets; None stays empty."""
    if isinstance(value, str):
        try:
            return float(Decimal(value))
        except ArithmeticError:
            return value
    return value


def _title(kpi: str) -> str:
    return BY_NAME[kpi].title if kpi in BY_NAME else kpi


def _unit(kpi: str) -> str:
    return BY_NAME[kpi].unit if kpi in BY_NAME else ""


def _label(item: Mapping[str, Any], names: Mapping[str, str]) -> str:
    key = item["key"] or ""
    return names.get(key, key) if item["dimension"] == "centre" else key


def csv_bytes(
    summary: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
    names: Mapping[str, str] | None = None,
) -> bytes:
    names = names or {}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADERS)
    for item in items:
        writer.writerow(
            (
                item["kpi"],
                _title(item["kpi"]),
                _unit(item["kpi"]),
                item["period"],
                item["dimension"] or "",
                item["key"] or "",
                _label(item, names),
                "" if item["value"] is None else item["value"],
            )
        )
    return out.getvalue().encode("utf-8")


def xlsx_bytes(
    summary: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
    comparison: Sequence[Mapping[str, Any]],
    names: Mapping[str, str] | None = None,
) -> bytes:
    from datetime import datetime

    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    bold = Font(bold=True)
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "totals"
    generated = datetime.fromisoformat(str(summary["generated_at"]).replace("Z", "+00:00"))
    meta = (
        ("Report", f"CLOCK report n. {summary['number']} (version {summary['version']})"),
        ("Period", summary["period"]),
        ("Generated at (UTC)", generated.replace(tzinfo=None)),
        ("SHA-256", summary["hash"]),
        ("Provisional", "yes" if summary["provisional"] else "no"),
    )
    for label, value in meta:
        sheet.append([label, value])
        sheet.cell(sheet.max_row, 1).font = bold
    sheet.cell(3, 2).number_format = "yyyy-mm-dd hh:mm:ss"
    sheet.append([])
    header = ["kpi", "title", "unit", "value", "previous", "change", "change %"]
    sheet.append(header)
    for cell in sheet[sheet.max_row]:
        cell.font = bold
    for row in comparison:
        sheet.append(
            [
                row["kpi"],
                _title(row["kpi"]),
                _unit(row["kpi"]),
                _number(row["current"]),
                _number(row["previous"]),
                _number(row["change"]),
                _number(row["change_pct"]),
            ]
        )
        for column in (4, 5, 6):
            sheet.cell(sheet.max_row, column).number_format = (
                "#,##0" if _unit(row["kpi"]) == "count" else "#,##0.00"
            )
        sheet.cell(sheet.max_row, 7).number_format = "0.00"
    sheet.column_dimensions["A"].width = 40
    sheet.column_dimensions["B"].width = 45

    by_dimension: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for item in items:
        if item["dimension"] is not None:
            by_dimension[item["dimension"]].append(item)
    for dimension, rows in by_dimension.items():
        page = workbook.create_sheet(dimension[:31])
        page.append(["kpi", "title", "unit", dimension, "label", "value"])
        for cell in page[1]:
            cell.font = bold
        for item in rows:
            page.append(
                [
                    item["kpi"],
                    _title(item["kpi"]),
                    _unit(item["kpi"]),
                    item["key"],
                    _label(item, names or {}),
                    _number(item["value"]),
                ]
            )
            page.cell(page.max_row, 6).number_format = (
                "#,##0" if _unit(item["kpi"]) == "count" else "#,##0.00"
            )
        page.column_dimensions["A"].width = 40
        page.column_dimensions["B"].width = 45
        page.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _latin(text: Any) -> str:
    """The core PDF fonts are Latin-1: replace what they cannot show."""
    return str(text).encode("latin-1", errors="replace").decode("latin-1")


def pdf_bytes(
    summary: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
    comparison: Sequence[Mapping[str, Any]],
    names: Mapping[str, str] | None = None,
) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin(f"CLOCK - report n. {summary['number']}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    lines = (
        f"Period: {summary['period']}   Version: {summary['version']}"
        + ("   (provisional)" if summary["provisional"] else ""),
        f"Generated at: {summary['generated_at']}",
        f"SHA-256: {summary['hash']}",
    )
    for line in lines:
        pdf.cell(0, 6, _latin(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    # Chart: the counts of the period against the previous one, as horizontal bars.
    counted = [
        r
        for r in comparison
        if _unit(r["kpi"]) == "count" and isinstance(r["current"], int) and r["current"] > 0
    ][:12]
    if counted:
        pdf.set_font("Helvetica", "B", 12)
        pdf.cell(
            0,
            8,
            "Counts: this period (dark) and the previous one (light)",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.set_font("Helvetica", "", 8)
        top = max(max(int(r["current"] or 0), int(r["previous"] or 0)) for r in counted) or 1
        width = 110.0
        for row in counted:
            y = pdf.get_y()
            pdf.set_xy(10, y)
            pdf.cell(68, 5, _latin(_title(row["kpi"]))[:42])
            current = width * int(row["current"] or 0) / top
            previous = width * int(row["previous"] or 0) / top
            pdf.set_fill_color(40, 80, 160)
            pdf.rect(80, y + 0.5, max(current, 0.3), 2.2, style="F")
            pdf.set_fill_color(170, 190, 230)
            pdf.rect(80, y + 2.7, max(previous, 0.3), 2.2, style="F")
            pdf.set_xy(82 + width, y)
            pdf.cell(15, 5, str(row["current"]))
            pdf.ln(6)
        pdf.ln(4)

    def table(title: str, header: Sequence[str], widths: Sequence[float], rows: Any) -> None:
        pdf.set_font("Helvetica", "B", 12)
        pdf.cell(0, 8, _latin(title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "B", 8)
        for text, w in zip(header, widths, strict=True):
            pdf.cell(w, 6, _latin(text), border=1)
        pdf.ln(6)
        pdf.set_font("Helvetica", "", 8)
        for row in rows:
            for text, w in zip(row, widths, strict=True):
                pdf.cell(w, 5, _latin("-" if text is None else text)[:60], border=1)
            pdf.ln(5)
        pdf.ln(4)

    table(
        "KPIs and comparison with the previous period",
        ("KPI", "unit", "value", "previous", "change", "change %"),
        (72, 16, 24, 24, 24, 30),
        (
            (
                _title(r["kpi"]),
                _unit(r["kpi"]),
                r["current"],
                r["previous"],
                r["change"],
                r["change_pct"],
            )
            for r in comparison
        ),
    )
    by_dimension: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for item in items:
        if item["dimension"] is not None and item["value"] not in (0, None):
            by_dimension[item["dimension"]].append(item)
    for dimension, rows in by_dimension.items():
        table(
            f"By {dimension}",
            ("KPI", dimension, "value"),
            (90, 70, 30),
            ((_title(i["kpi"]), _label(i, names or {}), i["value"]) for i in rows),
        )
    return bytes(pdf.output())
