"""The reporting benchmark still runs (a few thousand events instead of a million)."""

from __future__ import annotations

import json
from pathlib import Path

from services.reporting.bench import Generator, bench


def test_the_generator_is_repeatable_and_in_time_order() -> None:
    first = [(e.type, e.subject, e.time) for e in Generator(seed=3).events(3000)]
    again = [(e.type, e.subject, e.time) for e in Generator(seed=3).events(3000)]
    assert first == again and len(first) == 3000
    assert [t for _, _, t in first] == sorted(t for _, _, t in first)
    streams = {event_type.split(".")[1] for event_type, _, _ in first}
    assert streams == {"membership", "catalog", "matching"}


def test_the_benchmark_runs_and_writes_its_figures(tmp_path: Path) -> None:
    output = tmp_path / "reporting.json"
    figures = bench(5000, batch=500, output=output)
    assert json.loads(output.read_text()) == figures
    assert figures["ingest"]["events"] == figures["log_rows"] == 5000
    assert figures["quarterly_report_seconds"]["median"] > 0
    assert set(figures["queries_ms"]) >= {"definitions (baseline)", "kpis, 12 months, totals"}
