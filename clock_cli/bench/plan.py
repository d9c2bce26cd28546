"""How long and how much each benchmark runs: the full run and the CI smoke run (`--quick`)."""

from __future__ import annotations

from dataclasses import dataclass

SECTIONS = ("gateway", "reads", "matching", "events", "relay", "memory", "reporting")


@dataclass(frozen=True)
class Plan:
    entries: int = 100_000
    """Synthetic catalogue entries prefilled in the matching database."""
    warmup_seconds: float = 2.0
    closed_seconds: float = 10.0
    closed_workers: int = 3
    """Per URL, in the closed-loop throughput runs (three URLs: nine connections)."""
    paced_seconds: float = 10.0
    paced_rate: float = 200.0
    read_seconds: float = 60.0
    read_rate: float = 1000.0
    read_workers: int = 50
    match_requests: int = 300
    demands: int = 20
    matchable_samples: int = 20
    event_seconds: float = 30.0
    event_rate: float = 200.0
    relay_events: int = 20_000
    settle_seconds: float = 120.0
    """At most this long for consumers to catch up before their figures are read."""


FULL = Plan()

QUICK = Plan(
    entries=1_000,
    warmup_seconds=0.5,
    closed_seconds=1.0,
    closed_workers=2,
    paced_seconds=1.0,
    paced_rate=50.0,
    read_seconds=2.0,
    read_rate=100.0,
    read_workers=10,
    match_requests=10,
    demands=3,
    matchable_samples=3,
    event_seconds=2.0,
    event_rate=50.0,
    relay_events=1_000,
    settle_seconds=30.0,
)
