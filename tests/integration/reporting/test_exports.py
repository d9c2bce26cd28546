from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import pytest
from openpyxl import load_workbook

from services.reporting import exports
from services.reporting.kpis import DIMENSIONS
from services.reporting.service import comparison
from tests.integration.reporting import builders as b
from tests.integration.reporting.conftest import Kpis

Report = tuple[Sequence[dict[str, Any]], Sequence[dict[str, Any]]]

SUMMARY = {
    "number": 1,
    "version": 1,
    "period": "2026-02",
    "generated_at": "2026-03-02T06:00:00Z",
    "hash": "0" * 64,
    "provisional": False,
}


@pytest.fixture
async def report(kpis: Kpis) -> Report:
    await kpis.log(b.scenario())
    current = await kpis.items(periods=["2026-02"], by=DIMENSIONS)
    return current, comparison(current, await kpis.items(periods=["2026-01"]))


def test_csv_has_a_row_per_item_with_centre_labels(report: Report) -> None:
    items, _ = report
    data = exports.csv_bytes(SUMMARY, items, {b.CENTRE_A: "Centre a"})
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert len(rows) == len(items)
    row = next(r for r in rows if r["dimension"] == "centre" and r["key"] == b.CENTRE_A)
    assert row["label"] == "Centre a"


def test_xlsx_has_a_sheet_per_dimension_with_numbers(report: Report) -> None:
    items, compared = report
    workbook = load_workbook(io.BytesIO(exports.xlsx_bytes(SUMMARY, items, compared)))
    assert workbook.sheetnames[0] == "totals"
    assert {"centre", "province", "kind"} <= set(workbook.sheetnames)
    totals = workbook["totals"]
    values = {row[0]: row[3] for row in totals.iter_rows(min_row=8, values_only=True)}
    assert values["engagement_value_eur"] == 14500.5
    assert values["engagements_closed"] == 2


def test_pdf_is_a_pdf(report: Report) -> None:
    items, compared = report
    data = exports.pdf_bytes(SUMMARY, items, compared, {b.CENTRE_A: "Centre a"})
    assert data.startswith(b"%PDF-") and len(data) > 2000
