"""Events for the reporting tests: the builders of `services.reporting.synthetic`, and a
scenario of two months of activity whose KPIs the tests know."""

from __future__ import annotations

from datetime import date
from typing import Any

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
