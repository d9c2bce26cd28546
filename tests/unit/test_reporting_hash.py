from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.reporting.service import canonical, comparison, content_hash


def test_canonical_json_sorts_keys_drops_whitespace_and_writes_decimals_as_strings() -> None:
    assert canonical({"b": 1, "a": [Decimal("1.50"), None, "x"]}) == '{"a":["1.50",null,"x"],"b":1}'
    assert canonical({"città": "Prato"}) == '{"città":"Prato"}'


def test_hash_depends_on_content_only() -> None:
    one = {"period": "2026-Q3", "kpis": [{"kpi": "a", "value": 1}], "last_event_id": "e"}
    two = {"last_event_id": "e", "kpis": [{"value": 1, "kpi": "a"}], "period": "2026-Q3"}
    assert content_hash(one) == content_hash(two)
    assert len(content_hash(one)) == 64
    assert content_hash(one) != content_hash(one | {"last_event_id": "f"})


def test_comparison_with_previous_period() -> None:
    now: list[dict[str, Any]] = [
        {"kpi": "demands_received", "dimension": None, "key": None, "value": 15},
        {"kpi": "engagement_value_eur", "dimension": None, "key": None, "value": "150.00"},
        {"kpi": "match_rate", "dimension": None, "key": None, "value": None},
        {"kpi": "demands_received", "dimension": "centre", "key": "c", "value": 3},
    ]
    before: list[dict[str, Any]] = [
        {"kpi": "demands_received", "dimension": None, "key": None, "value": 10},
        {"kpi": "engagement_value_eur", "dimension": None, "key": None, "value": "0.00"},
        {"kpi": "match_rate", "dimension": None, "key": None, "value": "50.00"},
    ]
    rows = {r["kpi"]: r for r in comparison(now, before)}
    assert rows["demands_received"] == {
        "kpi": "demands_received",
        "current": 15,
        "previous": 10,
        "change": 5,
        "change_pct": "50.00",
    }
    assert rows["engagement_value_eur"]["change"] == "150.00"
    assert rows["engagement_value_eur"]["change_pct"] is None  # from zero: undefined
    assert rows["match_rate"]["change"] is None
    assert len(rows) == 3
