"""Periodic tasks among replicas: the report of a closed period is issued once, and a
membership whose term has ended expires once, however many replicas race for it.

The report: with `CLOCK_REPORTING_AUTO_ISSUE=month`, every reporting replica wakes up to issue
the previous month's report (closed long before the round), and the round kills the lease
holder. The expiries: the terms of a few memberships are moved to yesterday in the database (as
time passing would), and every membership replica's expiry loop (and every read of a member)
races to expire them.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import text

from clock_cli.chaos.observe import Databases

EXPIRED_EVENT = "clock.membership.member.expired.v1"
AUTO_ISSUE = "month"


def previous_month(today: date) -> str:
    first = today.replace(day=1)
    last = first - timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


@dataclass
class Expiries:
    organisations: list[str]
    seconds: float | None
    """Until every one of them was expired; None when some were not in time."""


def end_terms(databases: Databases, *, count: int, today: date) -> list[str]:
    """Move the term of `count` active memberships admitted by the workload to yesterday."""
    rows = databases.rows(
        "membership",
        "SELECT organisation_id FROM memberships WHERE status = 'active' "
        "AND application_id IS NOT NULL ORDER BY organisation_id",
    )
    chosen = [str(r[0]) for r in rows[:count]]
    with databases.engine("membership", write=True).begin() as connection:
        for organisation in chosen:
            connection.execute(
                text("UPDATE memberships SET term_end = :day WHERE organisation_id = :id"),
                {"day": today - timedelta(days=1), "id": organisation},
            )
    return chosen


def wait_expired(databases: Databases, organisations: list[str], *, timeout: float) -> Expiries:
    started = time.monotonic()
    while True:
        statuses = {
            str(o): s
            for o, s in databases.rows(
                "membership", "SELECT organisation_id, status FROM memberships"
            )
        }
        if all(statuses.get(o) == "expired" for o in organisations):
            return Expiries(organisations, time.monotonic() - started)
        if time.monotonic() - started > timeout:
            return Expiries(organisations, None)
        time.sleep(0.2)


def check_expiries(databases: Databases, expiries: Expiries) -> list[str]:
    """Each membership expired once: one transition, one event."""
    problems = []
    if expiries.seconds is None:
        problems.append(f"memberships not expired in time: {expiries.organisations}")
    transitions = Counter(
        str(r[0])
        for r in databases.rows(
            "membership",
            "SELECT organisation_id FROM membership_transitions WHERE action = 'expiry'",
        )
    )
    events = Counter(
        str(r[0])
        for r in databases.rows(
            "membership",
            "SELECT aggregate_id FROM outbox WHERE event_type = :type",
            type=EXPIRED_EVENT,
        )
    )
    for organisation in expiries.organisations:
        if transitions[organisation] != 1 or events[organisation] != 1:
            problems.append(
                f"membership {organisation} expired {transitions[organisation]} times "
                f"with {events[organisation]} events (once each expected)"
            )
    return problems


def check_reports(databases: Databases, *, today: date) -> list[str]:
    """The previous month's report issued once, automatically; no (period, version) twice."""
    rows = databases.rows("reporting", "SELECT period, version FROM reports")
    issued = Counter((str(p), int(v)) for p, v in rows)
    problems = [f"report {p} version {v} issued {n} times" for (p, v), n in issued.items() if n > 1]
    period = previous_month(today)
    versions = sorted(v for p, v in issued if p == period)
    if versions != [1]:
        problems.append(f"the report of {period} at period close: versions {versions}, not [1]")
    return problems
