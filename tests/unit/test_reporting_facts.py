"""Facts of events, pure: what each kind of event contributes, and the state it needs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.reporting.facts import Fact, facts_of, facts_of_event, state_keys
from tests.integration.reporting import builders as b


def test_an_entry_update_moves_the_entry_between_dimension_keys() -> None:
    state: dict[str, Any] = {}
    facts_of([b.logged(b.lab("l1", b.CENTRE_A, b.at(2026, 1, 1)))], state)
    moved = b.lab("l1", b.CENTRE_A, b.at(2026, 2, 1), action="updated", version=2, province="PI")
    found = facts_of_event(b.logged(moved), state)
    labs = [(f.value, f.dims["province"]) for f in found if f.kpi == "labs_published"]
    assert labs == [(Decimal(-1), ["FI"]), (Decimal(1), ["PI"])]
    withdrawn = b.lab("l1", b.CENTRE_A, b.at(2026, 3, 1), action="withdrawn", version=3)
    labs_after = [
        f for f in facts_of_event(b.logged(withdrawn), state) if f.kpi == "labs_published"
    ]
    assert [(f.value, f.dims["province"]) for f in labs_after] == [(Decimal(-1), ["PI"])]
    assert state == {}


def _match_rate(events: list[Any]) -> list[tuple[Any, Any, Any]]:
    found = facts_of([b.logged(e) for e in events])
    return [(f.value, f.denominator, f.time) for f in found if f.kpi == "match_rate"]


def test_a_demand_counts_as_matched_whichever_event_comes_first() -> None:
    firm = b.firm("f1")
    submitted = b.demand("d1", firm, b.at(2026, 1, 15))
    matched = b.matches("d1", firm, b.at(2026, 1, 15, 11))
    in_order = _match_rate([submitted, matched])
    reversed_ = _match_rate([matched, submitted])
    assert in_order == [(0, 1, submitted.time), (1, 0, submitted.time)]
    assert reversed_ == [(1, 1, submitted.time)]
    # a second ranking does not count the demand twice
    again = b.matches("d1", firm, b.at(2026, 1, 16))
    assert _match_rate([submitted, matched, again]) == in_order


def test_only_the_first_introduction_of_a_demand_is_timed() -> None:
    firm = b.firm("f1")
    events = [
        b.demand("d1", firm, b.at(2026, 1, 15)),
        b.introduction("i1", "d1", firm, b.at(2026, 1, 15, 14)),
        b.introduction("i2", "d1", firm, b.at(2026, 1, 16, 14)),
    ]
    found = [f for f in facts_of([b.logged(e) for e in events])]
    timed = [f.value for f in found if f.kpi == "hours_to_first_introduction"]
    assert timed == [Decimal(4)]
    assert [f.key for f in found if f.kpi == "smes_served"] == ["f1", "f1"]


def test_matching_facts_take_the_lab_tags_from_the_event() -> None:
    firm = b.firm("f1")
    found = facts_of([b.logged(b.introduction("i1", "d1", firm, b.at(2026, 1, 15)))])
    assert found[0].dims["s3"] == ["s3-a"]
    other = facts_of([b.logged(b.introduction("i2", "d1", firm, b.at(2026, 1, 15), lab_id="l2"))])
    assert other[0].dims["s3"] == []


def test_unknown_types_and_broken_events_give_no_facts() -> None:
    event = b.logged(b.lab("l1", b.CENTRE_A, b.at(2026, 1, 1)))
    unknown = type(event)("x", "clock.catalog.widget.published.v1", event.time, {"a": 1})
    broken = type(event)("y", event.type, event.time, {"lab_id": "l9"})
    state: dict[str, Any] = {}
    assert facts_of([unknown, broken], state) == []
    assert state == {}
    assert state_keys(unknown) == []


def test_each_event_needs_only_the_state_it_names() -> None:
    """What the projection relies on: it loads only `state_keys` rows for an event."""
    full: dict[str, Any] = {}
    for event in (b.logged(e) for e in b.scenario()):
        keys = state_keys(event)
        partial = {k: full[k] for k in keys if k in full}
        expected: list[Fact] = facts_of_event(event, full)
        assert facts_of_event(event, partial) == expected
        assert set(partial) <= set(keys)
        assert all(full.get(k) == partial.get(k) for k in keys)
