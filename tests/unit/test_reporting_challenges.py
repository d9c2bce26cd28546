"""Facts of the supply-chain challenges (issue #13), pure: what each challenge and expression
event contributes, the demand that backs a challenge left out of the demand KPIs, SMEs of
awarded teams counted once per period, and engagements with a firm of the team (no lab)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from kernel.contracts import matching as m
from services.reporting.facts import Fact, facts_of, facts_of_event, state_keys
from services.reporting.kpis import BY_NAME, SOURCES
from services.reporting.models import TOTAL
from services.reporting.projection import Additions
from tests.integration.reporting import builders as b

A, B = b.CENTRE_A, b.CENTRE_B
BIG, SME_1, SME_2 = b.BIG, b.SME_1, b.SME_2
PUBLISHER = {"province": ["LI"], "sector": ["C"], "size_class": ["large"]}
DEMAND_KPIS = (
    "demands_received",
    "smes_served",
    "match_rate",
    "demands_matched",
    "introductions_accepted",
    "hours_to_first_introduction",
    "introductions_requested",
    "introduction_acceptance_rate",
    "consortia_proposed",
)


def _facts(*events: Any, state: dict[str, Any] | None = None) -> list[Fact]:
    return facts_of([b.logged(e) for e in events], state)


def _kpis(facts: list[Fact]) -> list[str]:
    return [f.kpi for f in facts]


def test_a_published_challenge_counts_under_its_publisher_and_the_centre_acting_for_it() -> None:
    published = b.challenge("ch1", BIG, b.at(2026, 3, 2))
    assert state_keys(b.logged(published)) == []
    [fact] = _facts(published)
    assert (fact.kpi, fact.value, fact.time) == ("challenges_published", 1, published.time)
    assert fact.dims == PUBLISHER | {"centre": []}
    for_big = m.Actor(role="centre", org_id=A)
    [fact] = _facts(b.challenge("ch2", BIG, b.at(2026, 3, 3), published_by=for_big))
    assert fact.dims == PUBLISHER | {"centre": [A]}
    # the Region publishing for the firm is no centre
    region = m.Actor(role="region", org_id=None)
    [fact] = _facts(b.challenge("ch3", BIG, b.at(2026, 3, 3), published_by=region))
    assert fact.dims["centre"] == []


def test_an_invited_team_counts_under_the_centres_of_its_labs() -> None:
    team = [b.team_firm(SME_1, 0), b.team_lab("l1", A, 1), b.team_lab("l2", B, 1)]
    invited = b.challenge(
        "ch1", BIG, b.at(2026, 3, 20), action="team_invited", team=team, introductions=["i1"]
    )
    [fact] = _facts(invited)
    assert fact.kpi == "teams_invited"
    assert fact.dims == PUBLISHER | {"centre": [A, B]}


def test_a_closed_challenge_counts_with_the_expressions_it_received() -> None:
    closed = b.challenge("ch2", BIG, b.at(2026, 4, 5), action="closed", expressions=3)
    found = _facts(closed)
    assert [(f.kpi, f.value, f.denominator) for f in found] == [
        ("challenges_closed_without_award", 1, 0),
        ("expressions_per_challenge", 3, 0),
    ]
    assert BY_NAME["expressions_per_challenge"].aggregation == "mean"


def test_an_award_counts_the_challenge_its_value_and_each_sme_of_the_team() -> None:
    medium, large = b.firm("f-m", "medium", province="FI"), b.firm("f-l", "large")
    team = [
        b.team_firm(SME_1, 0),
        b.team_firm(medium, 1),
        b.team_firm(large, 1),
        b.team_lab("l1", A, 0, 1),
    ]
    awarded = b.challenge(
        "ch1",
        BIG,
        b.at(2026, 4, 2),
        action="awarded",
        team=team,
        expressions=2,
        value="80000.50",
        engagements=["g1", "g2", "g3", "g4"],
    )
    found = _facts(awarded)
    challenge_dims = PUBLISHER | {"centre": [A]}
    assert [(f.kpi, f.value, f.dims) for f in found if f.key is None] == [
        ("challenges_awarded", 1, challenge_dims),
        ("expressions_per_challenge", 2, challenge_dims),
        ("challenge_value_awarded_eur", Decimal("80000.50"), challenge_dims),
    ]
    smes = [(f.key, f.dims) for f in found if f.kpi == "smes_in_awarded_teams"]
    assert smes == [  # the large member is no SME
        ("f-s1", {"province": ["PI"], "sector": ["C"], "size_class": ["small"], "centre": [A]}),
        ("f-m", {"province": ["FI"], "sector": ["C"], "size_class": ["medium"], "centre": [A]}),
    ]


def test_an_expression_counts_where_the_answer_comes_from() -> None:
    team = [b.team_lab("l2", B, 0), b.team_firm(SME_2, 1), b.team_firm(SME_1, 1)]
    by_centre = b.expression(
        "x1", "ch1", BIG, b.at(2026, 3, 12), team=team, respondent=("centre", A)
    )
    assert state_keys(b.logged(by_centre)) == []
    [fact] = _facts(by_centre)
    assert fact.kpi == "expressions_submitted"
    assert fact.dims == {
        "province": ["LU", "PI"],
        "sector": ["K", "C"],
        "size_class": ["micro", "small"],
        "kind": ["centre"],
        "centre": [A, B],
    }
    [fact] = _facts(b.expression("x2", "ch1", BIG, b.at(2026, 3, 12), team=[b.team_firm(SME_1)]))
    assert fact.dims == {
        "province": ["PI"],
        "sector": ["C"],
        "size_class": ["small"],
        "kind": ["firm"],
        "centre": [],
    }


def _backed(challenge_id: str = "ch1") -> list[Any]:
    """The backing demand of a challenge and what follows it: rankings, an invitation's
    introduction and its answer."""
    demand_id = f"d-{challenge_id}"
    consortia = b.build(
        m.ConsortiaProposed(
            demand_id=demand_id,
            firm=BIG,
            needs_count=2,
            consortia=[
                m.ProposedConsortium(
                    consortium_id="c1",
                    size=2,
                    centres=2,
                    members=[
                        m.ConsortiumMember(need_index=0, lab_id="l1", centre_id=A),
                        m.ConsortiumMember(need_index=1, lab_id="l2", centre_id=B),
                    ],
                    uncovered_needs=[],
                )
            ],
            proposed_at=b.at(2026, 3, 5),
        ),
        demand_id,
        b.at(2026, 3, 5),
        3,
    )
    return [
        b.backing_demand(challenge_id, BIG, b.at(2026, 3, 2)),
        b.matches(demand_id, BIG, b.at(2026, 3, 5)),
        consortia,
        b.introduction(f"i-{challenge_id}", demand_id, BIG, b.at(2026, 3, 20)),
        b.introduction(f"i-{challenge_id}", demand_id, BIG, b.at(2026, 3, 20), action="accepted"),
        b.introduction(f"j-{challenge_id}", demand_id, BIG, b.at(2026, 3, 21), action="declined"),
    ]


def test_the_demand_backing_a_challenge_is_left_out_of_the_demand_kpis() -> None:
    state: dict[str, Any] = {}
    assert _facts(*_backed(), state=state) == []
    assert state == {"demand:d-ch1": {"challenge_id": "ch1"}}
    # a firm's own demand, alongside, counts as ever
    own = [
        b.demand("d1", SME_1, b.at(2026, 3, 6)),
        b.matches("d1", SME_1, b.at(2026, 3, 6, 11)),
        b.introduction("i1", "d1", SME_1, b.at(2026, 3, 7)),
        b.introduction("i1", "d1", SME_1, b.at(2026, 3, 7), action="accepted"),
    ]
    assert Counter(_kpis(_facts(*own, state=state))) == {
        "demands_received": 1,
        "match_rate": 2,
        "demands_matched": 2,
        "introductions_requested": 1,
        "smes_served": 1,
        "hours_to_first_introduction": 1,
        "introduction_acceptance_rate": 1,
        "introductions_accepted": 1,
    }
    # even if its ranking arrives before its submission
    events = _backed("ch2")
    assert _facts(events[1], events[0], *events[2:]) == []
    # an update of the backing demand changes nothing either
    updated = b.build(
        m.DemandUpdated(
            **events[0].data.model_dump(),
            previous_status="open",
            changed=["status"],
            reason=None,
            actor=b.SYSTEM_M,
            updated_at=b.at(2026, 3, 8),
        ).model_copy(update={"status": "matched"}),
        "d-ch2",
        b.at(2026, 3, 8),
        2,
    )
    assert _facts(*events, updated) == []


def test_the_demand_kpis_read_the_submission_that_tells_a_backing_demand() -> None:
    """What a rebuild of some KPIs alone (`backfill(kpis=...)`) relies on: their sources
    include the event that marks the demand."""
    for kpi in DEMAND_KPIS:
        assert "clock.matching.demand.submitted.v1" in SOURCES[kpi], kpi


def _items(facts: list[Fact], kpi: str, period: str) -> dict[tuple[str, str], set[str]]:
    """The distinct items of a KPI per (dimension, key) in a month, as the aggregates hold."""
    additions = Additions()
    additions.add(facts)
    found: dict[tuple[str, str], set[str]] = {}
    for name, dimension, grain, label, key, item in additions.items:
        if name == kpi and grain == "month" and label == period:
            found.setdefault((dimension, key), set()).add(item)
    return found


def test_an_sme_in_two_awarded_teams_counts_once_in_the_period() -> None:
    facts = _facts(*b.challenges_scenario())
    april = _items(facts, "smes_in_awarded_teams", "2026-04")
    assert april == {
        (TOTAL, TOTAL): {"f-s1", "f-s2"},
        ("province", "PI"): {"f-s1"},
        ("province", "LU"): {"f-s2"},
        ("sector", "C"): {"f-s1"},
        ("sector", "K"): {"f-s2"},
        ("size_class", "small"): {"f-s1"},
        ("size_class", "micro"): {"f-s2"},
        ("centre", A): {"f-s1"},
    }
    # counted twice as facts (two awards), once as an item of the month
    assert [f.key for f in facts if f.kpi == "smes_in_awarded_teams"] == ["f-s1", "f-s1", "f-s2"]
    # in a later award, another month: counted there again
    again = b.challenge(
        "ch9", BIG, b.at(2026, 5, 4), action="awarded", team=[b.team_firm(SME_1, 0, 1)]
    )
    may = _items([*facts, *_facts(again)], "smes_in_awarded_teams", "2026-05")
    assert may[(TOTAL, TOTAL)] == {"f-s1"}


def test_an_engagement_with_a_firm_of_the_team_has_no_lab_and_counts_as_an_engagement() -> None:
    state: dict[str, Any] = {}
    opened, closed = b.at(2026, 4, 2), b.at(2026, 6, 30)
    supplier: dict[str, Any] = dict(centres=(), challenge_id="ch1", supplier=SME_1)
    events = [
        b.engagement("g1", "d-ch1", BIG, opened, **supplier),
        b.engagement("g1", "d-ch1", BIG, opened, closed=closed, value="30000.00", **supplier),
    ]
    assert events[0].data.lab_ids == [] and events[0].data.centre_ids == []
    assert state_keys(b.logged(events[0])) == ["engagement:g1"]
    found = _facts(*events, state=state)
    assert _kpis(found) == [
        "engagements_opened",  # no research organisation: not a cooperation with research
        "engagements_closed",
        "engagement_value_eur",
        "average_satisfaction",  # the publisher is large: not an SME innovating
    ]
    for fact in found:
        assert fact.dims == PUBLISHER | {
            "centre": [],
            "kind": ["joint_research"],
            "s3": [],
            "ket": [],
        }
    assert state == {}  # never cross-centre
    # the engagement the same award opened with a lab is a cooperation with research
    with_lab = b.engagement("g2", "d-ch1", BIG, opened, challenge_id="ch1")
    assert _kpis(_facts(with_lab)) == [
        "engagements_opened",
        "enterprises_cooperating_with_research",
    ]


def test_each_event_needs_only_the_state_it_names() -> None:
    full: dict[str, Any] = {}
    for event in (b.logged(e) for e in [*b.scenario(), *b.challenges_scenario()]):
        keys = state_keys(event)
        partial = {k: full[k] for k in keys if k in full}
        expected = facts_of_event(event, full)
        assert facts_of_event(event, partial) == expected
        assert set(partial) <= set(keys)
        assert all(full.get(k) == partial.get(k) for k in keys)


def test_a_broken_challenge_event_gives_no_facts() -> None:
    event = b.logged(b.challenge("ch1", BIG, b.at(2026, 4, 2), action="awarded"))
    broken = type(event)(event.id, event.type, event.time, {**event.data, "team": None})
    assert facts_of([broken]) == []
    unknown = type(event)("u", "clock.matching.challenge.withdrawn.v1", event.time, event.data)
    assert facts_of([unknown]) == []
