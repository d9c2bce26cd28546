"""Handlers of the events the catalog service consumes, by publishing service and event type."""

from __future__ import annotations

from kernel.runtime import Subscriptions

SUBSCRIPTIONS: Subscriptions = {}
