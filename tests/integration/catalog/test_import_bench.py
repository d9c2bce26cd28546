"""`clock catalog bench` with a few rows: it runs end to end and reports its figures."""

from __future__ import annotations

from pathlib import Path

from services.catalog.bench import bench


def test_the_import_benchmark_runs_and_writes_its_figures(tmp_path: Path) -> None:
    output = tmp_path / "catalog-import.json"
    figures = bench(60, runs=1, output=output)
    assert figures["rows"] == 60 and figures["database"] == "sqlite"
    assert figures["first_import_s"] > 0 and figures["reimport_unchanged_s"] > 0
    assert '"first_import_rows_per_s"' in output.read_text()
