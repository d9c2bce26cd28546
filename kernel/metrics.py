"""Prometheus metrics of every process (one registry per process)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

HTTP_REQUESTS = Counter(
    "clock_http_requests_total", "HTTP requests handled", ["app", "method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "clock_http_request_duration_seconds", "HTTP request duration", ["app", "method", "route"]
)
OUTBOX_PUBLISHED = Counter(
    "clock_outbox_published_total", "Events published from the outbox", ["service"]
)
OUTBOX_ERRORS = Counter("clock_outbox_errors_total", "Outbox relay failures", ["service"])
EVENTS_CONSUMED = Counter(
    "clock_events_consumed_total", "Events consumed", ["consumer", "stream", "outcome"]
)
DEAD_LETTERS = Counter("clock_dead_letters_total", "Messages dead-lettered", ["consumer", "stream"])


def render() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
