"""Handlers of the events the reporting service consumes, by publishing service and event type."""

from __future__ import annotations

from kernel.runtime import Subscriptions

SUBSCRIPTIONS: Subscriptions = {}
