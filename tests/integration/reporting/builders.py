"""Events for the reporting tests: the builders of `services.reporting.synthetic`, and a
scenario of two months of activity whose KPIs the tests know."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from kernel.contracts import matching as m
from kernel.events import CloudEvent, EventData
from services.reporting.synthetic import (
    CENTRE_A,
    CENTRE_B,
    LAB_S3,
    SYSTEM_C,
    SYSTEM_M,
    SYSTEM_MS,
    _entry,
    access_approved,
    application_decided,
    at,
    build,
    competence,
    demand,
    duplicate,
    engagement,
    equipment,
    firm,
    initiative,
    initiative_overlap,
    introduction,
    lab,
    lab_tags,
    logged,
    matches,
    member,
    service_offering,
    tags,
    text,
)

__all__ = [
    "CENTRE_A",
    "CENTRE_B",
    "LAB_S3",
    "SYSTEM_C",
    "SYSTEM_M",
    "SYSTEM_MS",
    "_entry",
    "access_approved",
    "application_decided",
    "at",
    "build",
    "competence",
    "demand",
    "duplicate",
    "engagement",
    "equipment",
    "firm",
    "initiative",
    "initiative_overlap",
    "introduction",
    "lab",
    "lab_tags",
    "logged",
    "matches",
    "member",
    "service_offering",
    "tags",
    "text",
]


# -- a scenario of two months --------------------------------------------------------------

A, B = CENTRE_A, CENTRE_B


def scenario() -> list[Any]:
    small, large, micro = firm("f1", "small"), firm("f2", "large"), firm("f3", "micro")
    return [
        lab("l1", A, at(2026, 1, 10), s3=["s3-a"]),
        lab("l2", B, at(2026, 1, 11), province="PI"),
        equipment("e1", "l1", A, at(2026, 1, 12), shareable=True),
        equipment("e2", "l2", B, at(2026, 1, 12), shareable=False),
        competence("c1", "l1", A, at(2026, 1, 13)),
        service_offering("s1", "l2", B, at(2026, 1, 14)),
        # February: e2 becomes shareable, l2 is withdrawn.
        equipment("e2", "l2", B, at(2026, 2, 2), shareable=True, action="updated", version=2),
        lab("l2", B, at(2026, 2, 3), action="withdrawn", version=2, province="PI"),
        duplicate("p1", at(2026, 1, 20)),
        duplicate("p1", at(2026, 2, 20), resolved=True),
        member(A, at(2026, 1, 1)),
        member(B, at(2026, 1, 1), province="PI"),
        member(B, at(2026, 2, 5), action="suspended", version=2, province="PI"),
        application_decided("a1", at(2026, 1, 1), at(2026, 1, 11)),
        application_decided("a2", at(2026, 1, 1), at(2026, 1, 21)),
        demand("d1", small, at(2026, 1, 15)),
        demand("d2", large, at(2026, 1, 16)),
        demand("d3", micro, at(2026, 1, 17)),
        matches("d1", small, at(2026, 1, 15, 11)),
        matches("d3", micro, at(2026, 1, 17, 11)),
        introduction("i1", "d1", small, at(2026, 1, 15, 14)),
        introduction("i2", "d2", large, at(2026, 1, 17, 10)),
        introduction("i3", "d1", small, at(2026, 1, 18), centre=B, lab_id="l2"),
        introduction("i1", "d1", small, at(2026, 1, 15, 14), action="accepted"),
        introduction("i2", "d2", large, at(2026, 1, 17, 10), action="declined"),
        engagement("g1", "d1", small, at(2026, 1, 20), centres=(A, B)),
        engagement("g2", "d2", large, at(2026, 1, 21), kind="service"),
        engagement(
            "g1",
            "d1",
            small,
            at(2026, 1, 20),
            centres=(A, B),
            closed=at(2026, 2, 10),
            value="12500.50",
            satisfaction=5,
        ),
        engagement(
            "g2",
            "d2",
            large,
            at(2026, 1, 21),
            kind="service",
            closed=at(2026, 2, 11),
            value="2000.00",
            satisfaction=2,
        ),
        access_approved("r1", at(2026, 2, 12), 6.5),
    ]


# -- a quarter of initiatives --------------------------------------------------------------

CENTRE_C = "00000000-0000-0000-0000-00000000000c"


def initiatives_scenario() -> list[Any]:
    """2026-Q3: A and B register a joint training course (ESF+) and a Horizon Europe project,
    B confirms both, the project's public funding is corrected; C registers a PNRR project that
    overlaps A's (resolved as to coordinate) and an open lab day whose attendance is corrected;
    the course is held and closed in September, the open lab day closed in October."""
    C = CENTRE_C
    course: dict[str, Any] = dict(
        kind="training",
        programme="esf_tuscany",
        budget="20000.00",
        funding="15000.00",
        start=date(2026, 9, 15),
        end=date(2026, 9, 17),
        times=("09:00", "13:00"),
        province="PI",
        s3=["s3-b"],
    )
    project: dict[str, Any] = dict(budget="1000000.00", funding="800000.00")
    lab_day: dict[str, Any] = dict(
        kind="dissemination_event", programme="self_funded", start=date(2026, 9, 5), province="LU"
    )
    proposed, confirmed = {B: "proposed"}, {B: "confirmed"}
    return [
        initiative("j1", A, at(2026, 7, 1), status="planned", partners=proposed, **course),
        initiative("h1", A, at(2026, 7, 2), partners=proposed, **project),
        initiative(
            "j1",
            A,
            at(2026, 7, 10),
            action="participation_confirmed",
            version=2,
            status="planned",
            partners=confirmed,
            confirmed_by=B,
            **course,
        ),
        initiative(
            "h1",
            A,
            at(2026, 7, 11),
            action="participation_confirmed",
            version=2,
            partners=confirmed,
            confirmed_by=B,
            **project,
        ),
        initiative(
            "h1",
            A,
            at(2026, 8, 5),
            action="updated",
            version=3,
            partners=confirmed,
            **(project | {"funding": "850000.00"}),
        ),
        initiative(
            "i3",
            C,
            at(2026, 8, 10),
            kind="innovation_project",
            programme="pnrr",
            budget="400000.00",
            funding="300000.00",
        ),
        initiative_overlap(
            "o1",
            at(2026, 8, 10),
            a=("h1", A, "research_project"),
            b=("i3", C, "innovation_project"),
        ),
        initiative("d1", C, at(2026, 8, 20), status="planned", **lab_day),
        initiative(
            "d1",
            C,
            at(2026, 9, 6),
            action="event_held",
            version=2,
            status="planned",
            registered=100,
            attending=80,
            **lab_day,
        ),
        initiative(
            "d1",
            C,
            at(2026, 9, 8),
            action="event_held",
            version=3,
            status="planned",
            registered=100,
            attending=85,
            **lab_day,
        ),
        initiative(
            "j1", A, at(2026, 9, 15), action="updated", version=3, partners=confirmed, **course
        ),
        initiative(
            "j1",
            A,
            at(2026, 9, 18),
            action="event_held",
            version=4,
            partners=confirmed,
            registered=30,
            attending=25,
            **course,
        ),
        initiative(
            "j1",
            A,
            at(2026, 9, 20),
            action="closed",
            version=5,
            status="closed",
            partners=confirmed,
            registered=30,
            attending=25,
            **course,
        ),
        initiative_overlap(
            "o1",
            at(2026, 9, 25),
            a=("h1", A, "research_project"),
            b=("i3", C, "innovation_project"),
            resolution="to_coordinate",
        ),
        initiative(
            "d1",
            C,
            at(2026, 10, 1),
            action="closed",
            version=4,
            status="closed",
            registered=100,
            attending=85,
            **lab_day,
        ),
    ]


# -- challenges (issue #13) ----------------------------------------------------------------


def team_firm(profile: m.FirmProfile, *needs: int) -> m.ChallengeTeamMember:
    return m.ChallengeTeamMember(kind="firm", firm=profile, need_indexes=list(needs))


def team_lab(lab_id: str, centre: str, *needs: int) -> m.ChallengeTeamMember:
    return m.ChallengeTeamMember(
        kind="lab", lab_id=lab_id, centre_id=centre, need_indexes=list(needs)
    )


def challenge(
    challenge_id: str,
    publisher: m.FirmProfile,
    when: datetime,
    *,
    action: str = "published",
    version: int = 1,
    published: datetime | None = None,
    published_by: m.Actor | None = None,
    team: Sequence[m.ChallengeTeamMember] = (),
    expressions: int = 0,
    value: str = "50000.00",
    expression_id: str = "x1",
    engagements: Sequence[str] = (),
    team_id: str = "t1",
    introductions: Sequence[str] = (),
) -> CloudEvent[Any]:
    """A challenge event (`action`: published, team_invited, closed, awarded) with the whole
    state; its backing demand is `d-<challenge_id>` (see `backing_demand`)."""
    published = published or when
    status = {"published": "open", "team_invited": "evaluating", "closed": "closed"}
    fields: dict[str, Any] = dict(
        challenge_id=challenge_id,
        demand_id=f"d-{challenge_id}",
        publisher=publisher,
        published_by=published_by or m.Actor(role="firm", org_id=publisher.firm_id),
        title=f"Challenge {challenge_id}",
        needs=[
            m.Need(text="lightweight alloy", tags={"s3": ["s3-a"]}),
            m.Need(text="vision software", tags={"s3": ["s3-b"]}),
        ],
        needs_count=2,
        sector=publisher.ateco_code,
        trl_expected=6,
        budget_eur="100000.00",
        prize_eur=None,
        deadline=published + timedelta(days=14),
        visibility="public",
        status=status.get(action, "awarded"),
        published_at=published,
    )
    actor = m.Actor(role="firm", org_id=publisher.firm_id)
    if action == "team_invited":
        event: EventData = m.ChallengeTeamInvited(
            **fields,
            team_id=team_id,
            team=list(team),
            introduction_ids=list(introductions),
            invited_at=when,
            invited_by=actor,
        )
    elif action == "closed":
        event = m.ChallengeClosed(
            **fields,
            expressions_count=expressions,
            reason="no answer fits",
            closed_at=when,
            closed_by=actor,
        )
    elif action == "awarded":
        event = m.ChallengeAwarded(
            **fields,
            expression_id=expression_id,
            team=list(team),
            value_eur=value,
            engagement_ids=list(engagements),
            expressions_count=expressions,
            awarded_at=when,
            awarded_by=actor,
        )
    else:
        event = m.ChallengePublished(**fields)
    return build(event, challenge_id, when, version)


def backing_demand(challenge_id: str, publisher: m.FirmProfile, when: datetime) -> CloudEvent[Any]:
    """The publisher's demand that backs a challenge."""
    return demand(f"d-{challenge_id}", publisher, when, challenge_id=challenge_id)


def expression(
    expression_id: str,
    challenge_id: str,
    publisher: m.FirmProfile,
    when: datetime,
    *,
    team: Sequence[m.ChallengeTeamMember],
    respondent: tuple[str, str] | None = None,
) -> CloudEvent[Any]:
    """An expression of interest; `respondent` (kind, id) defaults to the team's first firm."""
    if respondent is None:
        first = next(member.firm for member in team if member.firm is not None)
        respondent = ("firm", first.firm_id)
    kind, org_id = respondent
    return build(
        m.ExpressionSubmitted(
            expression_id=expression_id,
            challenge_id=challenge_id,
            publisher=publisher,
            respondent_kind=kind,
            respondent_org_id=org_id,
            team=list(team),
            sme_count=sum(1 for member in team if member.firm is not None and member.firm.sme),
            lab_count=sum(1 for member in team if member.kind == "lab"),
            submitted_at=when,
            submitted_by=m.Actor(role=kind, org_id=org_id),
        ),
        expression_id,
        when,
    )


BIG = firm("f-big", "large", province="LI", ateco="24.10.00")
SME_1 = firm("f-s1", "small", province="PI", ateco="25.62.00")
SME_2 = firm("f-s2", "micro", province="LU", ateco="62.10.00")


def challenges_scenario() -> list[Any]:
    """2026-03: BIG (Livorno, steel) publishes ch1 and ch3, centre A publishes ch2 for it; four
    expressions: SME_1 with lab l1 of A (ch1), SME_2 alone (ch1), centre B with its lab l2 and
    SME_2 (ch2), SME_2 with SME_1 (ch3); ch1's backing demand gets a ranking, and BIG invites
    SME_1's team (an introduction to l1, accepted). Besides, SME_2 submits a demand of its own,
    matched and introduced. 2026-04: ch1 is awarded to SME_1's team (80,000 EUR; engagements
    with l1 and with SME_1), ch3 to SME_2's (20,000 EUR), ch2 closed without award."""
    s1_team = [team_firm(SME_1, 0), team_lab("l1", A, 1)]
    s2_team = [team_firm(SME_2, 0, 1)]
    b_team = [team_lab("l2", B, 0), team_firm(SME_2, 1)]
    joint = [team_firm(SME_1, 0), team_firm(SME_2, 1)]
    for_big = m.Actor(role="centre", org_id=A)
    ch1, ch2, ch3 = at(2026, 3, 2), at(2026, 3, 3), at(2026, 3, 4)
    return [
        backing_demand("ch1", BIG, ch1),
        challenge("ch1", BIG, ch1),
        backing_demand("ch2", BIG, ch2),
        challenge("ch2", BIG, ch2, published_by=for_big),
        backing_demand("ch3", BIG, ch3),
        challenge("ch3", BIG, ch3),
        matches("d-ch1", BIG, at(2026, 3, 5)),
        demand("d-own", SME_2, at(2026, 3, 6)),
        matches("d-own", SME_2, at(2026, 3, 6, 11)),
        introduction("i-own", "d-own", SME_2, at(2026, 3, 7)),
        expression("x1", "ch1", BIG, at(2026, 3, 10), team=s1_team),
        expression("x2", "ch1", BIG, at(2026, 3, 11), team=s2_team),
        expression("x3", "ch2", BIG, at(2026, 3, 12), team=b_team, respondent=("centre", B)),
        expression("x4", "ch3", BIG, at(2026, 3, 15), team=joint, respondent=("firm", "f-s2")),
        challenge(
            "ch1",
            BIG,
            at(2026, 3, 20),
            action="team_invited",
            version=2,
            published=ch1,
            team=s1_team,
            introductions=["i-ch1"],
        ),
        introduction("i-ch1", "d-ch1", BIG, at(2026, 3, 20)),
        introduction("i-ch1", "d-ch1", BIG, at(2026, 3, 20), action="accepted"),
        challenge(
            "ch1",
            BIG,
            at(2026, 4, 2),
            action="awarded",
            version=3,
            published=ch1,
            team=s1_team,
            expressions=2,
            value="80000.00",
            engagements=["g-ch1-l1", "g-ch1-s1"],
        ),
        engagement("g-ch1-l1", "d-ch1", BIG, at(2026, 4, 2), challenge_id="ch1"),
        engagement(
            "g-ch1-s1", "d-ch1", BIG, at(2026, 4, 2), centres=(), challenge_id="ch1", supplier=SME_1
        ),
        challenge(
            "ch2",
            BIG,
            at(2026, 4, 5),
            action="closed",
            version=2,
            published=ch2,
            published_by=for_big,
            expressions=1,
        ),
        challenge(
            "ch3",
            BIG,
            at(2026, 4, 10),
            action="awarded",
            version=2,
            published=ch3,
            team=joint,
            expressions=1,
            value="20000.00",
            expression_id="x4",
        ),
    ]
