"""Per-request context carried into logs and into the events a request causes."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("clock_request_id", default=None)
traceparent_var: ContextVar[str | None] = ContextVar("clock_traceparent", default=None)
