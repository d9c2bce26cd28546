"""Handlers of the events the membership service consumes, by publishing service and event type."""

from __future__ import annotations

from kernel.runtime import Subscriptions

SUBSCRIPTIONS: Subscriptions = {}
