"""Facts of the initiative events, pure: what each event contributes, restated rather than
counted twice when an initiative changes, and how a joint action counts."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from services.reporting.facts import Fact, facts_of, facts_of_event, state_keys, training_hours
from services.reporting.models import TOTAL
from services.reporting.projection import Additions, month_index, unscaled
from tests.integration.reporting import builders as b

A, B, C = b.CENTRE_A, b.CENTRE_B, b.CENTRE_C
PROJECT: dict[str, Any] = dict(budget="1000000.00", funding="800000.00")


def _of(facts: list[Fact], kpi: str) -> list[tuple[Any, date, list[str]]]:
    """(value, day, centres) of the facts of one KPI."""
    return [(f.value, f.time.date(), list(f.dims["centre"])) for f in facts if f.kpi == kpi]


def _timed(facts: list[Fact]) -> list[tuple[str, Any, datetime]]:
    return [(f.kpi, f.value, f.time) for f in facts]


def test_a_registration_counts_the_initiative_its_funding_and_the_active_stock() -> None:
    state: dict[str, Any] = {}
    created = b.initiative("h1", A, b.at(2026, 7, 2), s3=["s3-a"], **PROJECT)
    assert state_keys(b.logged(created)) == ["initiative:h1"]
    found = facts_of_event(b.logged(created), state)
    assert {f.kpi: f.value for f in found} == {
        "initiatives_registered": 1,
        "initiative_public_funding_eur": Decimal("800000.00"),
        "initiative_budget_eur": Decimal("1000000.00"),
        "initiatives_active": 1,
    }
    dims = found[0].dims
    assert dims["centre"] == [A] and dims["kind"] == ["research_project"]
    assert dims["programme"] == ["horizon_europe"] and dims["s3"] == ["s3-a"]
    assert dims["province"] == [] and dims["sector"] == ["C"]
    # the same event again (or one that changes nothing counted) adds nothing
    assert facts_of_event(b.logged(created), state) == []
    retitled = b.initiative("h1", A, b.at(2026, 8, 1), action="updated", version=2, **PROJECT)
    assert facts_of_event(b.logged(retitled), state) == []


def test_a_changed_amount_adjusts_the_period_of_registration_by_the_difference() -> None:
    registered = b.at(2026, 7, 2)
    state: dict[str, Any] = {}
    facts_of([b.logged(b.initiative("h1", A, registered, **PROJECT))], state)
    corrected = b.initiative(
        "h1", A, b.at(2026, 10, 5), action="updated", version=2, **PROJECT | {"funding": "850000"}
    )
    found = facts_of_event(b.logged(corrected), state)
    assert _timed(found) == [
        ("initiative_public_funding_eur", Decimal("-800000.00"), registered),
        ("initiative_public_funding_eur", Decimal("850000"), registered),
    ]
    # a new programme moves every figure of the registration to the new key, there (and the
    # active initiative, when it happens)
    moved_at = b.at(2026, 10, 6)
    moved = b.initiative(
        "h1", A, moved_at, action="updated", version=3, programme="pnrr", **PROJECT
    )
    found = facts_of_event(b.logged(moved), state)
    assert {f.time for f in found if f.kpi != "initiatives_active"} == {registered}
    assert _of(found, "initiatives_active") == [
        (-1, moved_at.date(), [A]),
        (1, moved_at.date(), [A]),
    ]
    registrations = [(f.dims["programme"], f.value) for f in found if f.kpi.endswith("registered")]
    assert registrations == [(["horizon_europe"], Decimal(-1)), (["pnrr"], Decimal(1))]
    assert sum(f.value for f in found if f.kpi == "initiative_public_funding_eur") == -50000


def test_a_confirmed_partner_counts_for_its_centre_and_connects_the_centres() -> None:
    registered, confirmed_at = b.at(2026, 7, 1), b.at(2026, 7, 10)
    state: dict[str, Any] = {}
    created = facts_of(
        [b.logged(b.initiative("j1", A, registered, partners={B: "proposed"}, **PROJECT))], state
    )
    # a proposed partner makes a joint action, but counts for its centre once it confirms
    assert _of(created, "joint_actions_registered") == [(1, registered.date(), [A])]
    confirmation = b.initiative(
        "j1",
        A,
        confirmed_at,
        action="participation_confirmed",
        version=2,
        partners={B: "confirmed"},
        confirmed_by=B,
        **PROJECT,
    )
    found = facts_of_event(b.logged(confirmation), state)
    assert _of(found, "joint_actions_registered") == [
        (-1, registered.date(), [A]),
        (1, registered.date(), [A, B]),
    ]
    assert _of(found, "initiatives_active") == [
        (-1, confirmed_at.date(), [A]),
        (1, confirmed_at.date(), [A, B]),
    ]
    assert _of(found, "partnerships_confirmed") == [(1, confirmed_at.date(), [A, B])]
    connected = [(f.key, f.dims["centre"]) for f in found if f.kpi == "centres_in_joint_actions"]
    assert connected == [(A, [B]), (B, [A])]
    # confirmed once: a later event of the same partnership does not count it again
    again = b.initiative(
        "j1", A, b.at(2026, 8, 1), action="updated", version=3, partners={B: "confirmed"}
    )
    assert _of(facts_of_event(b.logged(again), state), "partnerships_confirmed") == []


def test_a_partner_confirmed_while_the_initiative_was_a_draft_counts_at_registration() -> None:
    created = b.initiative("j1", A, b.at(2026, 7, 1), partners={B: "confirmed", C: "proposed"})
    found = facts_of([b.logged(created)])
    assert _of(found, "partnerships_confirmed") == [(1, date(2026, 7, 1), [A, B])]
    assert _of(found, "initiatives_registered") == [(1, date(2026, 7, 1), [A, B])]


def _sums(facts: list[Fact]) -> dict[tuple[str, str, str], Decimal]:
    """What the aggregates hold per (KPI, dimension, key), whatever the month."""
    additions = Additions()
    additions.add(facts)
    sums: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for (kpi, dimension, key, _), (value, _, _) in additions.monthly.items():
        sums[(kpi, dimension, key)] += unscaled(value)
    return sums


def test_a_joint_action_counts_once_in_the_total_and_once_per_centre() -> None:
    events = b.initiatives_scenario()
    sums = _sums(facts_of([b.logged(e) for e in events]))
    for kpi, total, per_centre in (
        ("initiatives_registered", 4, {A: 2, B: 2, C: 2}),
        ("joint_actions_registered", 2, {A: 2, B: 2}),
        ("partnerships_confirmed", 2, {A: 2, B: 2}),
        ("initiative_public_funding_eur", 1165000, {A: 865000, B: 865000, C: 300000}),
        ("training_hours", 12, {A: 12, B: 12}),
    ):
        assert sums[(kpi, TOTAL, TOTAL)] == total, kpi
        assert {k: v for (n, d, k), v in sums.items() if n == kpi and d == "centre"} == per_centre


def test_the_active_stock_follows_the_status() -> None:
    events = b.initiatives_scenario()
    facts = facts_of([b.logged(e) for e in events])
    additions = Additions()
    additions.add(facts)
    level = 0
    levels = {}
    for month in range(7, 11):
        cell = ("initiatives_active", TOTAL, TOTAL, month_index(date(2026, month, 1)))
        level += int(unscaled(additions.monthly.get(cell, [0])[0]))
        levels[month] = level
    assert levels == {7: 2, 8: 4, 9: 3, 10: 2}


def test_a_corrected_attendance_replaces_the_first_one_when_it_was_held() -> None:
    state: dict[str, Any] = {}
    place: dict[str, Any] = dict(kind="dissemination_event", start=date(2026, 9, 5), province="LU")
    held, corrected = b.at(2026, 9, 6), b.at(2026, 9, 30)
    events = [
        b.initiative("d1", C, b.at(2026, 8, 20), status="planned", **place),
        b.initiative("d1", C, held, action="event_held", version=2, attending=80, **place),
    ]
    first = facts_of([b.logged(e) for e in events], state)
    assert _timed([f for f in first if f.time == held]) == [
        ("dissemination_events_held", 1, held),
        ("dissemination_attendance", 80, held),
    ]
    assert first[-1].dims["province"] == ["LU"]
    again = b.initiative("d1", C, corrected, action="event_held", version=3, attending=85, **place)
    assert _timed(facts_of_event(b.logged(again), state)) == [
        ("dissemination_attendance", -80, held),
        ("dissemination_attendance", 85, held),
    ]


def test_a_training_held_counts_its_hours_and_participants() -> None:
    course: dict[str, Any] = dict(
        kind="training", start=date(2026, 9, 15), end=date(2026, 9, 17), province="PI"
    )
    held = b.initiative(
        "t1",
        A,
        b.at(2026, 9, 18),
        action="event_held",
        times=("09:00", "13:30"),
        attending=25,
        **course,
    )
    found = facts_of([b.logged(held)])
    assert [(f.kpi, f.value) for f in found if f.kpi.startswith("training")] == [
        ("training_hours", Decimal("13.50")),
        ("training_participants", 25),
    ]


@pytest.mark.parametrize(
    ("start", "end", "times", "hours"),
    [
        ("2026-09-15", None, ("09:00", "13:00"), "4.00"),
        ("2026-09-15", "2026-09-15", ("14:00", "18:20"), "4.33"),
        ("2026-09-15", "2026-09-17", ("09:00", "13:00"), "12.00"),
        ("2026-09-15", "2026-09-16", ("09:10", "09:30"), "0.67"),  # 40 minutes in all
        ("2026-09-15", "2026-09-17", None, "0"),  # no times: not known
        ("2026-09-15", "2026-09-17", ("09:00", None), "0"),
        ("2026-09-15", "2026-09-15", ("13:00", "09:00"), "0"),
        ("2026-09-15", "2026-09-14", ("09:00", "13:00"), "0"),
        (None, None, ("09:00", "13:00"), "0"),
    ],
)
def test_training_hours(
    start: str | None, end: str | None, times: tuple[str, str | None] | None, hours: str
) -> None:
    data = {
        "start_date": start,
        "end_date": end,
        "start_time": times[0] if times else None,
        "end_time": times[1] if times else None,
    }
    assert training_hours(data) == Decimal(hours)


def test_overlaps_found_and_resolved() -> None:
    pair: dict[str, Any] = {
        "a": ("h1", A, "research_project"),
        "b": ("i3", C, "innovation_project"),
    }
    found = facts_of([b.logged(b.initiative_overlap("o1", b.at(2026, 8, 10), **pair))])
    assert [(f.kpi, f.dims) for f in found] == [
        (
            "initiative_overlaps_found",
            {"centre": [A, C], "kind": ["research_project", "innovation_project"]},
        )
    ]
    for resolution, kpis in (
        ("distinct", ["initiative_overlaps_resolved"]),
        ("to_coordinate", ["initiative_overlaps_resolved", "initiative_overlaps_to_coordinate"]),
    ):
        event = b.initiative_overlap("o1", b.at(2026, 9, 1), resolution=resolution, **pair)
        assert [f.kpi for f in facts_of([b.logged(event)])] == kpis
        assert state_keys(b.logged(event)) == []


def test_each_initiative_event_needs_only_the_state_it_names() -> None:
    full: dict[str, Any] = {}
    for event in (b.logged(e) for e in b.initiatives_scenario()):
        keys = state_keys(event)
        partial = {k: full[k] for k in keys if k in full}
        expected = facts_of_event(event, full)
        assert facts_of_event(event, partial) == expected
        assert partial == {k: full[k] for k in keys if k in full}


def test_a_broken_initiative_event_gives_no_facts_and_leaves_the_state() -> None:
    event = b.logged(b.initiative("h1", A, b.at(2026, 7, 2)))
    broken = type(event)("x", event.type, event.time, {"initiative_id": "h1", "kind": "training"})
    state: dict[str, Any] = {}
    assert facts_of([broken], state) == [] and state == {}
