"""Events for the reporting tests: the builders of `services.reporting.synthetic`, and a
scenario of two months of activity whose KPIs the tests know."""

from __future__ import annotations

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
