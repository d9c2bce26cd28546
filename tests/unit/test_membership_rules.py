"""Pure rules of the membership service: lifecycle, decisions, eligibility, terms, ETags."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from kernel.errors import Conflict, InvalidInput, PreconditionFailed, PreconditionRequired
from services.membership import service
from services.membership.schemas import (
    Action,
    ApplicationStatus,
    DecisionIn,
    MemberRole,
    MemberStatus,
)

A, S, W, E = (
    MemberStatus.ACTIVE,
    MemberStatus.SUSPENDED,
    MemberStatus.WITHDRAWN,
    MemberStatus.EXPIRED,
)


@pytest.mark.parametrize(
    ("status", "action", "target"),
    [
        (A, Action.SUSPENSION, S),
        (A, Action.WITHDRAWAL, W),
        (A, Action.EXPIRY, E),
        (S, Action.REINSTATEMENT, A),
        (S, Action.WITHDRAWAL, W),
        (S, Action.EXPIRY, E),
    ],
)
def test_legal_transitions(status: MemberStatus, action: Action, target: MemberStatus) -> None:
    assert service.next_status(status, action, MemberRole.ADHERING) is target
    assert service.next_status(status, action, MemberRole.FOUNDING) is target


@pytest.mark.parametrize(
    ("status", "action", "allowed"),
    [
        (A, Action.REINSTATEMENT, ["suspension", "withdrawal"]),
        (S, Action.SUSPENSION, ["reinstatement", "withdrawal"]),
        (W, Action.SUSPENSION, []),
        (W, Action.REINSTATEMENT, []),
        (W, Action.WITHDRAWAL, []),
        (W, Action.EXPIRY, []),
        (E, Action.REINSTATEMENT, []),
        (E, Action.EXPIRY, []),
    ],
)
def test_illegal_transitions_are_conflicts_listing_what_is_allowed(
    status: MemberStatus, action: Action, allowed: list[str]
) -> None:
    with pytest.raises(Conflict) as error:
        service.next_status(status, action, MemberRole.ADHERING)
    assert error.value.status == 409
    assert error.value.extra["allowed"] == allowed
    assert error.value.extra["current_status"] == status.value


def test_every_status_is_in_the_table_and_final_ones_lead_nowhere() -> None:
    assert set(service.TRANSITIONS) == set(MemberStatus)
    assert service.TRANSITIONS[W] == {} and service.TRANSITIONS[E] == {}
    assert service.allowed_actions(A, MemberRole.ADHERING) == [
        Action.SUSPENSION,
        Action.WITHDRAWAL,
    ]


def test_the_regions_membership_only_ends_with_the_term() -> None:
    assert service.allowed_actions(A, MemberRole.REGION) == []
    for action in (Action.SUSPENSION, Action.WITHDRAWAL):
        with pytest.raises(Conflict):
            service.next_status(A, action, MemberRole.REGION)
    assert service.next_status(A, Action.EXPIRY, MemberRole.REGION) is E


def test_decisions_on_applications() -> None:
    under_review, ineligible = ApplicationStatus.UNDER_REVIEW, ApplicationStatus.INELIGIBLE
    assert service.decision_status(under_review, "admit") is ApplicationStatus.ADMITTED
    assert service.decision_status(under_review, "reject") is ApplicationStatus.REJECTED
    assert service.decision_status(ineligible, "reject") is ApplicationStatus.REJECTED
    with pytest.raises(Conflict) as error:
        service.decision_status(ineligible, "admit")
    assert error.value.extra["allowed"] == ["reject"]
    for decided in (ApplicationStatus.ADMITTED, ApplicationStatus.REJECTED):
        for decision in ("admit", "reject"):
            with pytest.raises(Conflict, match="already decided"):
                service.decision_status(decided, decision)


def test_a_decision_needs_a_motivation_and_carried_votes() -> None:
    ok = DecisionIn.model_validate(
        {
            "decision": "admit",
            "motivation": " ok ",
            "votes": {"for": 4, "against": 1, "abstained": 2},
        }
    )
    assert ok.motivation == "ok" and ok.votes is not None and ok.votes.for_ == 4
    for bad in (
        {"decision": "admit"},
        {"decision": "admit", "motivation": "   "},
        {"decision": "maybe", "motivation": "x"},
        {"decision": "admit", "motivation": "x", "votes": {"for": 2, "against": 2, "abstained": 0}},
        {
            "decision": "admit",
            "motivation": "x",
            "votes": {"for": -1, "against": 0, "abstained": 0},
        },
        {"decision": "admit", "motivation": "x", "extra": 1},
    ):
        with pytest.raises(ValueError):
            DecisionIn.model_validate(bad)


def _checks(**overrides: object) -> dict[str, service.Check]:
    options: dict[str, object] = {
        "province": "FI",
        "municipality": "Empoli",
        "operating_units": [],
        "vat_number": "00743110157",
        "member_status": None,
        "member_name": None,
        "operates_in_tuscany": True,
        "operates_in_technology_transfer": True,
        "offer": "testing lab",
    }
    options.update(overrides)
    checks = service.eligibility_checks(**options)  # type: ignore[arg-type]
    return {c.check: c for c in checks}


def test_an_eligible_candidate_passes_every_check_with_a_sentence() -> None:
    checks = _checks()
    assert list(checks) == ["seat_in_tuscany", "valid_vat", "not_already_member", "declarations"]
    assert all(c.passed for c in checks.values())
    assert all(c.detail.endswith(".") and len(c.detail) > 20 for c in checks.values())
    assert "Empoli" in checks["seat_in_tuscany"].detail


def test_a_seat_outside_tuscany_fails_unless_an_operating_unit_is_tuscan() -> None:
    outside = _checks(province="BO", municipality="Bologna")["seat_in_tuscany"]
    assert not outside.passed and "outside Tuscany" in outside.detail
    with_unit = _checks(province="BO", municipality="Bologna", operating_units=[("PO", "Prato")])[
        "seat_in_tuscany"
    ]
    assert with_unit.passed and "Prato" in with_unit.detail


def test_vat_and_membership_checks() -> None:
    missing = _checks(vat_number=None)
    assert not missing["valid_vat"].passed and not missing["not_already_member"].passed
    assert not _checks(vat_number="00743110158")["valid_vat"].passed
    member = _checks(member_status="active", member_name="ACME")["not_already_member"]
    assert not member.passed and "ACME is already a member" in member.detail
    former = _checks(member_status="withdrawn", member_name="ACME")["not_already_member"]
    assert former.passed and "adhere again" in former.detail


def test_missing_declarations_are_named() -> None:
    check = _checks(operates_in_technology_transfer=False, offer="  ")["declarations"]
    assert not check.passed
    assert "technology-transfer chain" in check.detail and "offers" in check.detail
    assert "Tuscany" not in check.detail


def test_terms_last_three_years_in_the_italian_calendar() -> None:
    assert service.term_end_for(date(2025, 12, 9)) == date(2028, 12, 9)
    assert service.term_end_for(date(2024, 2, 29)) == date(2027, 2, 28)
    # 23:30 UTC on 9 December is already 10 December in Italy.
    assert service.in_force(date(2028, 12, 9), datetime(2028, 12, 9, 22, 59, tzinfo=UTC))
    assert not service.in_force(date(2028, 12, 9), datetime(2028, 12, 9, 23, 30, tzinfo=UTC))


def test_if_match_is_required_and_compared_strongly() -> None:
    with pytest.raises(PreconditionRequired):
        service.check_if_match(None, '"1.0"', "it")
    with pytest.raises(PreconditionFailed):
        service.check_if_match('"1.1"', '"2.1"', "it")
    with pytest.raises(PreconditionFailed):
        service.check_if_match('W/"2.1"', '"2.1"', "it")
    service.check_if_match('"2.1"', '"2.1"', "it")
    service.check_if_match('"0.0", "2.1"', '"2.1"', "it")
    service.check_if_match("*", '"2.1"', "it")


def test_cursors_round_trip_and_garbage_is_a_422() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert service.decode_cursor(service.encode_cursor(moment, "abc")) == (moment, "abc")
    assert service.decode_cursor(service.encode_cursor(moment, 7), int) == (moment, 7)
    for garbage in ("", "nope", "e30", service.encode_cursor(moment, 7)):
        with pytest.raises(InvalidInput):
            service.decode_cursor(garbage)
