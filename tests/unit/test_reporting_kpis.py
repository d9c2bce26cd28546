from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.reporting.kpis import CATALOGUE, compute, facts_of
from services.reporting.periods import parse_period
from tests.integration.reporting import builders as b

A, B = b.CENTRE_A, b.CENTRE_B


def scenario() -> list[Any]:
    small, large, micro = b.firm("f1", "small"), b.firm("f2", "large"), b.firm("f3", "micro")
    return [
        b.lab("l1", A, b.at(2026, 1, 10), s3=["s3-a"]),
        b.lab("l2", B, b.at(2026, 1, 11), province="PI"),
        b.equipment("e1", "l1", A, b.at(2026, 1, 12), shareable=True),
        b.equipment("e2", "l2", B, b.at(2026, 1, 12), shareable=False),
        b.competence("c1", "l1", A, b.at(2026, 1, 13)),
        b.service_offering("s1", "l2", B, b.at(2026, 1, 14)),
        # February: e2 becomes shareable, l2 is withdrawn.
        b.equipment("e2", "l2", B, b.at(2026, 2, 2), shareable=True, action="updated", version=2),
        b.lab("l2", B, b.at(2026, 2, 3), action="withdrawn", version=2, province="PI"),
        b.duplicate("p1", b.at(2026, 1, 20)),
        b.duplicate("p1", b.at(2026, 2, 20), resolved=True),
        b.member(A, b.at(2026, 1, 1)),
        b.member(B, b.at(2026, 1, 1), province="PI"),
        b.member(B, b.at(2026, 2, 5), action="suspended", version=2, province="PI"),
        b.application_decided("a1", b.at(2026, 1, 1), b.at(2026, 1, 11)),
        b.application_decided("a2", b.at(2026, 1, 1), b.at(2026, 1, 21)),
        b.demand("d1", small, b.at(2026, 1, 15)),
        b.demand("d2", large, b.at(2026, 1, 16)),
        b.demand("d3", micro, b.at(2026, 1, 17)),
        b.matches("d1", small, b.at(2026, 1, 15, 11)),
        b.matches("d3", micro, b.at(2026, 1, 17, 11)),
        b.introduction("i1", "d1", small, b.at(2026, 1, 15, 14)),
        b.introduction("i2", "d2", large, b.at(2026, 1, 17, 10)),
        b.introduction("i3", "d1", small, b.at(2026, 1, 18), centre=B, lab_id="l2"),
        b.introduction("i1", "d1", small, b.at(2026, 1, 15, 14), action="accepted"),
        b.introduction("i2", "d2", large, b.at(2026, 1, 17, 10), action="declined"),
        b.engagement("g1", "d1", small, b.at(2026, 1, 20), centres=(A, B)),
        b.engagement("g2", "d2", large, b.at(2026, 1, 21), kind="service"),
        b.engagement(
            "g1",
            "d1",
            small,
            b.at(2026, 1, 20),
            centres=(A, B),
            closed=b.at(2026, 2, 10),
            value="12500.50",
            satisfaction=5,
        ),
        b.engagement(
            "g2",
            "d2",
            large,
            b.at(2026, 1, 21),
            kind="service",
            closed=b.at(2026, 2, 11),
            value="2000.00",
            satisfaction=2,
        ),
        b.access_approved("r1", b.at(2026, 2, 12), 6.5),
    ]


def values(by: tuple[str, ...] = ()) -> dict[tuple[str, str, str | None, str | None], Any]:
    events = [b.logged(e) for e in scenario()]
    periods = [parse_period("2026-01"), parse_period("2026-02")]
    items = compute(facts_of(events), periods, by=by)
    return {(i["kpi"], i["period"], i["dimension"], i["key"]): i["value"] for i in items}


def total(found: dict[Any, Any], kpi: str, period: str) -> Any:
    return found[(kpi, period, None, None)]


def test_catalogue_stocks_and_growth() -> None:
    v = values()
    assert total(v, "labs_published", "2026-01") == 2
    assert total(v, "labs_published", "2026-02") == 1
    assert total(v, "equipment_published", "2026-02") == 2
    assert total(v, "equipment_shareable", "2026-01") == 1
    assert total(v, "equipment_shareable", "2026-02") == 2
    assert total(v, "catalogue_size", "2026-01") == 6
    assert total(v, "catalogue_growth", "2026-01") == 6
    assert total(v, "catalogue_growth", "2026-02") == -1
    assert total(v, "duplicates_found", "2026-01") == 1
    assert total(v, "duplicates_resolved", "2026-02") == 1


def test_membership_figures() -> None:
    v = values()
    assert total(v, "members_active", "2026-01") == 2
    assert total(v, "members_active", "2026-02") == 1
    assert total(v, "members_suspended", "2026-02") == 1
    assert total(v, "members_admitted", "2026-01") == 2
    assert total(v, "members_admitted", "2026-02") == 0
    assert total(v, "applications_decided", "2026-01") == 2
    assert total(v, "days_to_decision", "2026-01") == "15.00"
    assert total(v, "days_to_decision", "2026-02") is None


def test_matching_figures() -> None:
    v = values()
    assert total(v, "demands_received", "2026-01") == 3
    assert total(v, "match_rate", "2026-01") == "66.67"
    assert total(v, "smes_served", "2026-01") == 1  # f1 twice; f2 is large
    assert total(v, "introductions_requested", "2026-01") == 3
    # d1: 4 h; d2: 24 h → median 14
    assert total(v, "hours_to_first_introduction", "2026-01") == "14.00"
    assert total(v, "introduction_acceptance_rate", "2026-01") == "50.00"
    assert total(v, "engagements_opened", "2026-01") == 2
    assert total(v, "engagements_closed", "2026-02") == 2
    assert total(v, "engagement_value_eur", "2026-02") == "14500.50"
    assert total(v, "average_satisfaction", "2026-02") == "3.50"
    assert total(v, "cross_centre_engagements", "2026-01") == 1
    assert total(v, "consortia_formed", "2026-01") == 1
    assert total(v, "enterprises_cooperating_with_research", "2026-01") == 1
    assert total(v, "smes_innovating", "2026-02") == 1  # the large firm does not count
    assert total(v, "equipment_access_hours", "2026-02") == "6.50"


def test_breakdowns() -> None:
    v = values(("centre", "kind", "size_class", "s3", "province"))
    assert v[("labs_published", "2026-01", "centre", A)] == 1
    assert v[("labs_published", "2026-02", "centre", B)] == 0
    assert v[("labs_published", "2026-02", "province", "PI")] == 0
    # a cross-centre engagement counts once per centre, once in the total
    assert v[("engagements_opened", "2026-01", "centre", A)] == 2
    assert v[("engagements_opened", "2026-01", "centre", B)] == 1
    assert v[("engagements_opened", "2026-01", "kind", "service")] == 1
    assert v[("engagements_closed", "2026-02", "kind", "joint_research")] == 1
    assert v[("demands_received", "2026-01", "size_class", "large")] == 1
    assert v[("introductions_requested", "2026-01", "s3", "s3-a")] == 2
    assert v[("duplicates_found", "2026-01", "centre", B)] == 1
    assert v[("members_active", "2026-02", "centre", B)] == 0


def test_order_of_arrival_does_not_matter_and_unknown_types_are_ignored() -> None:
    events = [b.logged(e) for e in scenario()]
    shuffled = list(reversed(events))
    weird = type(events[0])("x", "clock.catalog.widget.published.v1", events[0].time, {"a": 1})
    periods = [parse_period("2026-Q1")]
    assert compute(facts_of([*shuffled, weird]), periods) == compute(facts_of(events), periods)


def test_every_kpi_has_a_definition() -> None:
    names = [k.kpi for k in CATALOGUE]
    assert len(names) == len(set(names)) >= 25
    assert all(k.definition and k.title and k.unit for k in CATALOGUE)
    items = compute([], [parse_period("2026-01")])
    assert {i["kpi"] for i in items} == set(names)
    assert all(i["value"] in (0, "0.00", None) for i in items)


def test_late_event_changes_only_later_computations() -> None:
    events = [b.logged(e) for e in scenario()]
    late = b.logged(b.demand("d9", b.firm("f9"), b.at(2026, 1, 30) + timedelta(hours=1)))
    before = compute(facts_of(events), [parse_period("2026-01")], kpis=["demands_received"])
    after = compute(facts_of([*events, late]), [parse_period("2026-01")], kpis=["demands_received"])
    assert before[0]["value"] == 3 and after[0]["value"] == 4


def test_centre_names_come_from_membership_events() -> None:
    from services.reporting.kpis import centre_names

    events = [b.logged(e) for e in scenario()]
    assert centre_names(events) == {A: "Centre a", B: "Centre b"}
